//! `hello-runtime`: the first cold-start baseline, a bare `lambda_runtime` hello world (as in
//! the runtime's `examples/basic-lambda`: tracing initialised, then `run`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn hello(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "hello": event.payload }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(hello)).await
}
