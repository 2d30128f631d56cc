//! SPEC §13: sessions that wait for day-ahead prices.
//!
//! A session on a spot-indexed tariff is priced only with every quarter-hour price and rate
//! it needs. Without them its delivery record is stored unpriced, `pending`, with
//! `awaiting = "awaitingSpotPrices"` (and the first missing interval in `last_result`), and
//! the retry timer re-checks it. When the prices are there the timer prices it and
//! *stores the priced payload before posting it* (a conditional write on the record's
//! version), so the bill is fixed from then on: a later re-import of prices, a crash, or a
//! second instance can never change or double it.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::intake::{read_and_build, Built};
use super::record::{DeliveryRecord, DeliveryState, PayloadKind};
use super::Deliverer;
use crate::contract::driver::DriverRecord;
use crate::contract::handler::TokenOwner;
use crate::pricing;
use crate::session::SessionCompleted;
use crate::spot::{SpotMissing, SpotPrices};
use crate::store::{Condition, StoreError};
use crate::tenant::{Mode, TenantConfig};

/// The reason code shown in Details, the deliveries list, the admin API and the logs.
pub const AWAITING_SPOT_PRICES: &str = "awaitingSpotPrices";

/// How long a waiting session sleeps before the timer looks again. Day-ahead prices are
/// published once a day (after 13:00 CET), so a quarter of an hour is prompt enough.
pub const RECHECK_MINUTES: i64 = 15;

pub fn recheck_at(now: DateTime<Utc>) -> DateTime<Utc> {
    now + TimeDelta::minutes(RECHECK_MINUTES)
}

/// The prices and rates `session` needs if its tariff is spot-indexed (else none), read from
/// the store. Only what is stored: pricing names the first gap.
pub async fn prefetch(
    d: &Deliverer,
    cfg: &TenantConfig,
    session: &SessionCompleted,
    driver: Option<&DriverRecord>,
) -> Result<SpotPrices, StoreError> {
    // Priced as Type B by its own end time (SPEC §12): after a migration's cutover although
    // the stored mode is still meterValue, and before it for the shadow.
    let end = session.timestamp_end;
    if crate::migration::mode_at(cfg, end) != Mode::CostedTransaction
        && !crate::migration::shadow_wanted(cfg, end)
    {
        return Ok(SpotPrices::default());
    }
    let Ok(tariffs) = cfg.parsed_tariffs() else {
        return Ok(SpotPrices::default());
    };
    let site = session
        .site_id
        .or_else(|| driver.and_then(|d| d.state.site_id));
    let Ok(tariff) =
        pricing::select_tariff(&tariffs, &cfg.site_tariffs, site, session.timestamp_start)
    else {
        return Ok(SpotPrices::default());
    };
    match pricing::spot::spot_need(session, tariff) {
        Some(need) => crate::spot::store::fetch(d.ctx.store.as_ref(), &need).await,
        None => Ok(SpotPrices::default()),
    }
}

/// The unpriced record of a session whose prices are not all stored yet.
pub(crate) fn awaiting_record(
    cfg: &TenantConfig,
    session: &SessionCompleted,
    owner: &TokenOwner,
    raw_session: Option<Value>,
    tariff_id: &str,
    missing: &SpotMissing,
    now: DateTime<Utc>,
) -> Built {
    Built {
        record: DeliveryRecord {
            session: raw_session,
            tariff_id: Some(tariff_id.to_owned()),
            awaiting: Some(AWAITING_SPOT_PRICES.to_owned()),
            last_result: Some(format!("{AWAITING_SPOT_PRICES}: {missing}")),
            ..DeliveryRecord::new_pending(
                cfg.gln.clone(),
                session.transaction_id.clone(),
                PayloadKind::InvoiceLine,
                Value::Null,
                owner.external_id.clone(),
                now,
            )
        },
        recon: None,
    }
}

/// What the timer found for a waiting record.
pub enum Reprice {
    /// Priced and stored (the record as written, at `version`).
    Priced {
        record: DeliveryRecord,
        version: u64,
    },
    /// Still missing something: waits on.
    Waiting(DeliveryRecord),
    /// Cannot be priced at all (the tariff changed into something invalid, the session
    /// unreadable): rejected with the reason, for an operator.
    Failed(DeliveryRecord),
    /// Another instance changed the record meanwhile: leave it to that one.
    Lost,
}

/// Prices a claimed, waiting record with what is stored now. When priced, the payload is
/// written (conditional on `version`) before anything is posted.
pub async fn reprice(
    d: &Deliverer,
    cfg: &TenantConfig,
    mut record: DeliveryRecord,
    version: u64,
) -> Result<Reprice, StoreError> {
    let now = d.ctx.now();
    let session = match record
        .session
        .as_ref()
        .map(SessionCompleted::from_value)
        .transpose()
    {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(fail(record, "the stored session is missing".into(), now)),
        Err(e) => {
            return Ok(fail(
                record,
                format!("the stored session is unreadable: {e}"),
                now,
            ))
        }
    };
    let owner = TokenOwner {
        external_id: record.accounting_point.clone(),
        kind: crate::contract::driver::TokenKind::Rfid,
    };
    let built = match read_and_build(d, cfg, &session, &owner, record.session.clone(), now).await? {
        Ok(b) => b.record,
        Err(reason) => return Ok(fail(record, reason, now)),
    };
    if built.awaiting.is_some() {
        record.last_result = built.last_result;
        return Ok(Reprice::Waiting(record));
    }
    let mut payload = built.payload;
    // A correction `<root>-R<n>` keeps its own id (the session carries the root's).
    if let Some(obj) = payload.as_object_mut() {
        obj.insert(
            "transactionId".into(),
            Value::String(record.transaction_id.clone()),
        );
    }
    record.payload = payload;
    record.tariff_id = built.tariff_id;
    record.warnings = built.warnings;
    record.awaiting = None;
    record.last_result = Some("priced with the stored spot prices".into());
    record.updated_at = now;
    match d
        .ctx
        .store
        .put(record.to_item(version + 1)?, Condition::Version(version))
        .await
    {
        Ok(()) => {}
        Err(e) if e.is_condition_failure() => return Ok(Reprice::Lost),
        Err(e) => return Err(e),
    }
    tracing::info!(tenant = %record.tenant, transaction_id = %record.transaction_id, "spot prices arrived: priced");
    Ok(Reprice::Priced {
        record,
        version: version + 1,
    })
}

fn fail(mut record: DeliveryRecord, reason: String, now: DateTime<Utc>) -> Reprice {
    record.state = DeliveryState::Rejected;
    record.next_attempt_at = None;
    record.lease_until = None;
    record.lease_owner = None;
    record.updated_at = now;
    record.last_result = Some(format!("cannot be priced: {reason}"));
    Reprice::Failed(record)
}
