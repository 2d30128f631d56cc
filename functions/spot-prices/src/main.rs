//! Lambda `bootstrap` for the spot-prices timer (EventBridge Scheduler, every 10 minutes;
//! SPEC §13): `ucc_shared::spot::fetch::run`. The run's report is the result and one JSON
//! log line; an incomplete day from 18:00 CET also logs `alarm="spotPricesMissing"`, which
//! the CloudWatch metric filter of `infra/terraform/alarms.tf` counts.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ucc_functions::telemetry::init();
    let cfg = ucc_shared::spot::fetch::FetchConfig::from_env();
    let d = ucc_functions::env::deliverer_from_env().await?;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let (d, cfg) = (d.clone(), cfg.clone());
        async move {
            let report = ucc_shared::spot::fetch::run(&d.ctx, &cfg).await?;
            tracing::info!(report = %serde_json::to_string(&report).unwrap_or_default(), "spot-prices run");
            Ok::<Value, lambda_runtime::Error>(serde_json::to_value(&report)?)
        }
    }))
    .await
}
