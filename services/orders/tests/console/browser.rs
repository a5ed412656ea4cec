//! The console page in a real browser: Debian's `chromium`, headless, driven through
//! `chromium-driver` by `scripts/test_console.py` (Selenium, from `.venv-browser`), against an
//! embedded server with two completed orders, a failed one and a dead-lettered one. The script
//! signs in from the banner-style link (`#token=`), checks the counts, a chart with data
//! points, the latest emails and an order's timeline, saves the screenshot the README shows
//! (`docs/console.png`), and clicks the dead letter's Redrive button until the list is empty;
//! this test then checks the order went through.
//!
//! Ignored by default (it needs the browser); `scripts/test.sh` installs what it needs and runs
//! it with `--ignored`. `CONSOLE_PYTHON` and `CONSOLE_SCREENSHOT` override the interpreter and
//! the screenshot's path.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use order_testkit::server::{get_json, token, wait_terminal};
use serde_json::json;

use super::{clients, embedded_with_a_dead_letter, eventually, place_finished};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and .venv-browser: scripts/test.sh runs it"]
async fn the_console_page_renders_and_redrives_in_headless_chromium() {
    let root = repo_root();
    let python = std::env::var_os("CONSOLE_PYTHON")
        .map_or_else(|| root.join(".venv-browser/bin/python"), PathBuf::from);
    let screenshot = std::env::var_os("CONSOLE_SCREENSHOT")
        .map_or_else(|| root.join("docs/console.png"), PathBuf::from);
    for needed in [
        python.clone(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromedriver".into(),
    ] {
        assert!(
            needed.exists(),
            "{} is missing (scripts/test.sh installs it)",
            needed.display()
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let (server, dead) = embedded_with_a_dead_letter(dir.path()).await;
    let data = dir.path().join("data");
    let (admin, customer) = clients(&data);
    let ids = place_finished(&server, &customer).await;
    eventually(&admin, &server.url("/admin/orders/counts"), |v| {
        v["total"] == 4
    })
    .await;

    let link = format!(
        "{}#token={}",
        server.url("/console"),
        token(&data, "console-operator", true)
    );
    let script = root.join("scripts/test_console.py");
    let ran = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("CONSOLE_URL", link)
            .env("CONSOLE_COMPLETED", &ids[0])
            .env("CONSOLE_EXPECT", "COMPLETED=2,FAILED=1,PLACED=1")
            .env("CONSOLE_SCREENSHOT", &screenshot)
            .output()
    })
    .await
    .unwrap()
    .expect("the browser test script runs");
    assert!(
        ran.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );

    // The button's redrive reached the queue: the order went through, nothing is left.
    let view = wait_terminal(
        &admin,
        &server.base,
        &dead.to_string(),
        Duration::from_mins(2),
    )
    .await;
    assert_eq!(view["status"], "COMPLETED", "{view}");
    let empty = get_json(&admin, &server.url("/admin/dead-letters")).await;
    assert_eq!(empty, json!({"deadLetters": []}));
}
