//! The batch benches run whole on the emulator and print their tables: `start-batch-bench`
//! (both ways of starting a batch start one execution per message: it checks Step Functions'
//! own list) and `project-batch-bench` (both ways of applying a batch leave every order's
//! status view at its second event: it reads each back). Either fails otherwise. Their timings
//! are the benches' to report, not these tests'.

use std::process::Command;

/// The bench's output, run small (two batches each way, a 5 ms round trip); `None` without
/// an emulator (a failure under `CI=true`).
fn run(test: &str, program: &str, size: [&str; 2]) -> Option<String> {
    let endpoint = order_testkit::support::endpoint(test)?;
    let out = Command::new(program)
        .args(["--emulator", &endpoint])
        .args(size)
        .args(["--batches", "2", "--round-trip-ms", "5"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("| one after another (baseline) |"),
        "no baseline row: {stdout}"
    );
    Some(stdout)
}

#[test]
fn the_start_batch_bench_starts_one_execution_per_message_and_prints_its_table() {
    let program = env!("CARGO_BIN_EXE_start-batch-bench");
    let Some(stdout) = run("start_batch_bench", program, ["--batch", "3"]) else {
        return;
    };
    // Two ways × (two batches + the warm-up) × three messages.
    assert!(
        stdout.contains("18 executions started, one per message."),
        "{stdout}"
    );
    assert!(stdout.contains("| together (shipped) |"), "{stdout}");
}

#[test]
fn the_project_batch_bench_projects_every_order_and_prints_its_table() {
    let program = env!("CARGO_BIN_EXE_project-batch-bench");
    let Some(stdout) = run("project_batch_bench", program, ["--runs", "3"]) else {
        return;
    };
    // Two ways × (two batches + the warm-up) × three orders.
    assert!(
        stdout.contains("18 orders projected, each view at its second event."),
        "{stdout}"
    );
    assert!(stdout.contains("| together, up to "), "{stdout}");
}
