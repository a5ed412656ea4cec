//! What a process has spent, from Linux's `/proc`: its CPU time split into user and kernel
//! (system) time, by kind of thread, and its read and write system calls with their bytes.
//! `pipeline-bench` reads the server's at the end of a loop, so a table says not only how much
//! CPU an order took but where: the HTTP, workflow and read work on tokio's threads, the SQLite
//! writer's statements and commits, the checkpointer's copies and syncs, and how much of each
//! was the kernel's (on a two-core VM the WAL's writes and syncs cost as much kernel time as
//! the rest of the writer's work).
//!
//! Every figure is cumulative over the process's life, its start included, as the CPU figure
//! it splits.

// Per-order figures are float arithmetic on tick, call and byte counts far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;

/// The thread kinds named apart, each with the starts of its threads' names (`/proc/…/comm`
/// keeps 15 bytes of a name: the server's `sqlite-checkpoint` reads `sqlite-checkpoi`). Tokio
/// names its workers and its blocking pool alike (`tokio-rt-worker`; `tokio-runtime-worker` in
/// older releases): the SQLite readers' queries run on that pool, so they count with the workers.
const KINDS: [(&[&str], &str); 3] = [
    (&["tokio-rt-worker", "tokio-runtime-w"], "tokio threads"),
    (&["sqlite-writer"], "SQLite writer"),
    (&["sqlite-checkpoi"], "checkpointer"),
];

/// The rest of the process's time: its main thread, threads of other names, and threads that
/// had exited (their time stays in the process's total but leaves `/proc/PID/task`).
const OTHER: &str = "other";

/// CPU time of one kind of thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Threads {
    pub kind: &'static str,
    pub user: Duration,
    pub system: Duration,
}

/// Read and write system calls and their bytes (`/proc/PID/io`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Io {
    /// `read`, `pread64`, `recvfrom`… calls (`syscr`) and the bytes they returned (`rchar`).
    pub read_calls: u64,
    pub read_bytes: u64,
    /// `write`, `pwrite64`, `writev`… calls (`syscw`) and the bytes passed (`wchar`), sockets
    /// included.
    pub write_calls: u64,
    pub written_bytes: u64,
    /// Bytes the process caused to be sent to storage (`write_bytes`): written-back pages of
    /// its files, whoever's sync or the kernel's flusher sent them.
    pub disk_written_bytes: u64,
}

/// A process's CPU time, by kind of thread, and its I/O.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub user: Duration,
    pub system: Duration,
    /// [`KINDS`] in order, then [`OTHER`].
    pub threads: Vec<Threads>,
    /// `None` where `/proc/PID/io` cannot be read.
    pub io: Option<Io>,
}

/// Clock ticks per second, the unit of `/proc/…/stat` times (`getconf CLK_TCK`, 100 when that
/// cannot be run).
fn ticks_per_s() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

fn ticks(n: u64) -> Duration {
    Duration::from_secs_f64(n as f64 / ticks_per_s() as f64)
}

/// `(utime, stime)` in clock ticks from a `/proc/…/stat` line: fields 14 and 15, counted after
/// the command name, which is in parentheses and may hold spaces or parentheses itself.
pub fn stat_ticks(stat: &str) -> Option<(u64, u64)> {
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// The counters of a `/proc/PID/io` file.
pub fn io_counters(text: &str) -> Option<Io> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some(Io {
        read_calls: field("syscr")?,
        read_bytes: field("rchar")?,
        write_calls: field("syscw")?,
        written_bytes: field("wchar")?,
        disk_written_bytes: field("write_bytes")?,
    })
}

/// The kind a thread's name belongs to, [`OTHER`] when none.
pub fn kind_of(comm: &str) -> &'static str {
    let comm = comm.trim_end();
    KINDS
        .iter()
        .find(|(prefixes, _)| prefixes.iter().any(|p| comm.starts_with(p)))
        .map_or(OTHER, |&(_, kind)| kind)
}

/// Splits a process's `total` ticks by its threads' `(name, utime, stime)`: one entry per kind
/// in [`KINDS`] order, then [`OTHER`] with whatever the named kinds leave of the total.
pub fn split(total: (u64, u64), threads: &[(String, u64, u64)]) -> Vec<(&'static str, u64, u64)> {
    let mut kinds: Vec<(&'static str, u64, u64)> =
        KINDS.iter().map(|&(_, kind)| (kind, 0, 0)).collect();
    for (comm, user, system) in threads {
        let kind = kind_of(comm);
        if let Some(k) = kinds.iter_mut().find(|k| k.0 == kind) {
            k.1 += user;
            k.2 += system;
        }
    }
    let (named_user, named_system) = kinds.iter().fold((0, 0), |(u, s), k| (u + k.1, s + k.2));
    kinds.push((
        OTHER,
        total.0.saturating_sub(named_user),
        total.1.saturating_sub(named_system),
    ));
    kinds
}

impl Usage {
    /// What `pid` has spent so far (Linux); `None` where `/proc` cannot be read.
    pub fn of(pid: u32) -> Option<Self> {
        let total = stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
        let mut threads = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let path = task.path();
            // A thread that exits between the listing and the reads is left to `other`.
            let (Ok(comm), Ok(stat)) = (
                std::fs::read_to_string(path.join("comm")),
                std::fs::read_to_string(path.join("stat")),
            ) else {
                continue;
            };
            if let Some((user, system)) = stat_ticks(&stat) {
                threads.push((comm, user, system));
            }
        }
        let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
            .ok()
            .and_then(|t| io_counters(&t));
        Some(Self {
            user: ticks(total.0),
            system: ticks(total.1),
            threads: split(total, &threads)
                .into_iter()
                .map(|(kind, user, system)| Threads {
                    kind,
                    user: ticks(user),
                    system: ticks(system),
                })
                .collect(),
            io,
        })
    }

    /// User plus system time of `pid` so far, not split by thread (`/proc/PID/stat` alone).
    pub fn cpu_of(pid: u32) -> Option<Duration> {
        let (user, system) =
            stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
        Some(ticks(user + system))
    }

    /// User plus system time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    /// Every figure divided by `orders`: µs of CPU, calls, and KiB.
    pub fn per_order(&self, orders: usize) -> PerOrder {
        let n = orders.max(1) as f64;
        let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
        PerOrder {
            user_us_per_order: us(self.user),
            system_us_per_order: us(self.system),
            threads: self
                .threads
                .iter()
                .map(|t| ThreadsPerOrder {
                    kind: t.kind,
                    user_us_per_order: us(t.user),
                    system_us_per_order: us(t.system),
                })
                .collect(),
            io: self.io.map(|io| IoPerOrder {
                read_calls_per_order: io.read_calls as f64 / n,
                read_kib_per_order: io.read_bytes as f64 / 1024.0 / n,
                write_calls_per_order: io.write_calls as f64 / n,
                written_kib_per_order: io.written_bytes as f64 / 1024.0 / n,
                disk_written_kib_per_order: io.disk_written_bytes as f64 / 1024.0 / n,
            }),
        }
    }
}

/// [`Usage`] per order: what `pipeline-bench` prints in its table and writes as its JSON's
/// `server_usage` (the field names are the JSON's keys, which `bench-report` reads).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerOrder {
    pub user_us_per_order: f64,
    pub system_us_per_order: f64,
    pub threads: Vec<ThreadsPerOrder>,
    /// `None` (JSON `null`) where `/proc/PID/io` could not be read.
    pub io: Option<IoPerOrder>,
}

/// One kind of thread's CPU time per order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadsPerOrder {
    pub kind: &'static str,
    pub user_us_per_order: f64,
    pub system_us_per_order: f64,
}

/// [`Io`] per order, the bytes in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IoPerOrder {
    pub read_calls_per_order: f64,
    pub read_kib_per_order: f64,
    pub write_calls_per_order: f64,
    pub written_kib_per_order: f64,
    pub disk_written_kib_per_order: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_lines_times_are_read_after_the_command_name_whatever_it_holds() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime …
        let line = "4242 (tokio) rt (x)) S 1 4242 4242 0 -1 4194560 900 0 3 0 1234 567 0 0 20 0";
        assert_eq!(stat_ticks(line), Some((1234, 567)));
        assert_eq!(stat_ticks("4242 (cut short) S 1 2"), None);
        assert_eq!(stat_ticks("no parentheses"), None);
    }

    #[test]
    fn an_io_file_gives_its_calls_and_bytes() {
        let text = "rchar: 12534\nwchar: 31895\nsyscr: 306\nsyscw: 1528\n\
                    read_bytes: 0\nwrite_bytes: 28644\ncancelled_write_bytes: 4096\n";
        assert_eq!(
            io_counters(text),
            Some(Io {
                read_calls: 306,
                read_bytes: 12534,
                write_calls: 1528,
                written_bytes: 31895,
                disk_written_bytes: 28644,
            })
        );
        // `write_bytes` is not `cancelled_write_bytes`, and a missing counter is no answer.
        assert_eq!(
            io_counters("rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\n"),
            None
        );
    }

    #[test]
    fn threads_are_grouped_by_kind_and_the_rest_of_the_total_is_other() {
        let threads = [
            ("tokio-rt-worker\n".to_owned(), 100, 20),
            ("tokio-runtime-w\n".to_owned(), 90, 25),
            ("sqlite-writer\n".to_owned(), 60, 30),
            ("sqlite-checkpoi\n".to_owned(), 2, 17),
            ("orders\n".to_owned(), 1, 1),
        ];
        // The total holds 5 + 4 ticks of threads that exited.
        let split = split((258, 98), &threads);
        assert_eq!(
            split,
            vec![
                ("tokio threads", 190, 45),
                ("SQLite writer", 60, 30),
                ("checkpointer", 2, 17),
                ("other", 6, 6),
            ]
        );
        assert_eq!(kind_of("sqlite-checkpoint"), "checkpointer");
        assert_eq!(kind_of("tokio-rt-worker"), "tokio threads");
        assert_eq!(kind_of("tokio"), "other");
    }

    #[test]
    fn this_process_can_be_read() {
        // Spend a little CPU so the total is not zero on a 10 ms clock.
        let mut x = 0_u64;
        for i in 0..20_000_000_u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let usage = Usage::of(std::process::id()).expect("/proc is readable on Linux");
        assert!(usage.cpu() > Duration::ZERO, "{usage:?}");
        // The whole process's time alone, read a moment later, is at least what was split.
        let cpu = Usage::cpu_of(std::process::id()).expect("/proc/self/stat is readable");
        assert!(cpu >= usage.cpu(), "{cpu:?} < {usage:?}");
        assert_eq!(usage.threads.len(), KINDS.len() + 1);
        // Reading /proc/PID/stat was a read call before /proc/PID/io was read.
        let io = usage.io.expect("/proc/self/io is readable");
        assert!(io.read_calls > 0 && io.read_bytes > 0, "{io:?}");
        let json = serde_json::to_value(usage.per_order(2)).unwrap();
        assert_eq!(json["threads"][3]["kind"], "other");
        assert!(json["io"]["read_calls_per_order"].as_f64().unwrap() > 0.0);
        let halved = json["user_us_per_order"].as_f64().unwrap();
        assert!((halved - usage.user.as_secs_f64() * 1e6 / 2.0).abs() < 1e-6);
    }
}
