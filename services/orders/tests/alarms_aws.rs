//! The local alarms of `orders serve --backend aws`, on the emulator: a message in
//! OrdersDeadLetterQueue puts OrdersDeadLetterQueue in ALARM with one message on
//! CriticalAlertsTopic (SNS), and its redrive brings it back to OK with a second one; nothing
//! more while the state holds.

use std::time::{Duration, Instant};

use order_domain::ports::Topic;
use order_testkit::notifier::SnsDeliveries;
use order_testkit::queue::dead_lettered_aws_order;
use order_testkit::server::{Orders, bearer, get_json, token, wait_healthy};

const ALARM: &str = "OrdersDeadLetterQueue";

/// The subjects of what SNS delivered on CriticalAlertsTopic so far about [`ALARM`]. The other
/// alarms' emails are not this test's subject: they watch the pipeline's timing, which a loaded
/// CI machine can move (one run there saw two more alerts than this alarm's two).
async fn alerts(deliveries: &SnsDeliveries) -> Vec<String> {
    let named = format!("\"{ALARM}\"");
    deliveries
        .all()
        .await
        .into_iter()
        .filter(|d| d.topic == Topic::CriticalAlerts)
        .map(|d| d.text.lines().next().unwrap_or_default().to_owned())
        .filter(|subject| subject.contains(&named))
        .collect()
}

/// Waits until `/admin/alarms` shows [`ALARM`] in `state`.
async fn wait_state(client: &reqwest::Client, server: &Orders, state: &str) {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let all = get_json(client, &server.url("/admin/alarms")).await;
        let now = all["alarms"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == ALARM))
            .map(|a| a["state"].clone());
        if now.as_ref().is_some_and(|s| s == state) {
            return;
        }
        assert!(Instant::now() < deadline, "never {state}: {all}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `n` alerts were delivered; returns them.
async fn wait_alerts(deliveries: &SnsDeliveries, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = alerts(deliveries).await;
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_dead_letter_raises_the_alarm_on_sns_once_and_its_redrive_clears_it() {
    let Some(env) = order_testkit::support::emulator(
        "an_sqs_dead_letter_raises_the_alarm_on_sns_once_and_its_redrive_clears_it",
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]"#,
    )
    .unwrap();
    let r = &env.resources;
    let deliveries = SnsDeliveries::subscribe(&env).await;
    let _order = dead_lettered_aws_order(&env).await;

    let vars = r.env_pairs();
    let serve_env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let extra = [
        "--backend",
        "aws",
        "--redrive-after-secs",
        "3600",
        "--monitor-period",
        "0.1",
        "--alarm-time-scale",
        "0.01",
    ];
    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed,
        &dir.path().join("serve.log"),
        &extra,
        &serve_env,
    );
    let admin = bearer(reqwest::Client::builder(), &token(&data, "ops-1", true))
        .build()
        .unwrap();
    wait_healthy(&admin, &server.base, Duration::from_mins(2)).await;
    wait_state(&admin, &server, "ALARM").await;
    let got = wait_alerts(&deliveries, 1).await;
    assert!(
        got[0].starts_with(&format!("ALARM: \"{ALARM}\"")),
        "{got:?}"
    );

    let redrive = std::process::Command::new(env!("CARGO_BIN_EXE_orders"))
        .args([
            "dlq",
            "redrive",
            "--all",
            "--backend",
            "aws",
            "--source",
            "orders",
        ])
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(redrive.status.success(), "{redrive:?}");
    wait_state(&admin, &server, "OK").await;
    let got = wait_alerts(&deliveries, 2).await;
    assert!(
        got[1].starts_with(&format!("OK: \"{ALARM}\" (was ALARM)")),
        "{got:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = alerts(&deliveries).await;
    assert_eq!(all.len(), 2, "nothing while OK: {all:?}");
}
