//! Lambda `bootstrap` for session-completed events: an SQS batch answering
//! `batchItemFailures`, or a bare event.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ucc_functions::telemetry::init();
    let d = ucc_functions::env::deliverer_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let d = d.clone();
        async move {
            d.set_deadline(ucc_functions::lambda::deadline_of(&event.context));
            ucc_functions::lambda::session_completed(&d, event.payload).await
        }
    }))
    .await
}
