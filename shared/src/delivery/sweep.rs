//! The delivery-retry timer: probe blocked tenants' credentials, then drain due deliveries,
//! each tenant's in the order they were created.

use serde::Serialize;

use super::record::{due_partition, sortable, DeliveryRecord, DeliveryState};
use super::status::{self, Connection};
use super::{attempt_claimed, claim, Deliverer};
use crate::registry;
use crate::store::{IndexQuery, Key, StoreError};

/// At most this many deliveries per sweep; the next sweep takes the rest.
pub const MAX_PER_SWEEP: usize = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub due: usize,
    pub delivered: usize,
    pub pending: usize,
    pub rejected: usize,
    pub skipped: usize,
    pub tenants_unblocked: Vec<String>,
    pub tenants_blocked: Vec<String>,
}

/// Tries the credential of every tenant marked authBlocked; a working one unblocks it.
async fn probe_blocked(
    d: &Deliverer,
    tenants: &[registry::TenantSummary],
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    for t in tenants {
        let st = status::get(d.ctx.store.as_ref(), &t.gln).await?;
        if st.status != Connection::AuthBlocked && !d.is_blocked(&t.gln) {
            continue;
        }
        let Some(cfg) = d.ctx.tenant(&t.gln).await? else {
            continue;
        };
        d.tokens.invalidate(&t.gln).await;
        let mut calls = Vec::new();
        let probe = d.tokens.token(&d.http, &cfg, &mut calls).await;
        let now = d.ctx.now();
        let mut ops = Vec::new();
        for c in calls {
            let entry = crate::log::LogEntry {
                id: crate::log::new_id(now),
                tenant: Some(t.gln.clone()),
                time: now,
                direction: crate::log::Direction::Outbound,
                endpoint: c.url,
                action: "Token".into(),
                response_code: c.status,
                outcome: Some(
                    if probe.is_ok() {
                        "credential works"
                    } else {
                        "credential refused"
                    }
                    .into(),
                ),
                reason: Some("authBlocked probe".into()),
                reference_id: None,
                event_id: None,
                duration_ms: c.duration.as_millis() as u64,
                request_payload: c.request,
                request_truncated: false,
                request_properties: None,
                response_body: serde_json::from_str(&c.response).ok(),
            };
            ops.push(crate::store::WriteOp::Put {
                item: entry.to_item(d.ctx.log_retention_for(entry.tenant.as_ref()))?,
                condition: crate::store::Condition::Always,
            });
        }
        match probe {
            Ok(_) => {
                d.set_blocked(&t.gln, false);
                ops.push(status::put_op(&t.gln, Connection::Ok, None, now)?);
                report.tenants_unblocked.push(t.gln.to_string());
                tracing::info!(tenant = %t.gln, "credential works again: tenant unblocked");
            }
            Err(e) => {
                d.set_blocked(&t.gln, true);
                if st.status != Connection::AuthBlocked {
                    ops.push(status::put_op(
                        &t.gln,
                        Connection::AuthBlocked,
                        Some(e.to_string()),
                        now,
                    )?);
                }
                report.tenants_blocked.push(t.gln.to_string());
            }
        }
        if !ops.is_empty() {
            d.ctx.store.transact(ops).await?;
        }
    }
    Ok(())
}

/// One timer run.
pub async fn sweep(d: &Deliverer) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let tenants = registry::list(d.ctx.store.as_ref()).await?;
    probe_blocked(d, &tenants, &mut report).await?;
    let now = d.ctx.now();
    let mut budget = MAX_PER_SWEEP;
    for t in &tenants {
        if budget == 0 {
            break;
        }
        let mut q = IndexQuery {
            partition: due_partition(&t.gln),
            upto: Some(format!("{}~", sortable(now))),
            limit: 100,
            cursor: None,
        };
        let mut due: Vec<(Key, DeliveryRecord)> = Vec::new();
        loop {
            let page = d.ctx.store.query_index(&q).await?;
            for item in &page.items {
                if let Ok(r) = DeliveryRecord::from_item(item) {
                    due.push((item.key.clone(), r));
                }
            }
            match page.next {
                Some(c) if due.len() < budget => q.cursor = Some(c),
                _ => break,
            }
        }
        due.truncate(budget);
        budget -= due.len();
        report.due += due.len();
        // Oldest first: a backlog drains in the order sessions were accepted.
        due.sort_by(|a, b| {
            (a.1.created_at, &a.1.transaction_id).cmp(&(b.1.created_at, &b.1.transaction_id))
        });
        for (key, rec) in due {
            if d.is_blocked(&rec.tenant) {
                report.skipped += 1;
                continue;
            }
            let Some(c) = claim(d, &key).await? else {
                report.skipped += 1;
                continue;
            };
            let done = attempt_claimed(d, c).await?;
            match done.state {
                DeliveryState::Delivered => report.delivered += 1,
                DeliveryState::Rejected => report.rejected += 1,
                DeliveryState::Pending => report.pending += 1,
            }
        }
    }
    Ok(report)
}

/// Age in seconds of the oldest pending delivery of any tenant (0 when none): the alarm
/// metric. Reads only the pending index, at most `per_tenant` entries per tenant.
pub async fn oldest_pending_age_secs(d: &Deliverer, per_tenant: usize) -> Result<i64, StoreError> {
    let now = d.ctx.now();
    let mut oldest = None;
    for t in registry::list(d.ctx.store.as_ref()).await? {
        let q = IndexQuery {
            partition: due_partition(&t.gln),
            upto: None,
            limit: per_tenant.max(1),
            cursor: None,
        };
        for r in d
            .ctx
            .store
            .query_index(&q)
            .await?
            .items
            .iter()
            .filter_map(|i| DeliveryRecord::from_item(i).ok())
        {
            if oldest.is_none_or(|o| r.created_at < o) {
                oldest = Some(r.created_at);
            }
        }
    }
    Ok(oldest.map_or(0, |o: chrono::DateTime<chrono::Utc>| {
        (now - o).num_seconds().max(0)
    }))
}
