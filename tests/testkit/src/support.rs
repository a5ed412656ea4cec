//! Fresh stores for one test: SQLite in a temp dir, or the emulator with uniquely named
//! resources.

use order_aws::provision::provision;
use order_aws::{AwsClients, AwsResources, DynamoEventStore};
use order_embedded::db::{Db, Durability};

/// A port implementation under test, with whatever must live as long as it (a temp dir, an
/// open database).
pub struct Fixture<S> {
    pub subject: S,
    guard: Option<Box<dyn std::any::Any + Send>>,
}

impl<S> Fixture<S> {
    pub fn new(subject: S) -> Self {
        Self {
            subject,
            guard: None,
        }
    }

    /// Keeps `guard` alive until the fixture is dropped.
    #[must_use]
    pub fn keeping(mut self, guard: impl std::any::Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl<S> std::ops::Deref for Fixture<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.subject
    }
}

/// A fresh SQLite database in its own temp dir.
pub struct Sqlite {
    pub db: Db,
    pub dir: tempfile::TempDir,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.db.close();
    }
}

pub fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("test.db"), Durability::Normal).expect("open database");
    Sqlite { db, dir }
}

/// A test's own slice of the emulator.
pub struct Emulator {
    pub endpoint: String,
    pub clients: AwsClients,
    pub resources: AwsResources,
}

impl Emulator {
    /// The event store on this test's own events table.
    pub fn store(&self) -> DynamoEventStore {
        DynamoEventStore::new(
            self.clients.dynamodb().clone(),
            &self.resources.events_table,
        )
    }
}

/// The repository's `.venv/bin/python` when it can `import` every module of `imports` (e.g.
/// `"moto"`, `"jwt, cryptography"`), or `None` (a skip) when it cannot and this is not CI.
/// Under `CI=true` it is a failure, never a skip.
pub fn venv_python(imports: &str) -> Option<std::path::PathBuf> {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {imports}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} with {imports} is required under CI (bash scripts/venv.sh)",
        python.display()
    );
    eprintln!(
        "skipped: no {} with {imports} (run scripts/venv.sh)",
        python.display()
    );
    None
}

/// The emulator's address, `AWS_ENDPOINT_URL`, for a test that provisions its own resources
/// (the `orders` binary with `--provision`).
///
/// Without `AWS_ENDPOINT_URL` the test is skipped (`None`), except under `CI=true`, where a
/// test that cannot reach the emulator must fail.
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: AWS_ENDPOINT_URL is not set and CI=true: start moto and export it \
                 (scripts/test.sh does)"
            );
            eprintln!("{test}: skipped, AWS_ENDPOINT_URL is not set (no emulator)");
            None
        }
    }
}

/// The emulator named by `AWS_ENDPOINT_URL`, with freshly provisioned resources (a unique
/// prefix per test, so tables stay small: moto's transactions slow down as tables grow).
///
/// Skipped (`None`) or failing without it, as [`endpoint`] says.
pub async fn emulator(test: &str) -> Option<Emulator> {
    let endpoint = endpoint(test)?;
    let clients = AwsClients::load().await.expect("the SDK configuration");
    let prefix = format!("t{}-", ulid::Ulid::generate().to_string().to_lowercase());
    let resources = provision(&clients, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{test}: provisioning on {endpoint} failed: {e}"));
    Some(Emulator {
        endpoint,
        clients,
        resources,
    })
}

/// The test's [`Emulator`], or returns from the test when there is none (see [`emulator`]).
#[macro_export]
macro_rules! emulator_or_skip {
    ($name:expr) => {
        match $crate::support::emulator($name).await {
            Some(env) => env,
            None => return,
        }
    };
}

/// One `#[tokio::test]` per case of a suite, each building its subject with `$make` (an
/// `async fn(&'static str) -> Option<Fixture<_>>`; `None` skips, see [`emulator`]) and
/// running `order_testkit::$suite::$case(&fixture)` (`$suite`: the port's module here).
#[macro_export]
macro_rules! contract_cases {
    ($make:path, $suite:ident, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(fixture) = $make(stringify!($case)).await else { return };
                $crate::$suite::$case(&fixture).await;
            }
        )*
    };
}
