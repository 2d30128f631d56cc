//! Structured JSON logs (one line per event) on stderr, level from `RUST_LOG` (default info).

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}

/// Pending deliveries looked at per tenant for the age metric (oldest due first).
const AGE_SCAN_PER_TENANT: usize = 100;

/// The one `delivery-retry sweep` JSON line per run, on both clouds: the CloudWatch metric
/// filters (`infra/terraform/alarms.tf`) and the Azure log alerts (`infra/bicep`) read
/// `tenants_blocked` and `oldest_pending_age_secs` from it, and its absence means the
/// timer stopped.
pub async fn log_sweep(d: &ucc_shared::delivery::Deliverer, report: &serde_json::Value) {
    let count = |k: &str| {
        report
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    let listed = |k: &str| {
        report
            .get(k)
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len)
    };
    // A failure only costs the metric, never the sweep.
    let oldest = ucc_shared::delivery::sweep::oldest_pending_age_secs(d, AGE_SCAN_PER_TENANT)
        .await
        .unwrap_or(0);
    tracing::info!(
        due = count("due"),
        delivered = count("delivered"),
        pending = count("pending"),
        rejected = count("rejected"),
        held = count("held"),
        errors = listed("errors"),
        tenants_blocked = listed("tenantsBlocked"),
        tenants_unblocked = listed("tenantsUnblocked"),
        oldest_pending_age_secs = oldest,
        "delivery-retry sweep"
    );
}

/// Expired items removed per `store-sweep` run (the next run continues).
pub const STORE_SWEEP_MAX: usize = 50_000;
