//! `project-batch-bench` runs whole on the emulator: both ways of applying a batch leave every
//! order's status view at its second event (the bench reads each back and fails otherwise),
//! and it prints its table. Its timings are the bench's to report, not this test's.

use std::process::Command;

#[test]
fn the_project_batch_bench_projects_every_order_and_prints_its_table() {
    let Some(endpoint) = order_testkit::support::endpoint("project_batch_bench") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_project-batch-bench"))
        .args(["--emulator", &endpoint, "--runs", "3", "--batches", "2"])
        .args(["--round-trip-ms", "5"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Two ways × (two batches + the warm-up) × three orders.
    assert!(
        stdout.contains("18 orders projected, each view at its second event."),
        "{stdout}"
    );
    for row in ["| one after another (baseline) |", "| together, up to "] {
        assert!(stdout.contains(row), "no row {row}: {stdout}");
    }
}
