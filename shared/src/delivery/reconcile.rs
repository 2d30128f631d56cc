//! Revenue-share reconciliation (SPEC §6): a transaction from a site marked revenue-shared
//! but without a `revenueShareId` is still delivered, untagged, and an entry here tells
//! finance which invoice lines need a revenue-share correction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::sortable;
use crate::gln::Gln;
use crate::keys;
use crate::store::{Condition, Item, Key, Query, SkRange, Store, StoreError, WriteOp};
use crate::tenant::TenantConfig;

pub const RECONCILIATION: &str = "RECON";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconEntry {
    pub tenant: Gln,
    pub transaction_id: String,
    pub site_id: i64,
    pub created_at: DateTime<Utc>,
    pub note: String,
    /// Set by the reconciliation timer once the site has a revenueShareId configured:
    /// the line can now be corrected (`ucc correct`) to carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_share_id_now: Option<i64>,
}

impl ReconEntry {
    pub fn key(&self) -> Key {
        Key::new(
            keys::tenant(&self.tenant, RECONCILIATION),
            format!("{}#{}", sortable(self.created_at), self.transaction_id),
        )
    }

    pub fn put_op(&self) -> Result<WriteOp, StoreError> {
        let doc = serde_json::to_string(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(WriteOp::Put {
            item: Item::new(self.key(), doc, 1),
            condition: Condition::Always,
        })
    }
}

/// Entries of a tenant created at or after `since`, oldest first.
pub async fn list(
    store: &dyn Store,
    gln: &Gln,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<ReconEntry>, StoreError> {
    let from = since.map_or_else(|| "0".to_owned(), sortable);
    let q = Query {
        pk: keys::tenant(gln, RECONCILIATION),
        range: SkRange::Between(from, "9~".into()),
        limit: 200,
        cursor: None,
    };
    Ok(crate::store::query_all(store, q)
        .await?
        .iter()
        .filter_map(|i| serde_json::from_str(&i.doc).ok())
        .collect())
}

/// The reconciliation timer for one tenant: entries whose site has since been given a
/// revenueShareId are marked actionable. Returns how many entries are open.
pub async fn refresh(store: &dyn Store, cfg: &TenantConfig) -> Result<usize, StoreError> {
    let entries = list(store, &cfg.gln, None).await?;
    for mut e in entries.clone() {
        let now_id = cfg
            .sites
            .get(&e.site_id.to_string())
            .and_then(|s| s.revenue_share_id);
        if now_id != e.revenue_share_id_now {
            e.revenue_share_id_now = now_id;
            if let WriteOp::Put { item, .. } = e.put_op()? {
                store.put(item, Condition::Always).await?;
            }
        }
    }
    Ok(entries.len())
}

/// Summary of one reconciliation timer run.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconciliationReport {
    pub tenants: usize,
    pub open_entries: usize,
}

/// The reconciliation timer: refresh every tenant's entries.
pub async fn run_all(ctx: &crate::context::Ctx) -> Result<ReconciliationReport, StoreError> {
    let mut report = ReconciliationReport::default();
    for t in crate::registry::list(ctx.store.as_ref()).await? {
        if let Some(cfg) = ctx.tenant(&t.gln).await? {
            report.tenants += 1;
            report.open_entries += refresh(ctx.store.as_ref(), &cfg).await?;
        }
    }
    Ok(report)
}
