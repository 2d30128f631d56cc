//! The session-completed handler: one event in, exactly one outcome out.
//!
//! Store cost on the happy path (warm instance): token owner, driver, one transaction that
//! creates the delivery record with its log entry, the call's log entry, then the attempt's
//! result alone: five requests, one UC call (plus a token call per tenant per hour).

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::meter_series::{build_meter_series, Resolution};
use super::reconcile::ReconEntry;
use super::record::{DeliveryRecord, DeliveryState, PayloadKind};
use super::{attempt_claimed, Claim, Deliverer};
use crate::contract::driver::DriverRecord;
use crate::contract::handler::{driver_key, InboundMessage, TokenOwner};
use crate::contract::tokens;
use crate::contract::ParkReason;
use crate::gln::Gln;
use crate::log::{self, Direction, LogEntry};
use crate::parked::{self, MessageKind, ParkedMessage};
use crate::pricing::{self, InvoiceSettings};
use crate::session::SessionCompleted;
use crate::store::{Condition, StoreError, WriteOp};
use crate::tenant::{Mode, TenantConfig};
use crate::uc::payload::TransactionPayload;

pub const ENDPOINT: &str = "session-completed";
/// Why a session was stored without a first attempt.
pub const DEFERRED: &str =
    "queued for the retry timer: too little time left in this invocation for a first attempt";
pub const ACTION: &str = "SessionCompleted";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum SessionOutcome {
    Delivered,
    Pending {
        reason: String,
    },
    Rejected {
        reason: String,
    },
    /// A correction waiting for an operator: its credit was rejected.
    Held {
        reason: String,
    },
    /// Already received: nothing new happens; `state` is where the first one stands.
    Duplicate {
        state: String,
    },
    Ignored {
        reason: String,
    },
    Parked {
        reason: ParkReason,
        #[serde(rename = "parkedId")]
        id: String,
        description: String,
    },
}

impl SessionOutcome {
    pub fn name(&self) -> &'static str {
        match self {
            SessionOutcome::Delivered => "delivered",
            SessionOutcome::Pending { .. } => "pending",
            SessionOutcome::Rejected { .. } => "rejected",
            SessionOutcome::Held { .. } => "held",
            SessionOutcome::Duplicate { .. } => "duplicate",
            SessionOutcome::Ignored { .. } => "ignored",
            SessionOutcome::Parked { .. } => "parked",
        }
    }

    /// The parked message's id, when the session was parked.
    pub fn parked_id(&self) -> Option<&str> {
        match self {
            SessionOutcome::Parked { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            SessionOutcome::Pending { reason }
            | SessionOutcome::Rejected { reason }
            | SessionOutcome::Held { reason }
            | SessionOutcome::Ignored { reason } => Some(reason.clone()),
            SessionOutcome::Parked { reason, .. } => Some(reason.as_str().to_owned()),
            SessionOutcome::Duplicate { state } => Some(format!("already {state}")),
            SessionOutcome::Delivered => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionHandled {
    #[serde(flatten)]
    pub outcome: SessionOutcome,
    pub tenant: Option<Gln>,
    pub transaction_id: Option<String>,
}

pub(crate) fn outcome_of(rec: &DeliveryRecord) -> SessionOutcome {
    match rec.state {
        DeliveryState::Delivered => SessionOutcome::Delivered,
        DeliveryState::Rejected => SessionOutcome::Rejected {
            reason: rec.last_result.clone().unwrap_or_default(),
        },
        DeliveryState::Pending => SessionOutcome::Pending {
            reason: rec.last_result.clone().unwrap_or_else(|| "queued".into()),
        },
        DeliveryState::Held => SessionOutcome::Held {
            reason: rec.last_result.clone().unwrap_or_default(),
        },
    }
}

pub(crate) struct Inbound<'a> {
    msg: &'a InboundMessage,
    started: Instant,
}

impl Inbound<'_> {
    fn log(&self, d: &Deliverer, tenant: Option<&Gln>, handled: &SessionHandled) -> LogEntry {
        let now = d.ctx.now();
        let (payload, truncated) = log::payload_text(&self.msg.body);
        LogEntry {
            id: log::new_id(now),
            tenant: tenant.cloned(),
            time: now,
            direction: Direction::Inbound,
            endpoint: ENDPOINT.into(),
            action: ACTION.into(),
            response_code: 200,
            outcome: Some(handled.outcome.name().into()),
            reason: handled.outcome.reason(),
            reference_id: handled.transaction_id.clone(),
            event_id: None,
            duration_ms: self.started.elapsed().as_millis() as u64,
            request_payload: payload,
            request_truncated: truncated,
            request_properties: (!self.msg.properties.is_null())
                .then(|| self.msg.properties.clone()),
            response_body: serde_json::to_value(&handled.outcome).ok(),
        }
    }
}

/// A failure worth a redelivery by the platform.
pub type Transient = StoreError;

/// Handles one session-completed event. `Err` only for a transient failure (the platform
/// redelivers); anything deterministic that keeps the event from being stored as it is
/// (SPEC §6: e.g. a meter-value series over the store's item limit) is parked with the
/// store's reason, so it is never redelivered until the platform's dead-letter queue.
pub async fn handle(d: &Deliverer, msg: &InboundMessage) -> Result<SessionHandled, Transient> {
    match handle_storable(d, msg).await {
        Err(e) if !e.is_transient() => {
            tracing::warn!(error = %e, "session cannot be stored as it is: parking it");
            let inbound = Inbound {
                msg,
                started: Instant::now(),
            };
            let raw: Option<Value> = serde_json::from_slice(&msg.body).ok();
            let tenant = match raw
                .as_ref()
                .and_then(|v| v.get("customerId")?.as_str())
                .filter(|c| {
                    crate::session::check_id(c, "customerId", crate::session::MAX_ID_CHARS).is_ok()
                }) {
                Some(c) => d.ctx.customer_gln(c).await?,
                None => None,
            };
            let reference = raw.as_ref().and_then(|v| match v.get("transactionId")? {
                Value::String(s) => Some(s.chars().take(64).collect()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            park(
                d,
                &inbound,
                tenant,
                ParkReason::InvalidSession,
                format!("the session cannot be stored as it is: {e}"),
                reference,
            )
            .await
        }
        other => other,
    }
}

async fn handle_storable(d: &Deliverer, msg: &InboundMessage) -> Result<SessionHandled, Transient> {
    let inbound = Inbound {
        msg,
        started: Instant::now(),
    };
    let raw: Option<Value> = serde_json::from_slice(&msg.body).ok();
    let customer = raw
        .as_ref()
        .and_then(|v| v.get("customerId")?.as_str().map(str::to_owned));
    let tx_hint = raw.as_ref().and_then(|v| match v.get("transactionId")? {
        Value::String(s) => Some(s.chars().take(64).collect()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    // Only a well-formed id is looked up: an empty or over-long one is no store key, and the
    // event is parked below as invalid (never retried).
    let routed = match customer
        .as_deref()
        .filter(|c| crate::session::check_id(c, "customerId", crate::session::MAX_ID_CHARS).is_ok())
    {
        Some(c) => d.ctx.customer_gln(c).await?,
        None => None,
    };
    let session = match SessionCompleted::from_json(&msg.body) {
        Ok(s) => s,
        Err(e) => {
            let description = format!("session is invalid: {e}");
            return park(
                d,
                &inbound,
                routed,
                ParkReason::InvalidSession,
                description,
                tx_hint,
            )
            .await;
        }
    };
    let Some(gln) = routed else {
        let description = format!(
            "customerId {:?} belongs to no configured tenant; configure it, then replay",
            session.customer_id
        );
        return park(
            d,
            &inbound,
            None,
            ParkReason::UnknownCustomer,
            description,
            Some(session.transaction_id.clone()),
        )
        .await;
    };
    let Some(cfg) = d.ctx.tenant(&gln).await? else {
        let description = format!(
            "tenant {gln} of customerId {:?} has no configuration",
            session.customer_id
        );
        return park(
            d,
            &inbound,
            None,
            ParkReason::UnknownCustomer,
            description,
            Some(session.transaction_id.clone()),
        )
        .await;
    };
    let owner = tokens::owner_of(d.ctx.store.as_ref(), &gln, &session.authorized_id_tag).await?;
    let Some(owner) = owner else {
        let handled = SessionHandled {
            outcome: SessionOutcome::Ignored {
                reason: format!(
                    "token {:?} belongs to no driver of tenant {gln}: not a Utility Cloud session",
                    session.authorized_id_tag
                ),
            },
            tenant: Some(gln.clone()),
            transaction_id: Some(session.transaction_id.clone()),
        };
        log::write(&d.ctx, &inbound.log(d, Some(&gln), &handled)).await?;
        tracing::info!(tenant = %gln, transaction_id = %session.transaction_id, outcome = "ignored", "session");
        return Ok(handled);
    };
    let built = match read_and_build(d, &cfg, &session, &owner, raw, d.ctx.now()).await? {
        Ok(b) => b,
        Err(description) => {
            return park(
                d,
                &inbound,
                Some(gln),
                ParkReason::InvalidSession,
                description,
                Some(session.transaction_id.clone()),
            )
            .await;
        }
    };
    create_and_attempt(d, &inbound, &cfg, built).await
}

/// What pricing / series building produced, ready to persist.
pub struct Built {
    pub record: DeliveryRecord,
    pub recon: Option<ReconEntry>,
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a delivery record is built from: the tenant, the session, whose it is (the card's
/// owner when it arrived, or the original line's owner for a re-pricing), that driver's
/// record, and the day-ahead prices a spot-indexed tariff needs.
#[derive(Clone, Copy)]
pub struct BuildInputs<'a> {
    pub cfg: &'a TenantConfig,
    pub session: &'a SessionCompleted,
    pub owner: &'a TokenOwner,
    pub driver: Option<&'a DriverRecord>,
    pub now: DateTime<Utc>,
    pub prices: &'a crate::spot::SpotPrices,
}

/// Reads the owner's driver record and the spot prices the session needs, then builds its
/// record: what a new session, a waiting one priced later and a correction all do, so they
/// cannot differ. `Ok(Err(reason))`: the session cannot be built (park or fail it).
pub async fn read_and_build(
    d: &Deliverer,
    cfg: &TenantConfig,
    session: &SessionCompleted,
    owner: &TokenOwner,
    raw_session: Option<Value>,
    now: DateTime<Utc>,
) -> Result<Result<Built, String>, StoreError> {
    let driver: Option<DriverRecord> = d
        .ctx
        .store
        .get(&driver_key(&cfg.gln, &owner.external_id))
        .await?
        .and_then(|i| serde_json::from_str(&i.doc).ok());
    let prices = super::spot_wait::prefetch(d, cfg, session, driver.as_ref()).await?;
    let inputs = BuildInputs {
        cfg,
        session,
        owner,
        driver: driver.as_ref(),
        now,
        prices: &prices,
    };
    Ok(build(&inputs, raw_session))
}

/// Builds the record for a session (pure). Its mode comes from its `timestampEnd` (SPEC
/// §12, `migration::mode_at`); a meter-value session of a migrating tenant also carries what
/// Type B would bill for it (`shadow`, never sent). A spot-indexed tariff whose prices are
/// missing yields a record built unpriced and `awaiting` (`awaitingSpotPrices`, SPEC §13):
/// it waits, and the retry timer prices it once the prices are stored.
pub fn build(inputs: &BuildInputs<'_>, raw_session: Option<Value>) -> Result<Built, String> {
    let (cfg, end) = (inputs.cfg, inputs.session.timestamp_end);
    let mut built = build_as(crate::migration::mode_at(cfg, end), inputs, raw_session)?;
    if crate::migration::shadow_wanted(cfg, end) {
        let priced = build_as(Mode::CostedTransaction, inputs, None);
        crate::migration::attach_shadow(
            &mut built.record,
            priced.map(|b| b.record),
            inputs.session,
        );
    }
    Ok(built)
}

fn build_as(
    mode: Mode,
    inputs: &BuildInputs<'_>,
    raw_session: Option<Value>,
) -> Result<Built, String> {
    let BuildInputs {
        cfg,
        session,
        owner,
        driver,
        now,
        prices,
    } = *inputs;
    let site = session
        .site_id
        .or_else(|| driver.and_then(|d| d.state.site_id));
    let token_name = driver.and_then(|d| {
        d.state
            .tokens
            .iter()
            .find(|t| t.value == session.authorized_id_tag)
            .and_then(|t| t.name.clone())
    });
    let mut warnings = Vec::new();
    let (kind, payload, tariff_id, recon) = match mode {
        Mode::CostedTransaction => {
            let tariffs = cfg.parsed_tariffs().map_err(|e| e.to_string())?;
            let tariff =
                pricing::select_tariff(&tariffs, &cfg.site_tariffs, site, session.timestamp_start)
                    .map_err(|e| format!("cannot be priced: {e}"))?;
            let settings = InvoiceSettings {
                currency: cfg.currency.clone().unwrap_or_default(),
                vat_percent: cfg.vat_percent.unwrap_or_default(),
                prices_include_vat: cfg.prices_include_vat,
                time_zone: cfg
                    .time_zone
                    .as_deref()
                    .unwrap_or("Europe/Oslo")
                    .parse()
                    .map_err(|_| "tenant timeZone is not an IANA zone".to_owned())?,
            };
            let quote = match pricing::price_session_with_spot(session, tariff, &settings, prices) {
                Ok(q) => q,
                Err(pricing::PricingError::SpotMissing(missing)) => {
                    return Ok(super::spot_wait::awaiting_record(
                        cfg,
                        session,
                        owner,
                        raw_session,
                        &tariff.id,
                        &missing,
                        now,
                    ))
                }
                Err(e) => return Err(format!("cannot be priced: {e}")),
            };
            let site_settings = site.and_then(|s| cfg.sites.get(&s.to_string()));
            let revenue_share_id = site_settings.and_then(|s| s.revenue_share_id);
            let recon = match (site, site_settings) {
                (Some(s), Some(settings)) if settings.revenue_shared && revenue_share_id.is_none() => Some(ReconEntry {
                    tenant: cfg.gln.clone(),
                    transaction_id: session.transaction_id.clone(),
                    site_id: s,
                    created_at: now,
                    note: format!("site {s} is revenue-shared but has no revenueShareId: delivered without the tag"),
                    revenue_share_id_now: None,
                }),
                _ => None,
            };
            let p = TransactionPayload {
                transaction_id: session.transaction_id.clone(),
                transaction_owner_id: owner.external_id.clone(),
                site_id: site.unwrap_or(-1),
                authorized_tag: session.authorized_id_tag.clone(),
                authorized_tag_name: session.authorized_tag_name.clone().or(token_name),
                timestamp_start: utc(session.timestamp_start),
                timestamp_end: utc(session.timestamp_end),
                full_consumption_k_wh: quote.invoice.full_consumption_kwh,
                currency: quote.invoice.currency.clone(),
                vat_percent: quote.invoice.vat_percent,
                total_cost_incl_vat: quote.invoice.total_cost_incl_vat,
                total_cost_excl_vat: quote.invoice.total_cost_excl_vat,
                total_vat: quote.invoice.total_vat,
                credit_reference_transaction_id: None,
                revenue_share_id,
            };
            let v = serde_json::to_value(&p).map_err(|e| e.to_string())?;
            warnings = quote.warnings;
            (PayloadKind::InvoiceLine, v, Some(quote.tariff_id), recon)
        }
        Mode::MeterValue => {
            let resolution: Resolution = cfg
                .meter_value_resolution
                .parse()
                .map_err(|e: super::meter_series::UnknownResolution| e.to_string())?;
            let series = build_meter_series(session, &owner.external_id, resolution);
            let v = serde_json::to_value(&series).map_err(|e| e.to_string())?;
            (PayloadKind::MeterValues, v, None, None)
        }
    };
    Ok(Built {
        record: DeliveryRecord {
            session: raw_session,
            tariff_id,
            warnings,
            ..DeliveryRecord::new_pending(
                cfg.gln.clone(),
                session.transaction_id.clone(),
                kind,
                payload,
                owner.external_id.clone(),
                now,
            )
        },
        recon,
    })
}

/// Persists a new record (claimed by us, with its log entry and reconciliation entry) and
/// makes the first attempt. A record that already exists makes this a duplicate.
pub(crate) async fn create_and_attempt(
    d: &Deliverer,
    inbound: &Inbound<'_>,
    cfg: &TenantConfig,
    built: Built,
) -> Result<SessionHandled, Transient> {
    let Built { mut record, recon } = built;
    let now = d.ctx.now();
    // SPEC §6: a first attempt that could not finish in the invocation's remaining time is
    // left to the retry timer rather than cut off halfway.
    let awaiting = record.awaiting.clone();
    let attempt_now = awaiting.is_none() && d.has_time_for_attempt();
    let reason = if let Some(code) = &awaiting {
        // SPEC §13: not priced yet; the retry timer prices and delivers it.
        record.next_attempt_at = Some(super::spot_wait::recheck_at(now));
        code.as_str()
    } else if attempt_now {
        d.lease(&mut record, now);
        "accepted"
    } else {
        record.next_attempt_at = Some(now);
        record.last_result = Some(DEFERRED.into());
        DEFERRED
    };
    // Counted only when it will wait: a session whose first attempt delivers it never
    // touches the counters.
    let mut counted = Vec::new();
    if !attempt_now {
        crate::counts::record_moved(&mut counted, &mut record, DeliveryState::Pending);
    }
    let tx = record.transaction_id.clone();
    let pending = SessionHandled {
        outcome: SessionOutcome::Pending {
            reason: reason.into(),
        },
        tenant: Some(cfg.gln.clone()),
        transaction_id: Some(tx.clone()),
    };
    let mut ops = vec![
        WriteOp::Put {
            item: record.to_item(1)?,
            condition: Condition::NotExists,
        },
        WriteOp::Put {
            item: inbound
                .log(d, Some(&cfg.gln), &pending)
                .to_item(d.ctx.log_retention_for(Some(&cfg.gln)))?,
            condition: Condition::Always,
        },
    ];
    if let Some(r) = &recon {
        ops.push(r.put_op()?);
    }
    if let Some(s) = &record.shadow {
        ops.push(crate::migration::entry_op(&cfg.gln, s)?);
    }
    ops.extend(counted);
    if !record.warnings.is_empty() {
        let note = LogEntry::note(
            &cfg.gln,
            now,
            record.kind.action(),
            &tx,
            "pricedWithWarnings",
            &record.warnings.join("; "),
        );
        ops.push(WriteOp::Put {
            item: note.to_item(d.ctx.log_retention_for(Some(&cfg.gln)))?,
            condition: Condition::Always,
        });
    }
    match d.ctx.store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0, .. }) => {
            let existing = d.ctx.store.get(&record.key()).await?;
            let state = existing
                .and_then(|i| DeliveryRecord::from_item(&i).ok())
                .map_or_else(|| "pending".to_owned(), |r| r.state.as_str().to_owned());
            let handled = SessionHandled {
                outcome: SessionOutcome::Duplicate { state },
                tenant: Some(cfg.gln.clone()),
                transaction_id: Some(tx.clone()),
            };
            log::write(&d.ctx, &inbound.log(d, Some(&cfg.gln), &handled)).await?;
            tracing::info!(tenant = %cfg.gln, transaction_id = %tx, outcome = "duplicate", "session");
            return Ok(handled);
        }
        Err(e) => return Err(e),
    }
    if recon.is_some() {
        tracing::warn!(tenant = %cfg.gln, transaction_id = %tx, "revenue-shared site without revenueShareId: delivered untagged, reconciliation entry written");
    }
    if let Some(code) = &awaiting {
        tracing::warn!(tenant = %cfg.gln, transaction_id = %tx, outcome = "pending", reason = %code, detail = record.last_result.as_deref().unwrap_or_default(), "session waits for spot prices");
        return Ok(pending);
    }
    if !attempt_now {
        tracing::info!(tenant = %cfg.gln, transaction_id = %tx, outcome = "pending", "session: {DEFERRED}");
        return Ok(pending);
    }
    let claim = Claim {
        record,
        version: 1,
        prior_in_flight: false,
    };
    let rec = attempt_claimed(d, claim).await?;
    let handled = SessionHandled {
        outcome: outcome_of(&rec),
        tenant: Some(cfg.gln.clone()),
        transaction_id: Some(tx),
    };
    tracing::info!(tenant = %cfg.gln, transaction_id = %rec.transaction_id, outcome = handled.outcome.name(), "session");
    Ok(handled)
}

async fn park(
    d: &Deliverer,
    inbound: &Inbound<'_>,
    tenant: Option<Gln>,
    reason: ParkReason,
    description: String,
    reference: Option<String>,
) -> Result<SessionHandled, Transient> {
    let mut p = ParkedMessage::new(
        tenant.as_ref(),
        MessageKind::Session,
        reason,
        description.clone(),
        &inbound.msg.body,
        inbound.msg.properties.clone(),
        d.ctx.now(),
    );
    p.reference_id = reference.clone();
    let handled = SessionHandled {
        outcome: SessionOutcome::Parked {
            reason,
            id: p.id.clone(),
            description,
        },
        tenant: tenant.clone(),
        transaction_id: reference,
    };
    let entry = inbound.log(d, tenant.as_ref(), &handled);
    parked::park(
        d.ctx.store.as_ref(),
        &p,
        &entry,
        d.ctx.log_retention_for(entry.tenant.as_ref()),
    )
    .await?;
    tracing::warn!(tenant = ?tenant, outcome = "parked", reason = reason.as_str(), parked_id = %p.id, "session");
    Ok(handled)
}

/// Re-runs a parked session event with the current configuration.
pub async fn replay(
    d: &Deliverer,
    p: &ParkedMessage,
) -> Result<Result<SessionHandled, String>, Transient> {
    let msg = match p.to_message() {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let handled = handle(d, &msg).await?;
    p.settle_replay(d.ctx.store.as_ref(), handled.outcome.parked_id())
        .await?;
    Ok(Ok(handled))
}
