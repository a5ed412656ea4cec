//! `orders forget` over the real binary: it destroys a customer's data keys and says how many,
//! on the embedded data directory (refusing one a running server holds) and on the AWS
//! backend against the emulator.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use order_aws::DynamoKeys;
use order_domain::CustomerId;
use order_domain::ports::KeyStore;
use order_embedded::db::{Db, Durability};
use order_embedded::keys::SqliteKeys;
use order_testkit::server::{Orders, Ran, wait_healthy};

fn forget(args: &[&str], env: &[(&str, String)]) -> Ran {
    Command::new(env!("CARGO_BIN_EXE_orders"))
        .arg("forget")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
        .into()
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

/// The data directory's key store, opened (and closed) for one look.
async fn with_keys<T>(data: &Path, f: impl AsyncFnOnce(&SqliteKeys) -> T) -> T {
    let db = Db::open(&data.join("orders.db"), Durability::Normal).unwrap();
    let keys = SqliteKeys::open(db.clone(), data).unwrap();
    let out = f(&keys).await;
    db.close();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_destroys_the_customers_key_once_and_waits_for_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"[{ "productId": "MUG", "name": "Mug", "price": 900, "stock": 10 }]"#,
    )
    .unwrap();
    let data_arg = data.to_str().unwrap();

    // No database there yet: a mistyped directory is an error, not a new empty database.
    let missing = forget(&["--customer", "jane", "--data-dir", data_arg], &[]);
    assert_ne!(missing.code, 0, "{missing}");
    assert!(missing.stderr.contains("no database"), "{missing}");

    let server = Orders::serve(
        env!("CARGO_BIN_EXE_orders"),
        &data,
        &seed,
        &dir.path().join("serve.log"),
        &[],
        &[],
    );
    let client = reqwest::Client::new();
    wait_healthy(&client, &server.base, Duration::from_secs(30)).await;
    let refused = forget(&["--customer", "jane", "--data-dir", data_arg], &[]);
    assert_ne!(refused.code, 0, "{refused}");
    assert!(refused.stderr.contains("orders.lock"), "{refused}");
    drop(server);

    let (jane, john) = with_keys(&data, async |keys| {
        (
            keys.current_key(&customer("jane")).await.unwrap(),
            keys.current_key(&customer("john")).await.unwrap(),
        )
    })
    .await;
    let first = forget(&["--customer", "jane", "--data-dir", data_arg], &[]);
    assert_eq!(first.code, 0, "{first}");
    assert!(first.stdout.contains("1 data key(s) destroyed"), "{first}");
    let again = forget(&["--customer", "jane", "--data-dir", data_arg], &[]);
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("0 data key(s) destroyed"), "{again}");

    with_keys(&data, async |keys| {
        assert!(
            keys.find_key(&customer("jane"), &jane.id)
                .await
                .unwrap()
                .is_none()
        );
        let johns = keys.find_key(&customer("john"), &john.id).await.unwrap();
        assert_eq!(johns.map(|k| k.material), Some(john.material));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_with_the_aws_backend_deletes_the_customers_key_item() {
    let Some(env) = order_testkit::support::emulator(
        "forget_with_the_aws_backend_deletes_the_customers_key_item",
    )
    .await
    else {
        return;
    };
    let keys = DynamoKeys::new(
        env.clients.dynamodb().clone(),
        env.clients.kms().clone(),
        &env.resources.customer_keys_table,
        &env.resources.kms_key_id,
    );
    let key = keys.current_key(&customer("jane")).await.unwrap();
    let vars = env.resources.env_pairs();
    let first = forget(&["--backend", "aws", "--customer", "jane"], &vars);
    assert_eq!(first.code, 0, "{first}");
    assert!(first.stdout.contains("1 data key(s) destroyed"), "{first}");
    assert!(
        keys.find_key(&customer("jane"), &key.id)
            .await
            .unwrap()
            .is_none()
    );
    let again = forget(&["--backend", "aws", "--customer", "jane"], &vars);
    assert!(again.stdout.contains("0 data key(s) destroyed"), "{again}");

    // Without the table's name it says which variable is missing.
    let unset = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["forget", "--backend", "aws", "--customer", "jane"])
        .env_remove("CUSTOMER_KEYS_TABLE")
        .output()
        .unwrap();
    let unset = Ran::from(unset);
    assert_ne!(unset.code, 0, "{unset}");
    assert!(unset.stderr.contains("CUSTOMER_KEYS_TABLE"), "{unset}");
}
