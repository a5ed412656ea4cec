//! The mixed run, made once for all tests of this binary, and a private copy of its data for
//! each test to tamper with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use order_runtime::Config;
use order_testkit::events::seed_product;
use order_testkit::server::{CUSTOMER, Ran, bearer, post_order, token, wait_terminal};
use order_testkit::tasks::race_for_the_last_one;

/// The ids of the orders of the mixed run, by how they ended.
pub struct Run {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pub completed: String,
    pub declined: String,
    pub rejected: String,
    pub out_of_stock: String,
}

/// The run's configuration over `data`.
pub fn config(data: &Path) -> Config {
    let mut config = Config::new(
        data.to_owned(),
        vec![
            seed_product("MUG", 900, 1000),
            seed_product("TEE", 2500, 1000),
            seed_product("SCARCE", 4900, 3),
            seed_product("LAST", 1500, 1),
        ],
    );
    config.retry_interval_scale = 0.01;
    // The hand-driven orders below must not be re-driven by the sweeper meanwhile.
    config.redrive_after = Duration::from_hours(1);
    config
}

/// An order's final status (`COMPLETED` or `FAILED`).
pub async fn finished(client: &reqwest::Client, base: &str, id: &str) -> String {
    wait_terminal(client, base, id, Duration::from_secs(30)).await["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn build_run() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids = rt.block_on(async {
        let server = orders::serve(config(&data), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        // An operator: the raced orders below are another customer's, and their status is read too.
        let token = token(&data, CUSTOMER, true);
        let client = bearer(reqwest::Client::builder(), &token).build().unwrap();
        let mut ids = vec![
            post_order(&client, &base, &[("MUG", 1)], "tok_visa").await,
            post_order(&client, &base, &[("MUG", 2), ("TEE", 1)], "tok_mastercard").await,
            post_order(&client, &base, &[("TEE", 1)], "tok_decline").await,
            post_order(&client, &base, &[("SCARCE", 5)], "tok_visa").await,
            post_order(&client, &base, &[("MUG", 1)], "tok_insufficient_funds").await,
        ];
        let store = server.pipeline.lock().await.as_ref().unwrap().store.clone();
        let (a, b) = race_for_the_last_one(&store, "LAST").await;
        ids.extend([a.to_string(), b.to_string()]);
        let mut statuses = Vec::new();
        for id in &ids {
            statuses.push(finished(&client, &base, id).await);
        }
        assert_eq!(
            statuses,
            [
                "COMPLETED",
                "COMPLETED",
                "FAILED",
                "FAILED",
                "FAILED",
                "COMPLETED",
                "FAILED"
            ]
        );
        server.shutdown().await;
        ids
    });
    Run {
        _dir: dir,
        data,
        completed: ids[0].clone(),
        declined: ids[2].clone(),
        rejected: ids[3].clone(),
        out_of_stock: ids[6].clone(),
    }
}

/// The mixed run, made once for all tests (each works on a copy).
pub fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| std::thread::spawn(build_run).join().unwrap())
}

/// A private copy of the run's data directory.
pub struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    /// Copies the files of the data directory and of its `keys/` (the master key that unwraps
    /// the customers' data keys: without it the copy's orders could not be paid or shown).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["", "keys"] {
            let (from, to) = (run().data.join(sub), dir.path().join(sub));
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(&from).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
                }
            }
        }
        Self { dir }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// Runs SQL that changes the copy directly (tampering, corruption).
    pub fn sql(&self, sql: &str) {
        rusqlite::Connection::open(self.data().join("orders.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    pub fn int(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(self.data().join("orders.db"))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    pub fn replay(&self, args: &[&str]) -> Ran {
        replay_in(self.data(), args)
    }
}

/// `orders replay --data-dir data args...`.
pub fn replay_in(data: &Path, args: &[&str]) -> Ran {
    Command::new(env!("CARGO_BIN_EXE_orders"))
        .arg("replay")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
        .into()
}
