//! Session delivery to Utility Cloud, exactly once (SPEC §4, §6).
//!
//! * `intake`: a session-completed event → validated, routed, priced (Type B) or turned into
//!   a meter-value series (Type A) → a delivery record created atomically with its log
//!   entry → first attempt inline.
//! * `attempt`: the HTTP side of one attempt; `machine`: the pure state transitions.
//! * `sweep`: the delivery-retry timer: probe blocked tenants, then drain due deliveries.
//! * `credit`: credits and corrections (a correction waits for its credit); `redrive`: an
//!   operator's retry; `reconcile`: revenue-share reconciliation entries.
//!
//! Exactly once: the record is created with a "does not exist" condition (duplicates and
//! concurrent instances lose), attempts are claimed with a lease (conditional write), and a
//! POST whose outcome is unknown (timeout, 5xx, crash) marks the record `in_flight`, which
//! makes the next attempt ask UC (GET) before posting again.

pub mod attempt;
pub mod credit;
pub mod intake;
pub mod machine;
pub mod meter_series;
pub mod reconcile;
pub mod record;
pub mod redrive;
pub mod spot_wait;
pub mod status;
pub mod sweep;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::context::Ctx;
use crate::gln::Gln;
use crate::store::{Condition, Key, StoreError, WriteOp};
use crate::uc::client::HttpClient;
use crate::uc::entra::TokenSource;

use machine::{AttemptResult, BlockSource, CreditGate, RetryPolicy};
use record::{DeliveryRecord, DeliveryState};

/// Default timeout of one HTTP call to UC or Entra.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The most HTTP calls one attempt can chain (`attempt.rs`): token, GET, fresh token, GET
/// before posting; POST, fresh token, POST; on a 409 a GET, fresh token, GET.
pub const MAX_CALLS_PER_ATTEMPT: u32 = 10;

/// Added to the longest attempt for the store writes around it.
pub const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Everything a delivery needs: core context, HTTP, token cache, retry policy.
pub struct Deliverer {
    pub ctx: Arc<Ctx>,
    pub http: HttpClient,
    pub tokens: TokenSource,
    pub policy: RetryPolicy,
    /// Names this instance in leases, for operators reading a stuck record.
    pub instance: String,
    /// The longest one attempt can take: every call it may chain, each at the HTTP timeout.
    pub max_attempt: Duration,
    blocked: Mutex<HashSet<Gln>>,
    /// When the current invocation is cut off (Lambda), if the platform says.
    deadline: Mutex<Option<Instant>>,
}

impl Deliverer {
    pub fn new(ctx: Arc<Ctx>, http_timeout: Duration) -> Result<Self, String> {
        let mut id = [0u8; 4];
        let _ = getrandom::fill(&mut id);
        let mut policy = RetryPolicy::default();
        // A lease must outlive the slowest attempt, or a second instance could take over a
        // record whose POST is still on its way. Saturating and bounded: the timeout comes
        // from configuration.
        let max_attempt = http_timeout.saturating_mul(MAX_CALLS_PER_ATTEMPT);
        policy.lease = max_attempt
            .saturating_add(LEASE_MARGIN)
            .min(machine::MAX_SCHEDULE);
        Ok(Deliverer {
            ctx,
            http: HttpClient::new(http_timeout)?,
            tokens: TokenSource::new(),
            policy,
            instance: format!("ucc-{}", hex::encode(id)),
            max_attempt,
            blocked: Mutex::new(HashSet::new()),
            deadline: Mutex::new(None),
        })
    }

    /// Sets (or clears) when the current invocation ends. Attempts that could not finish
    /// before it are not started: their records stay pending for the retry timer.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = deadline;
        }
    }

    /// Whether an attempt started now is sure to finish before the invocation's deadline.
    pub fn has_time_for_attempt(&self) -> bool {
        let deadline = self.deadline.lock().ok().and_then(|d| *d);
        deadline.is_none_or(|end| {
            Instant::now()
                .checked_add(self.max_attempt.saturating_add(LEASE_MARGIN))
                .is_some_and(|done| done <= end)
        })
    }

    /// Whether this instance knows the tenant's credential to be broken.
    pub fn is_blocked(&self, gln: &Gln) -> bool {
        self.blocked
            .lock()
            .map(|b| b.contains(gln))
            .unwrap_or(false)
    }

    fn set_blocked(&self, gln: &Gln, blocked: bool) -> bool {
        match self.blocked.lock() {
            Ok(mut b) if blocked => b.insert(gln.clone()),
            Ok(mut b) => b.remove(gln),
            Err(_) => false,
        }
    }

    /// Marks `rec` as attempted by this instance from `now`: a POST may go out, so until a
    /// result is recorded, whoever takes over must ask UC (GET) before posting again.
    pub(crate) fn lease(&self, rec: &mut DeliveryRecord, now: chrono::DateTime<chrono::Utc>) {
        rec.in_flight = true;
        // Saturating: no policy or clock value can make this panic.
        rec.lease_until = Some(machine::later(now, self.policy.lease));
        rec.lease_owner = Some(self.instance.clone());
    }

    fn jitter() -> f64 {
        let mut b = [0u8; 2];
        let _ = getrandom::fill(&mut b);
        f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
    }
}

/// A claimed record: the version the claim wrote, and whether an earlier POST may have landed.
pub struct Claim {
    pub record: DeliveryRecord,
    pub version: u64,
    pub prior_in_flight: bool,
}

/// Takes the lease on a pending record, unless it is done or another instance holds it.
pub async fn claim(d: &Deliverer, key: &Key) -> Result<Option<Claim>, StoreError> {
    let Some(item) = d.ctx.store.get(key).await? else {
        return Ok(None);
    };
    let mut rec = DeliveryRecord::from_item(&item)?;
    let now = d.ctx.now();
    if rec.state != DeliveryState::Pending || rec.lease_until.is_some_and(|l| l > now) {
        return Ok(None);
    }
    // A lease that expired without a recorded result means an instance died mid-attempt.
    let prior_in_flight = rec.in_flight || rec.lease_until.is_some();
    d.lease(&mut rec, now);
    rec.updated_at = now;
    let version = item.version + 1;
    match d
        .ctx
        .store
        .put(rec.to_item(version)?, Condition::Version(item.version))
        .await
    {
        Ok(()) => Ok(Some(Claim {
            record: rec,
            version,
            prior_in_flight,
        })),
        Err(e) if e.is_condition_failure() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs the attempt for a claimed record, writes the call logs, then records its outcome.
pub async fn attempt_claimed(d: &Deliverer, claim: Claim) -> Result<DeliveryRecord, StoreError> {
    attempt_as(d, claim, false).await
}

/// The attempt the retry timer makes as the probe of a tenant that UC blocked (401 twice):
/// it goes out although the tenant is blocked, and anything but another refusal unblocks
/// the tenant in the same transaction that records the result.
pub(crate) async fn probe_claimed(
    d: &Deliverer,
    claim: Claim,
) -> Result<DeliveryRecord, StoreError> {
    attempt_as(d, claim, true).await
}

async fn attempt_as(
    d: &Deliverer,
    claim: Claim,
    probe: bool,
) -> Result<DeliveryRecord, StoreError> {
    let Claim {
        mut record,
        mut version,
        prior_in_flight,
    } = claim;
    if let Some(credit_id) = record.waits_for.clone() {
        let credit = d
            .ctx
            .store
            .get(&record::key(&record.tenant, &credit_id))
            .await?
            .map(|i| DeliveryRecord::from_item(&i))
            .transpose()?;
        let gate = machine::credit_gate(&credit_id, credit.as_ref(), d.ctx.now());
        if gate != CreditGate::Open {
            return record_gate(d, record, version, &gate).await;
        }
    }
    let cfg =
        d.ctx.tenant(&record.tenant).await?.ok_or_else(|| {
            StoreError::Invalid(format!("tenant {} no longer exists", record.tenant))
        })?;
    // SPEC §13: a session waiting for spot prices is priced (and that price stored) first;
    // while any price is missing it waits on and nothing is posted.
    if record.awaiting.is_some() {
        match spot_wait::reprice(d, &cfg, record.clone(), version).await? {
            spot_wait::Reprice::Priced {
                record: priced,
                version: v,
            } => {
                record = priced;
                version = v;
            }
            spot_wait::Reprice::Waiting(r) => return record_spot_wait(d, r, version, false).await,
            spot_wait::Reprice::Failed(r) => return record_spot_wait(d, r, version, true).await,
            spot_wait::Reprice::Lost => return Ok(record),
        }
    }
    // Another instance may have seen the credential work again since this one marked the
    // tenant blocked: the persisted status decides (one read, only while blocked here).
    if d.is_blocked(&record.tenant)
        && status::get(d.ctx.store.as_ref(), &record.tenant)
            .await?
            .status
            == status::Connection::Ok
    {
        d.set_blocked(&record.tenant, false);
    }
    let attempted = if d.is_blocked(&record.tenant) && !probe {
        attempt::Attempted {
            result: AttemptResult::AuthBlocked {
                error: "tenant is authBlocked: waiting for a working credential".into(),
                source: BlockSource::Entra,
            },
            posted: false,
            logs: Vec::new(),
        }
    } else {
        attempt::run(d, &cfg, &record, prior_in_flight).await
    };
    let now = d.ctx.now();
    machine::apply(
        &mut record,
        &attempted.result,
        attempted.posted,
        prior_in_flight,
        now,
        &d.policy,
        Deliverer::jitter(),
    );
    // The calls' log entries go first, each a plain put: they record HTTP exchanges that
    // already happened, true whether or not the state below commits. Written before it, no
    // committed state change is ever without them (a crash in between leaves the record
    // leased, and the next attempt asks UC before posting); and a lost lease no longer loses
    // the log of a POST that went out. Outside the transaction each costs half
    // (BENCHMARKS.md, cost model), and the state alone is then one conditional put.
    for entry in &attempted.logs {
        d.ctx
            .store
            .put(
                entry.to_item(d.ctx.log_retention_for(entry.tenant.as_ref()))?,
                Condition::Always,
            )
            .await?;
    }
    let mut ops = moved_ops(&mut record, DeliveryState::Pending, version)?;
    if record.state == DeliveryState::Delivered {
        for op in release_correction(d, &record, now).await? {
            // Merged: the credit and its correction may share a counter shard.
            crate::counts::push(&mut ops, op);
        }
    }
    let newly_blocked = matches!(attempted.result, AttemptResult::AuthBlocked { .. })
        && d.set_blocked(&record.tenant, true);
    match &attempted.result {
        // A failed probe leaves the status (and its "since") as it was.
        AttemptResult::AuthBlocked { source, .. } if newly_blocked && !probe => {
            ops.push(status::put_op(
                &record.tenant,
                status::Connection::AuthBlocked,
                record.last_result.clone(),
                Some(*source),
                now,
            )?);
        }
        // Only an answer that got past UC's authentication proves the credential again.
        AttemptResult::Accepted { .. }
        | AttemptResult::AlreadyThere
        | AttemptResult::Rejected { .. }
            if probe =>
        {
            d.set_blocked(&record.tenant, false);
            ops.push(status::put_op(
                &record.tenant,
                status::Connection::Ok,
                None,
                None,
                now,
            )?);
            tracing::info!(tenant = %record.tenant, "UC accepts the credential again: tenant unblocked");
        }
        _ => {}
    }
    match d.ctx.store.transact(ops).await {
        Ok(()) => {}
        Err(e) if e.is_condition_failure() => {
            // Our lease expired and another instance took over; it will verify with UC
            // before posting, so nothing is lost or doubled. Its result wins.
            tracing::warn!(tenant = %record.tenant, transaction_id = %record.transaction_id, "lease lost before recording the attempt");
            return Ok(record);
        }
        Err(e) => return Err(e),
    }
    tracing::info!(
        tenant = %record.tenant,
        transaction_id = %record.transaction_id,
        state = record.state.as_str(),
        attempts = record.attempts,
        "delivery attempt"
    );
    Ok(record)
}

/// The writes that store `rec` after it moved from `was`: the record, conditional on the
/// version it was read at, then the changes of the tenant's counts.
pub(crate) fn moved_ops(
    rec: &mut DeliveryRecord,
    was: DeliveryState,
    read_version: u64,
) -> Result<Vec<WriteOp>, StoreError> {
    let mut counted = Vec::new();
    crate::counts::record_moved(&mut counted, rec, was);
    let mut ops = vec![WriteOp::Put {
        item: rec.to_item(read_version + 1)?,
        condition: Condition::Version(read_version),
    }];
    ops.extend(counted);
    Ok(ops)
}

/// Records a correction that may not be posted yet (its credit is pending or rejected).
/// Stores a waiting record back (due again in a quarter of an hour), or one that cannot be
/// priced as rejected with a log note, releasing the lease.
async fn record_spot_wait(
    d: &Deliverer,
    mut record: DeliveryRecord,
    version: u64,
    failed: bool,
) -> Result<DeliveryRecord, StoreError> {
    let now = d.ctx.now();
    record.lease_until = None;
    record.lease_owner = None;
    record.updated_at = now;
    if !failed {
        record.next_attempt_at = Some(spot_wait::recheck_at(now));
    }
    let mut ops = moved_ops(&mut record, DeliveryState::Pending, version)?;
    if failed {
        let entry = crate::log::LogEntry::note(
            &record.tenant,
            now,
            record.kind.action(),
            &record.transaction_id,
            "rejected",
            record.last_result.as_deref().unwrap_or_default(),
        );
        ops.push(WriteOp::Put {
            item: entry.to_item(d.ctx.log_retention_for(Some(&record.tenant)))?,
            condition: Condition::Always,
        });
    }
    tracing::info!(tenant = %record.tenant, transaction_id = %record.transaction_id, state = record.state.as_str(), reason = record.awaiting.as_deref().unwrap_or_default(), detail = record.last_result.as_deref().unwrap_or_default(), "spot prices checked");
    match d.ctx.store.transact(ops).await {
        Ok(()) => Ok(record),
        Err(e) if e.is_condition_failure() => Ok(record),
        Err(e) => Err(e),
    }
}

async fn record_gate(
    d: &Deliverer,
    mut record: DeliveryRecord,
    version: u64,
    gate: &CreditGate,
) -> Result<DeliveryRecord, StoreError> {
    let now = d.ctx.now();
    machine::apply_gate(&mut record, gate, now);
    let mut ops = moved_ops(&mut record, DeliveryState::Pending, version)?;
    if let CreditGate::Hold { reason } = gate {
        let entry = crate::log::LogEntry::note(
            &record.tenant,
            now,
            record.kind.action(),
            &record.transaction_id,
            "held",
            reason,
        );
        ops.push(WriteOp::Put {
            item: entry.to_item(d.ctx.log_retention_for(Some(&record.tenant)))?,
            condition: Condition::Always,
        });
        tracing::warn!(tenant = %record.tenant, transaction_id = %record.transaction_id, reason = %reason, "correction held");
    }
    match d.ctx.store.transact(ops).await {
        Ok(()) => Ok(record),
        Err(e) if e.is_condition_failure() => Ok(record),
        Err(e) => Err(e),
    }
}

/// When a credit is delivered, the correction waiting for it becomes due at once (a held
/// one is released): the writes that go into the credit's own result transaction.
async fn release_correction(
    d: &Deliverer,
    credit: &DeliveryRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<WriteOp>, StoreError> {
    let Some(r_id) = &credit.followed_by else {
        return Ok(Vec::new());
    };
    let Some(item) = d.ctx.store.get(&record::key(&credit.tenant, r_id)).await? else {
        return Ok(Vec::new());
    };
    let mut r = DeliveryRecord::from_item(&item)?;
    let waiting = r.state == DeliveryState::Held
        || (r.state == DeliveryState::Pending
            && r.lease_until.is_none()
            && r.next_attempt_at.is_some_and(|t| t > now));
    if !waiting {
        return Ok(Vec::new());
    }
    let was = r.state;
    machine::release(&mut r, now);
    moved_ops(&mut r, was, item.version)
}

/// Claims and attempts a record if it is due and free. `None` when there was nothing to do.
pub async fn deliver(d: &Deliverer, key: &Key) -> Result<Option<DeliveryRecord>, StoreError> {
    match claim(d, key).await? {
        Some(c) => attempt_claimed(d, c).await.map(Some),
        None => Ok(None),
    }
}
