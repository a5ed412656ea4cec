//! `hello-sdk`: the second cold-start baseline, the hello world plus what every function's
//! `main` does first: load one `SdkConfig` with `aws_config` and build one SDK client from it
//! (as in the runtime's `examples/basic-sdk`). Built as the workspace builds every function,
//! its aws-lc has no CPU jitter entropy (`.cargo/config.toml`); built once more with
//! `AWS_LC_SYS_NO_JITTER_ENTROPY=0`, it shows what jitter entropy would cost.
//!
//! With `HELLO_SDK_FIRST_RANDOM=1` it also draws one random number from aws-lc before its
//! first poll: that seeds aws-lc's generator (with jitter entropy, timing the CPU first), which
//! otherwise happens at the first TLS handshake, i.e. in a function's first invocation on AWS.

use aws_config::BehaviorVersion;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    if std::env::var_os("HELLO_SDK_FIRST_RANDOM").is_some() {
        let mut seed = [0_u8; 32];
        rustls::crypto::aws_lc_rs::default_provider()
            .secure_random
            .fill(&mut seed)
            .map_err(|e| format!("aws-lc random: {e:?}"))?;
    }
    let client = &client;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let region = client.config().region().map(ToString::to_string);
        Ok::<_, Error>(json!({ "hello": event.payload, "region": region }))
    }))
    .await
}
