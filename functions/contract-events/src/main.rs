//! Lambda `bootstrap` for contract events: an SQS batch or a bare Service Bus message body.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ucc_functions::telemetry::init();
    let ctx = ucc_functions::env::ctx_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move { ucc_functions::lambda::contract_events(&ctx, event.payload).await }
    }))
    .await
}
