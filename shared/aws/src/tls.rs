//! Which certificate authorities the AWS clients trust, and the one HTTPS client they share.
//!
//! The SDK's default client trusts the operating system's store: at every cold start it reads
//! each file of the store (`/etc/ssl/certs` and the bundles beside it, a few hundred
//! certificates), and it parses every one of them again for each client a process builds
//! (the credential chain's STS client included). That was a quarter of a function's start-up
//! CPU. Every endpoint these clients call is an AWS service endpoint, whose chain ends at
//! Amazon Trust Services, so the clients trust those five roots, compiled in
//! (`tls/amazon-trust-services.pem`): nothing is read at start, and no other authority can
//! vouch for an AWS endpoint.
//!
//! `AWS_CA_BUNDLE` (the AWS CLI's name for it) replaces them with the PEM file it names: for a
//! TLS-inspecting proxy, an endpoint signed by a private authority, or an emulator served over
//! HTTPS. A bundle that cannot be read or holds no certificate stops the process at start with
//! the variable and the file named, rather than failing every call later.
//!
//! Everything else is the SDK's default client: rustls on aws-lc, the proxy from the
//! environment, the connector settings and sleep of each client.

use std::path::Path;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::ConfigError;

/// The variable naming a PEM bundle to trust instead of Amazon Trust Services.
pub const CA_BUNDLE: &str = "AWS_CA_BUNDLE";

/// Amazon Root CA 1–4 and Starfield Services Root CA G2, as PEM.
pub const AMAZON_TRUST_SERVICES: &str = include_str!("tls/amazon-trust-services.pem");

/// The authorities a process's AWS clients trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    pem: Vec<u8>,
    /// How many certificates the PEM holds.
    pub roots: usize,
    /// Where they came from: the compiled-in roots, or the bundle's path.
    pub source: String,
}

impl Trusted {
    /// Amazon Trust Services' roots, compiled in.
    pub fn amazon() -> Self {
        Self::from_pem(
            AMAZON_TRUST_SERVICES.as_bytes(),
            "Amazon Trust Services (compiled in)",
        )
        .expect("the compiled-in roots parse (pinned by the tests)")
    }

    /// What `AWS_CA_BUNDLE` names, or Amazon Trust Services when it is unset or empty.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_var(std::env::var_os(CA_BUNDLE).as_deref())
    }

    /// [`Trusted::from_env`] with the variable's value given.
    pub fn from_var(value: Option<&std::ffi::OsStr>) -> Result<Self, ConfigError> {
        match value {
            Some(path) if !path.is_empty() => Self::from_file(Path::new(path)),
            _ => Ok(Self::amazon()),
        }
    }

    /// The certificates of the PEM file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let bad = |why: String| ConfigError::CaBundle(format!("{}: {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        Self::from_pem(&pem, &path.display().to_string()).map_err(bad)
    }

    /// Checks every certificate of `pem` as the client will take it (a PEM section that does
    /// not decode, or a certificate that is not one, is refused here rather than at the first
    /// connection, where the SDK would panic on it).
    fn from_pem(pem: &[u8], source: &str) -> Result<Self, String> {
        let mut store = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("not a PEM certificate bundle ({e})"))?;
            store
                .add(cert)
                .map_err(|e| format!("a certificate that does not parse ({e})"))?;
        }
        if store.is_empty() {
            return Err("no certificate in it".to_owned());
        }
        Ok(Self {
            pem: pem.to_vec(),
            roots: store.len(),
            source: source.to_owned(),
        })
    }

    /// The HTTPS client every AWS client of the process shares, trusting these roots only.
    pub fn http_client(&self) -> SharedHttpClient {
        let context = TlsContext::builder()
            .with_trust_store(
                TrustStore::empty()
                    .with_native_roots(false)
                    .with_pem_certificate(self.pem.clone()),
            )
            .build()
            .expect("a TLS context without extra server names builds");
        // What the SDK's default client does (aws-smithy-runtime's `default_https_client`),
        // but for the trust store.
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(context.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use sha2::{Digest, Sha256};

    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    /// Requests answered by [`https_server`] (its handshakes that failed are not counted).
    type Answered = std::sync::Arc<std::sync::atomic::AtomicUsize>;

    /// An HTTPS server on loopback with the fixture's certificate (for 127.0.0.1, signed by the
    /// test authority `ca.pem`), answering every request as DynamoDB's ListTables would. The
    /// fixtures were made with `openssl` (P-256 keys, 100 years): `req -x509` for the authority
    /// (basicConstraints CA:TRUE, keyCertSign), then `x509 -req` for the server (serverAuth,
    /// subjectAltName IP:127.0.0.1, DNS:localhost); the authority's key was not kept.
    fn https_server() -> (u16, Answered) {
        use std::io::{BufRead, BufReader, Read, Write};

        let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = std::sync::Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answered = Answered::default();
        let counter = answered.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let tls = rustls::StreamOwned::new(
                    rustls::ServerConnection::new(config.clone()).unwrap(),
                    tcp,
                );
                let mut reader = BufReader::new(tls);
                let mut length = 0;
                let mut line = String::new();
                // A refused handshake ends here: the read fails on the client's alert.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    line.clear();
                }
                if line != "\r\n" {
                    continue;
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let answer = r#"{"TableNames":["reached-over-tls"]}"#;
                let mut tls = reader.into_inner();
                write!(
                    tls,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
                tls.conn.send_close_notify();
                tls.flush().unwrap();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        (port, answered)
    }

    async fn list_tables(
        trusted: &Trusted,
        port: u16,
    ) -> Result<
        Vec<String>,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::list_tables::ListTablesError,
        >,
    > {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .http_client(trusted.http_client())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        let out = aws_sdk_dynamodb::Client::from_conf(config)
            .list_tables()
            .send()
            .await?;
        Ok(out.table_names.unwrap_or_default())
    }

    #[tokio::test]
    async fn the_shared_client_speaks_tls_to_an_endpoint_its_bundle_vouches_for() {
        let (port, answered) = https_server();
        let trusted = Trusted::from_file(&fixture("ca.pem")).unwrap();
        assert_eq!(
            list_tables(&trusted, port).await.unwrap(),
            ["reached-over-tls"]
        );
        assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_endpoint_amazon_trust_services_does_not_vouch_for_is_refused_before_any_request() {
        let (port, answered) = https_server();
        let err = list_tables(&Trusted::amazon(), port).await.unwrap_err();
        let chain = format!("{:?}", std::error::Error::source(&err));
        assert!(chain.contains("UnknownIssuer"), "{chain}");
        assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    /// The workspace builds aws-lc without its CPU jitter entropy (`.cargo/config.toml`): the
    /// generator is seeded from the operating system, so a cold start's first TLS handshake
    /// does not first spend tens of milliseconds timing the CPU. A build that lost the setting
    /// fails here; the generator still answers, with different numbers each time.
    #[test]
    fn aws_lc_seeds_from_the_operating_system() {
        assert!(
            aws_lc_rs::try_fips_cpu_jitter_entropy().is_err(),
            "aws-lc was built with CPU jitter entropy: is AWS_LC_SYS_NO_JITTER_ENTROPY=1 \
             (.cargo/config.toml) reaching aws-lc-sys's build script?"
        );
        let (mut a, mut b) = ([0_u8; 32], [0_u8; 32]);
        aws_lc_rs::rand::fill(&mut a).unwrap();
        aws_lc_rs::rand::fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn the_compiled_in_roots_are_amazon_trust_services_and_nothing_else() {
        let fingerprints: Vec<String> =
            CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES.as_bytes())
                .map(|c| hex::encode(Sha256::digest(c.expect("PEM"))))
                .collect();
        assert_eq!(
            fingerprints,
            [
                // Amazon Root CA 1, 2, 3, 4; Starfield Services Root Certificate Authority - G2.
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
        assert_eq!(Trusted::amazon().roots, 5);
    }

    #[test]
    fn an_unset_or_empty_variable_trusts_amazon_and_a_set_one_its_bundle() {
        assert_eq!(Trusted::from_var(None).unwrap(), Trusted::amazon());
        assert_eq!(
            Trusted::from_var(Some(OsStr::new(""))).unwrap(),
            Trusted::amazon()
        );
        let ca = fixture("ca.pem");
        let bundle = Trusted::from_var(Some(ca.as_os_str())).unwrap();
        assert_eq!(bundle.roots, 1);
        assert_eq!(bundle.source, ca.display().to_string());
    }

    #[test]
    fn a_bundle_that_is_missing_empty_or_not_pem_is_refused_naming_the_variable_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let key_only = fixture("server.key");
        for (path, why) in [
            (dir.path().join("missing.pem"), "No such file"),
            (empty, "no certificate in it"),
            (garbage, "not a PEM certificate bundle"),
            (key_only, "no certificate in it"),
        ] {
            let err = Trusted::from_var(Some(path.as_os_str())).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(CA_BUNDLE), "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(why), "{text}");
        }
    }
}
