//! The delivery-retry timer: probe blocked tenants' credentials, then drain due deliveries,
//! each tenant's in the order they were created.
//!
//! Fairness (SPEC §6): every tenant with due work is served in every run. Each tenant gets
//! a share of the run's budget, and the run takes one record per tenant in turn, so neither
//! one tenant's backlog nor its slow UC can use up the run. A blocked tenant costs the run
//! nothing but its probe. One record's or one tenant's failure is reported and the run goes
//! on with the rest.

use serde::Serialize;

use super::record::{due_partition, sortable, DeliveryRecord, DeliveryState};
use super::status::{self, BlockSource, Connection};
use super::{attempt_claimed, claim, probe_claimed, Deliverer};
use crate::gln::Gln;
use crate::registry;
use crate::store::{IndexQuery, Key, StoreError};

/// The run's budget of attempts, shared out between the tenants with due work.
pub const MAX_PER_SWEEP: usize = 500;
/// However many tenants have due work, each gets at least this many attempts per run.
pub const MIN_PER_TENANT: usize = 10;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub due: usize,
    pub delivered: usize,
    pub pending: usize,
    pub rejected: usize,
    pub held: usize,
    pub skipped: usize,
    pub tenants_unblocked: Vec<String>,
    pub tenants_blocked: Vec<String>,
    /// What failed in this run without stopping it (a tenant's or a record's store error).
    pub errors: Vec<String>,
}

impl SweepReport {
    fn error(&mut self, gln: &Gln, what: &str, e: &StoreError) {
        tracing::warn!(tenant = %gln, error = %e, "delivery-retry: {what} failed; the run goes on");
        self.errors.push(format!("{gln}: {what}: {e}"));
    }

    fn count(&mut self, state: DeliveryState) {
        match state {
            DeliveryState::Delivered => self.delivered += 1,
            DeliveryState::Rejected => self.rejected += 1,
            DeliveryState::Pending => self.pending += 1,
            DeliveryState::Held => self.held += 1,
        }
    }
}

/// What a tenant's probe established for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Open,
    Blocked,
    /// Entra issues tokens but UC refused them: the tenant's oldest due record is the probe.
    ProbeUc,
}

/// Tries the credential of a tenant marked authBlocked; a working one unblocks it.
async fn probe(
    d: &Deliverer,
    t: &registry::TenantSummary,
    report: &mut SweepReport,
) -> Result<Access, StoreError> {
    let st = status::get(d.ctx.store.as_ref(), &t.gln).await?;
    if st.status != Connection::AuthBlocked && !d.is_blocked(&t.gln) {
        return Ok(Access::Open);
    }
    let Some(cfg) = d.ctx.tenant(&t.gln).await? else {
        return Ok(Access::Blocked);
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
    let access = match probe {
        Ok(_) if st.status == Connection::AuthBlocked && st.source == Some(BlockSource::Uc) => {
            Access::ProbeUc
        }
        Ok(_) => {
            d.set_blocked(&t.gln, false);
            ops.push(status::put_op(&t.gln, Connection::Ok, None, None, now)?);
            report.tenants_unblocked.push(t.gln.to_string());
            tracing::info!(tenant = %t.gln, "credential works again: tenant unblocked");
            Access::Open
        }
        Err(e) => {
            d.set_blocked(&t.gln, true);
            if st.status != Connection::AuthBlocked {
                ops.push(status::put_op(
                    &t.gln,
                    Connection::AuthBlocked,
                    Some(e.to_string()),
                    Some(BlockSource::Entra),
                    now,
                )?);
            }
            report.tenants_blocked.push(t.gln.to_string());
            Access::Blocked
        }
    };
    if !ops.is_empty() {
        d.ctx.store.transact(ops).await?;
    }
    Ok(access)
}

/// A tenant's due records, oldest first, at most `share` of them.
async fn due_records(
    d: &Deliverer,
    gln: &Gln,
    now: chrono::DateTime<chrono::Utc>,
    share: usize,
) -> Result<Vec<(Key, DeliveryRecord)>, StoreError> {
    let mut q = IndexQuery {
        partition: due_partition(gln),
        upto: Some(format!("{}~", sortable(now))),
        limit: share.min(100),
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
            Some(c) if due.len() < share => q.cursor = Some(c),
            _ => break,
        }
    }
    due.truncate(share);
    // Oldest first: a backlog drains in the order sessions were accepted (and a credit
    // before the correction created with it).
    due.sort_by(|a, b| {
        (a.1.created_at, &a.1.transaction_id).cmp(&(b.1.created_at, &b.1.transaction_id))
    });
    Ok(due)
}

struct Queue {
    gln: Gln,
    access: Access,
    records: std::vec::IntoIter<(Key, DeliveryRecord)>,
}

/// Serves one record of a tenant's queue. `false`: the tenant is done for this run.
async fn serve_one(d: &Deliverer, q: &mut Queue, report: &mut SweepReport) -> bool {
    let Some((key, _)) = q.records.next() else {
        return false;
    };
    if !d.has_time_for_attempt() {
        // The invocation ends before another attempt could: the next run takes the rest.
        report.skipped += 1 + q.records.len();
        return false;
    }
    if q.access == Access::Open && d.is_blocked(&q.gln) {
        // Blocked by an attempt earlier in this run: the rest waits for the next probe.
        report.skipped += 1 + q.records.len();
        return false;
    }
    let claimed = match claim(d, &key).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            report.skipped += 1;
            return true;
        }
        Err(e) => {
            report.error(&q.gln, &format!("claiming {}", key.sk), &e);
            return true;
        }
    };
    let probing = q.access == Access::ProbeUc;
    let done = if probing {
        probe_claimed(d, claimed).await
    } else {
        attempt_claimed(d, claimed).await
    };
    match done {
        Ok(rec) => report.count(rec.state),
        Err(e) => report.error(&q.gln, &format!("attempting {}", key.sk), &e),
    }
    if probing {
        if d.is_blocked(&q.gln) {
            report.tenants_blocked.push(q.gln.to_string());
            report.skipped += q.records.len();
            return false;
        }
        report.tenants_unblocked.push(q.gln.to_string());
        q.access = Access::Open;
    }
    true
}

/// One timer run.
pub async fn sweep(d: &Deliverer) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let tenants = registry::list(d.ctx.store.as_ref()).await?;
    let now = d.ctx.now();
    let share = (MAX_PER_SWEEP / tenants.len().max(1)).max(MIN_PER_TENANT);
    let mut queues = Vec::new();
    for t in &tenants {
        let access = match probe(d, t, &mut report).await {
            Ok(a) => a,
            Err(e) => {
                report.error(&t.gln, "probing the credential", &e);
                continue;
            }
        };
        if access == Access::Blocked {
            continue;
        }
        match due_records(d, &t.gln, now, share).await {
            Ok(due) if due.is_empty() => {
                if access == Access::ProbeUc {
                    // Nothing to probe UC with: it stays blocked until a call gets through.
                    d.set_blocked(&t.gln, true);
                    report.tenants_blocked.push(t.gln.to_string());
                }
            }
            Ok(due) => {
                report.due += due.len();
                queues.push(Queue {
                    gln: t.gln.clone(),
                    access,
                    records: due.into_iter(),
                });
            }
            Err(e) => report.error(&t.gln, "reading due deliveries", &e),
        }
    }
    // One record per tenant per turn.
    while !queues.is_empty() {
        let mut i = 0;
        while i < queues.len() {
            if serve_one(d, &mut queues[i], &mut report).await {
                i += 1;
            } else {
                queues.remove(i);
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
