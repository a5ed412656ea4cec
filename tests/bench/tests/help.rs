//! The benchmark binaries say what they take: `--help` prints their flags and exits 0, and an
//! unknown flag fails naming itself and the flags (it used to fail on `--help` too, with a
//! backtrace).

use std::process::Command;

fn run(program: &str, flag: &str) -> (bool, String, String) {
    let out = Command::new(program).arg(flag).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_prints_the_flags_and_an_unknown_flag_names_them() {
    let binaries = [
        (env!("CARGO_BIN_EXE_cost-model"), "--orders N"),
        (env!("CARGO_BIN_EXE_lambda-cold-start"), "--repeats N"),
        (env!("CARGO_BIN_EXE_start-batch-bench"), "--round-trip-ms N"),
        (env!("CARGO_BIN_EXE_project-batch-bench"), "--runs N"),
    ];
    for (program, a_flag) in binaries {
        for help in ["--help", "-h"] {
            let (ok, stdout, _) = run(program, help);
            assert!(ok, "{program} {help} failed");
            assert!(stdout.contains(a_flag), "{program} {help}: {stdout}");
        }
        let (ok, stdout, stderr) = run(program, "--no-such-flag");
        assert!(!ok, "{program} accepted an unknown flag");
        assert!(stdout.is_empty(), "{program} printed: {stdout}");
        assert!(
            stderr.contains("unknown flag --no-such-flag") && stderr.contains(a_flag),
            "{program}: {stderr}"
        );
    }
}
