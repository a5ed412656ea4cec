//! `pipeline-bench` says what it takes: `--help` prints its flags and exits 0, and an unknown
//! flag fails naming itself and the flags (it used to fail on `--help` too, with a backtrace).

use std::process::Command;

#[test]
fn pipeline_bench_help_prints_the_flags_and_an_unknown_flag_names_them() {
    let program = env!("CARGO_BIN_EXE_pipeline-bench");
    for help in ["--help", "-h"] {
        let out = Command::new(program).arg(help).output().unwrap();
        assert!(out.status.success(), "{help} failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("--orders N") && stdout.contains("--emulator URL"),
            "{stdout}"
        );
    }
    let out = Command::new(program)
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown flag was accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown flag --no-such-flag") && stderr.contains("--orders N"),
        "{stderr}"
    );
}
