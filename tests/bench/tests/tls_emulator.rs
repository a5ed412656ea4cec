//! The cold-start benchmark over TLS, as functions meet AWS: the emulator wrapper serves HTTPS
//! with a certificate of the test authority (`--tls-cert`, `--tls-key`), the benchmark's own
//! clients provision on it through `--ca-bundle`'s authority, and every function it starts is
//! given that bundle as `AWS_CA_BUNDLE`. Without the bundle, the endpoint is refused: the
//! connection really is TLS. Under `CI=true` a missing Python tool is a failure, never a skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use order_bench::functions::{Emulator, FUNCTIONS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tls_fixture(name: &str) -> PathBuf {
    repo().join("shared/aws/tests/fixtures/tls").join(name)
}

/// The wrapper serving HTTPS on a free loopback port; stopped when dropped.
struct TlsEmulator {
    child: Child,
    endpoint: String,
}

impl TlsEmulator {
    fn start(python: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python)
            .arg(repo().join("shared/aws/emulator/moto_serialized.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .arg("--tls-cert")
            .arg(tls_fixture("server.pem"))
            .arg("--tls-key")
            .arg(tls_fixture("server.key"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            endpoint: format!("https://127.0.0.1:{port}"),
        }
    }
}

impl Drop for TlsEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_benchmark_provisions_over_tls_and_hands_its_functions_the_bundle() {
    let Some(python) = order_testkit::support::venv_python("moto") else {
        return;
    };
    let emulator = TlsEmulator::start(&python);
    let ca = tls_fixture("ca.pem");
    let prefix = format!("tls{}-", ulid::Ulid::generate().to_string().to_lowercase());
    // moto takes a few seconds to import; provisioning is retried until it answers.
    let deadline = Instant::now() + Duration::from_mins(1);
    let provisioned = loop {
        match Emulator::provision(&emulator.endpoint, &prefix, Some(&ca)).await {
            Ok(provisioned) => break provisioned,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e:#}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("provisioning over TLS failed: {e:#}"),
        }
    };
    for f in &FUNCTIONS {
        let env = provisioned.function_env(f).unwrap();
        assert!(
            env.contains(&("AWS_ENDPOINT_URL".into(), emulator.endpoint.clone())),
            "{}: {env:?}",
            f.name
        );
        assert!(
            env.contains(&("AWS_CA_BUNDLE".into(), ca.display().to_string())),
            "{}: {env:?}",
            f.name
        );
    }
    // The same endpoint without the test authority: refused (the SDK's own roots do not
    // vouch for it), so the runs above did speak TLS.
    let refused = Emulator::provision(&emulator.endpoint, &format!("{prefix}x"), None).await;
    assert!(refused.is_err(), "provisioned without the bundle");
}
