//! Lambda `bootstrap` for the delivery-retry timer (EventBridge Scheduler, every minute).
//!
//! Each run also logs one `delivery-retry sweep` JSON line: the CloudWatch metric filters of
//! `infra/terraform/alarms.tf` read `tenants_blocked` (tenants still authBlocked after the
//! credential probe) and `oldest_pending_age_secs` from it.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use ucc_shared::delivery::record::{DeliveryRecord, DeliveryState, DUE_INDEX};
use ucc_shared::delivery::Deliverer;
use ucc_shared::store::IndexQuery;

/// Pending deliveries looked at for the age metric (the due index holds only pending ones).
const AGE_SCAN_LIMIT: usize = 1000;

/// Age in seconds of the oldest pending delivery, 0 when none is pending. One extra index
/// query per run; a failure only costs the metric, never the sweep.
async fn oldest_pending_age_secs(d: &Deliverer) -> i64 {
    let now = d.ctx.now();
    let mut q = IndexQuery {
        partition: DUE_INDEX.into(),
        upto: None,
        limit: 100,
        cursor: None,
    };
    let (mut oldest, mut seen) = (None, 0usize);
    loop {
        let Ok(page) = d.ctx.store.query_index(&q).await else {
            break;
        };
        seen += page.items.len();
        for r in page
            .items
            .iter()
            .filter_map(|i| DeliveryRecord::from_item(i).ok())
        {
            if r.state == DeliveryState::Pending && oldest.is_none_or(|o| r.created_at < o) {
                oldest = Some(r.created_at);
            }
        }
        match page.next {
            Some(c) if seen < AGE_SCAN_LIMIT => q.cursor = Some(c),
            _ => break,
        }
    }
    oldest.map_or(0, |o| (now - o).num_seconds().max(0))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ucc_functions::telemetry::init();
    let d = ucc_functions::env::deliverer_from_env().await?;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let d = d.clone();
        async move {
            let report = ucc_functions::lambda::delivery_retry(&d).await?;
            let count = |k: &str| report.get(k).and_then(Value::as_u64).unwrap_or(0);
            let listed = |k: &str| report.get(k).and_then(Value::as_array).map_or(0, Vec::len);
            lambda_runtime::tracing::info!(
                due = count("due"),
                delivered = count("delivered"),
                pending = count("pending"),
                rejected = count("rejected"),
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
