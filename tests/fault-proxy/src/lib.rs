//! A fault-injecting HTTP proxy for the AWS emulator.
//!
//! Every trigger on AWS delivers at least once and any call can fail; moto never fails. This
//! proxy stands between a process's AWS SDK clients (`AWS_ENDPOINT_URL` pointed at it) and moto,
//! and on a chosen fraction of requests answers as AWS does when it throttles (each service's
//! own code and protocol), fails with 500/503, closes the connection before forwarding, closes
//! it after forwarding (the call took effect, the client sees an error and its SDK retries it),
//! or answers late. It counts what it injected, per kind and per call, for the test's report.
//!
//! In a test: `let (addr, proxy) = FaultProxy::start(&moto_url, FaultConfig::modest(7)).await?`,
//! then hand `proxy.url()` to the process under test and read `proxy.counts()` at the end. As a
//! command: `fault-proxy --upstream http://127.0.0.1:5000 --throttle 0.05 ...`.

pub mod config;
pub mod counts;
pub mod protocol;
pub mod proxy;

pub use config::{ConfigError, FaultConfig, FaultKind};
pub use counts::FaultCounts;
pub use proxy::{FaultProxy, ProxyError};
