//! Lambda `bootstrap` for Service Bus intake (SPEC §10): each scheduled invocation receives
//! for slightly longer than the one-minute schedule, bounded by the invocation's deadline.

use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use ucc_functions::servicebus;

/// Receive this long per invocation (`UCC_SERVICEBUS_RUN_SECONDS`, default 70).
fn run_for() -> Duration {
    let secs = std::env::var("UCC_SERVICEBUS_RUN_SECONDS").ok();
    Duration::from_secs(secs.and_then(|s| s.trim().parse().ok()).unwrap_or(70))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ucc_functions::telemetry::init();
    let ctx = ucc_functions::env::ctx_from_env().await?;
    let cfg = servicebus::Config::from_env()?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (ctx, cfg) = (ctx.clone(), cfg.clone());
        async move {
            // Leave 10 s of the invocation for settling and answering.
            let mut until = Instant::now() + run_for();
            if let Some(d) = ucc_functions::lambda::deadline_of(&event.context) {
                until = until.min(d.checked_sub(Duration::from_secs(10)).unwrap_or(d));
            }
            let summary = servicebus::run(ctx, cfg, Some(until), std::future::pending()).await?;
            Ok::<Value, lambda_runtime::Error>(serde_json::to_value(summary)?)
        }
    }))
    .await
}
