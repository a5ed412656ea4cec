//! `start-batch-bench` runs whole on the emulator: both ways of starting a batch start one
//! execution per message (the bench checks it against Step Functions' own list and fails
//! otherwise), and it prints its table. Its timings are the bench's to report, not this test's.

use std::process::Command;

#[test]
fn the_start_batch_bench_starts_one_execution_per_message_and_prints_its_table() {
    let Some(endpoint) = order_testkit::support::endpoint("start_batch_bench") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_start-batch-bench"))
        .args(["--emulator", &endpoint, "--batch", "3", "--batches", "2"])
        .args(["--round-trip-ms", "5"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Two ways × (two batches + the warm-up) × three messages.
    assert!(
        stdout.contains("18 executions started, one per message."),
        "{stdout}"
    );
    for row in ["| one after another (baseline) |", "| together (shipped) |"] {
        assert!(stdout.contains(row), "no row {row}: {stdout}");
    }
}
