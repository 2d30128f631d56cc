//! Lambda `bootstrap` for the delivery-retry timer (EventBridge Scheduler, every minute).
//!
//! Each run also logs one `delivery-retry sweep` JSON line: the CloudWatch metric filters of
//! `infra/terraform/alarms.tf` read `tenants_blocked` (tenants still authBlocked after the
//! credential probe) and `oldest_pending_age_secs` from it.

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
            let report = ucc_functions::lambda::delivery_retry(&d).await?;
            ucc_functions::telemetry::log_sweep(&d, &report).await;
            Ok::<Value, lambda_runtime::Error>(report)
        }
    }))
    .await
}
