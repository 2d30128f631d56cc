//! The operator read model of one tenant (the Details tab, `ucc tenant status`): connection
//! status, counts of open work, last delivery and the masked API key, in a constant number
//! of store requests. The admin API and the CLI both call it.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::apikey;
use crate::counts;
use crate::delivery::status;
use crate::gln::Gln;
use crate::store::{Store, StoreError};
use crate::tenant::TenantConfig;

/// The Details tab. Store cost: the status item (1 read), the counts (1 query), the newest
/// log page (1 query, rarely up to 5) and the API-key item (1 read unless the caller already
/// holds it: `known_key`).
pub async fn details_view(
    store: &dyn Store,
    cfg: &TenantConfig,
    blocked_here: bool,
    known_key: Option<apikey::ApiKeyRecord>,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    // Mode as it reads now: `costedTransaction` once a scheduled migration's cutover passed.
    let migration = crate::migration::view(cfg, now);
    let cfg = &crate::migration::as_of(cfg, now);
    let gln = &cfg.gln;
    let st = status::get(store, gln).await?;
    // Counts are kept by the writes that change them (`counts`), and the last delivery is
    // the newest successful UC call in the log: Details never walks the backlog or the
    // delivery history, however long a tenant has been live.
    let counts = counts::read(store, gln).await?;
    let last = last_delivery(store, gln).await?;
    let key = match known_key {
        Some(k) => Some(k),
        None => apikey::get(store, gln).await?,
    };
    let connection = if blocked_here {
        status::Connection::AuthBlocked
    } else {
        st.status
    };
    Ok(json!({
        "gln": gln,
        "name": cfg.name,
        "mode": cfg.mode,
        "status": connection.as_str(),
        "statusSince": st.since,
        "statusReason": st.reason,
        "lastDelivery": last,
        "counts": {
            "pending": counts.pending.max(0),
            "rejected": counts.rejected.max(0),
            "held": counts.held.max(0),
            "parked": counts.parked.max(0),
        },
        "apiKey": key.map(|k| json!({
            "masked": k.masked(gln),
            "fingerprint": k.fingerprint(),
            "createdAt": k.created_at,
        })),
        "logRetentionDays": cfg.retention_days(),
        "migration": migration,
    }))
}

/// Log pages searched for the newest successful delivery before giving up.
const LAST_DELIVERY_PAGES: usize = 5;

/// The newest 2xx answer UC gave to a delivery POST, from the request log (newest first).
async fn last_delivery(store: &dyn Store, gln: &Gln) -> Result<Option<Value>, StoreError> {
    let mut cursor = None;
    for _ in 0..LAST_DELIVERY_PAGES {
        let (entries, next) = crate::log::list(store, Some(gln), 200, cursor).await?;
        let found = entries.iter().find(|e| {
            (200..300).contains(&e.response_code)
                && matches!(
                    e.action.as_str(),
                    "InvoiceLineImport" | "CreateMeterValuesSeries"
                )
        });
        if let Some(e) = found {
            let kind = if e.action == "InvoiceLineImport" {
                "invoiceLine"
            } else {
                "meterValues"
            };
            return Ok(Some(json!({
                "transactionId": e.reference_id,
                "deliveredAt": e.time,
                "kind": kind,
            })));
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(None)
}
