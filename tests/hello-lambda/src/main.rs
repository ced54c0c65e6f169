//! The yardstick for the cold-start benchmark: the smallest `lambda_runtime` function (it echoes
//! its event), built with the same profile as the functions and measured beside them.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
