//! Lambda `bootstrap` for the delivery-retry timer (EventBridge Scheduler, every minute).
//!
//! Each run also logs one `delivery-retry sweep` JSON line: the CloudWatch metric filters of
//! `infra/terraform/alarms.tf` read `tenants_blocked` (tenants still authBlocked after the
//! credential probe) and `oldest_pending_age_secs` from it.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use ucc_shared::delivery::Deliverer;

/// Pending deliveries looked at per tenant for the age metric (oldest due first).
const AGE_SCAN_PER_TENANT: usize = 100;

/// A failure only costs the metric, never the sweep.
async fn oldest_pending_age_secs(d: &Deliverer) -> i64 {
    ucc_shared::delivery::sweep::oldest_pending_age_secs(d, AGE_SCAN_PER_TENANT)
        .await
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ucc_functions::telemetry::init();
    let d = ucc_functions::env::deliverer_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let d = d.clone();
        async move {
            d.set_deadline(ucc_functions::lambda::deadline_of(&event.context));
            let report = ucc_functions::lambda::delivery_retry(&d).await?;
            let count = |k: &str| report.get(k).and_then(Value::as_u64).unwrap_or(0);
            let listed = |k: &str| report.get(k).and_then(Value::as_array).map_or(0, Vec::len);
            lambda_runtime::tracing::info!(
                due = count("due"),
                delivered = count("delivered"),
                pending = count("pending"),
                rejected = count("rejected"),
                held = count("held"),
                errors = listed("errors"),
                tenants_blocked = listed("tenantsBlocked"),
                tenants_unblocked = listed("tenantsUnblocked"),
                oldest_pending_age_secs = oldest_pending_age_secs(&d).await,
                "delivery-retry sweep"
            );
            Ok::<Value, lambda_runtime::Error>(report)
        }
    }))
    .await
}
