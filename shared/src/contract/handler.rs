//! The contract-events handler: one message in, exactly one outcome out.
//!
//! Store cost on the happy path: read the tenant config (cached per instance), read the
//! driver, then ONE transaction that writes the driver (conditional on the version read),
//! the token holder entries whose event changed (see [`super::tokens`]), any new legacy
//! token entries and the log entry. A conflicting concurrent writer makes the condition
//! fail; the handler re-reads and re-merges, so no update is lost.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::driver::{AppliedEvent, DriverRecord, Merge};
use super::event::{classify, Classified, ContractEvent, ParkReason};
use super::tokens::holder_ops;
pub use super::tokens::{token_key, TokenOwner};
use crate::context::Ctx;
use crate::gln::Gln;
use crate::keys;
use crate::log::{self, Direction, LogEntry};
use crate::parked::{self, MessageKind, ParkedMessage};
use crate::store::{Condition, Item, Key, StoreError, WriteOp};
use crate::tenant::TenantConfig;
use crate::token::new_virtual_token;

/// Optimistic-concurrency retries before the message goes back to the bus.
const MAX_ATTEMPTS: usize = 16;
pub const ENDPOINT: &str = "contract-events";

/// A message as the platform delivered it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundMessage {
    pub body: Vec<u8>,
    /// Application/user properties and broker metadata worth keeping.
    pub properties: Value,
    pub message_id: Option<String>,
}

impl InboundMessage {
    pub fn from_body(body: impl Into<Vec<u8>>) -> Self {
        InboundMessage {
            body: body.into(),
            properties: Value::Null,
            message_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    Ignored {
        reason: String,
    },
    Applied,
    Duplicate,
    Stale,
    Parked {
        reason: ParkReason,
        #[serde(rename = "parkedId")]
        id: String,
        description: String,
    },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Ignored { .. } => "ignored",
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Parked { .. } => "parked",
        }
    }

    /// The parked message's id, when the event was parked.
    pub fn parked_id(&self) -> Option<&str> {
        match self {
            Outcome::Parked { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Ignored { reason } => Some(reason.clone()),
            Outcome::Parked { reason, .. } => Some(reason.as_str().to_owned()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Handled {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub tenant: Option<Gln>,
    pub reference: Option<String>,
    pub event_id: Option<String>,
}

/// A failure worth retrying: the platform should redeliver the message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("transient store failure: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Random(#[from] crate::token::RandomError),
    #[error("contention on accounting point {0}: too many concurrent writers")]
    Contention(String),
}

struct LogCtx<'a> {
    msg: &'a InboundMessage,
    started: Instant,
    action: String,
}

impl LogCtx<'_> {
    fn entry(&self, ctx: &Ctx, tenant: Option<&Gln>, handled: &Handled) -> LogEntry {
        let now = ctx.now();
        let (payload, truncated) = log::payload_text(&self.msg.body);
        LogEntry {
            id: log::new_id(now),
            tenant: tenant.cloned(),
            time: now,
            direction: Direction::Inbound,
            endpoint: ENDPOINT.into(),
            action: self.action.clone(),
            response_code: 200,
            outcome: Some(handled.outcome.name().into()),
            reason: handled.outcome.reason(),
            reference_id: handled.reference.clone(),
            event_id: handled.event_id.clone(),
            duration_ms: self.started.elapsed().as_millis() as u64,
            request_payload: payload,
            request_truncated: truncated,
            request_properties: (!self.msg.properties.is_null())
                .then(|| self.msg.properties.clone()),
            response_body: serde_json::to_value(&handled.outcome).ok(),
        }
    }
}

fn action_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("Header")?
                .get("EventName")?
                .as_str()
                .map(str::to_owned)
        })
        .map_or_else(
            || "ContractEvent".to_owned(),
            |s| s.chars().take(64).collect(),
        )
}

/// Handles one contract message. `Err` means "retry later" and only ever comes from a
/// transient failure; every `Ok` means the message is done. A deterministic store refusal
/// (SPEC §6: nothing deterministic is retried) parks the message with the store's reason.
pub async fn handle(ctx: &Ctx, msg: &InboundMessage) -> Result<Handled, HandlerError> {
    match handle_storable(ctx, msg).await {
        Err(HandlerError::Store(e)) if !e.is_transient() => {
            tracing::warn!(error = %e, "contract event cannot be stored as it is: parking it");
            let lc = LogCtx {
                msg,
                started: Instant::now(),
                action: action_of(&msg.body),
            };
            let (named, reference, event_id) = match classify(&msg.body) {
                Classified::Event(ev) => (
                    Some(ev.tenant.clone()),
                    Some(ev.accounting_point.clone()),
                    Some(ev.event_id.clone()),
                ),
                _ => (None, None, None),
            };
            let routed = routed_tenant(ctx, named.as_ref()).await?;
            let named = routed
                .is_none()
                .then(|| named.map(|g| g.to_string()))
                .flatten();
            park(
                ctx,
                &lc,
                routed,
                named,
                ParkReason::SchemaViolation,
                format!("the event cannot be stored as it is: {e}"),
                reference,
                event_id,
            )
            .await
        }
        other => other,
    }
}

async fn handle_storable(ctx: &Ctx, msg: &InboundMessage) -> Result<Handled, HandlerError> {
    let lc = LogCtx {
        msg,
        started: Instant::now(),
        action: action_of(&msg.body),
    };
    match classify(&msg.body) {
        Classified::Ignored { reason, tenant, .. } => {
            let routed = routed_tenant(ctx, tenant.as_ref()).await?;
            let handled = Handled {
                outcome: Outcome::Ignored { reason },
                tenant: routed.clone(),
                reference: None,
                event_id: None,
            };
            log::write(ctx, &lc.entry(ctx, routed.as_ref(), &handled)).await?;
            tracing::info!(tenant = ?routed, outcome = "ignored", "contract event");
            Ok(handled)
        }
        Classified::Invalid {
            reason,
            description,
            tenant,
            reference,
        } => {
            let routed = routed_tenant(ctx, tenant.as_ref()).await?;
            let named = if routed.is_none() {
                tenant.map(|g| g.to_string())
            } else {
                None
            };
            park(
                ctx,
                &lc,
                routed,
                named,
                reason,
                description,
                reference,
                None,
            )
            .await
        }
        Classified::Event(event) => {
            let Some(cfg) = ctx.tenant(&event.tenant).await? else {
                let description = format!(
                    "Header.TenantID {} is not a configured tenant; create it, then replay",
                    event.tenant
                );
                let named = Some(event.tenant.to_string());
                let reference = Some(event.accounting_point.clone());
                return park(
                    ctx,
                    &lc,
                    None,
                    named,
                    ParkReason::UnknownTenant,
                    description,
                    reference,
                    Some(event.event_id.clone()),
                )
                .await;
            };
            let ap_ok = cfg
                .accounting_point_regex()
                .map(|re| re.is_match(&event.accounting_point))
                .unwrap_or(false);
            if !ap_ok {
                let description = format!(
                    "AccountingPoint.Identification {:?} does not match the tenant's accountingPointPattern {}",
                    event.accounting_point.chars().take(64).collect::<String>(),
                    cfg.accounting_point_pattern
                );
                let reference = Some(event.accounting_point.chars().take(64).collect());
                return park(
                    ctx,
                    &lc,
                    Some(cfg.gln.clone()),
                    None,
                    ParkReason::InvalidAccountingPoint,
                    description,
                    reference,
                    Some(event.event_id.clone()),
                )
                .await;
            }
            apply(ctx, &lc, &cfg, &event).await
        }
    }
}

/// The tenant to file a message under: the one it names, if that tenant is configured.
async fn routed_tenant(ctx: &Ctx, named: Option<&Gln>) -> Result<Option<Gln>, StoreError> {
    match named {
        Some(g) => Ok(ctx.tenant(g).await?.map(|c| c.gln.clone())),
        None => Ok(None),
    }
}

#[allow(clippy::too_many_arguments)]
async fn park(
    ctx: &Ctx,
    lc: &LogCtx<'_>,
    tenant: Option<Gln>,
    named_tenant: Option<String>,
    reason: ParkReason,
    description: String,
    reference: Option<String>,
    event_id: Option<String>,
) -> Result<Handled, HandlerError> {
    let mut p = ParkedMessage::new(
        tenant.as_ref(),
        MessageKind::Contract,
        reason,
        description.clone(),
        &lc.msg.body,
        lc.msg.properties.clone(),
        ctx.now(),
    );
    p.named_tenant = named_tenant;
    p.reference_id = reference.clone();
    let handled = Handled {
        outcome: Outcome::Parked {
            reason,
            id: p.id.clone(),
            description,
        },
        tenant: tenant.clone(),
        reference,
        event_id,
    };
    let entry = lc.entry(ctx, tenant.as_ref(), &handled);
    parked::park(
        ctx.store.as_ref(),
        &p,
        &entry,
        ctx.log_retention_for(entry.tenant.as_ref()),
    )
    .await?;
    tracing::warn!(tenant = ?tenant, outcome = "parked", reason = reason.as_str(), parked_id = %p.id, "contract event");
    Ok(handled)
}

pub fn driver_key(gln: &Gln, accounting_point: &str) -> Key {
    Key::new(keys::tenant(gln, keys::DRIVERS), accounting_point)
}

async fn apply(
    ctx: &Ctx,
    lc: &LogCtx<'_>,
    cfg: &TenantConfig,
    event: &ContractEvent,
) -> Result<Handled, HandlerError> {
    let gln = &cfg.gln;
    let key = driver_key(gln, &event.accounting_point);
    let site = cfg.resolve_site(event.private_site_id, event.product_code.as_deref());
    let mut handled = Handled {
        outcome: Outcome::Applied,
        tenant: Some(gln.clone()),
        reference: Some(event.accounting_point.clone()),
        event_id: Some(event.event_id.clone()),
    };
    for _ in 0..MAX_ATTEMPTS {
        let now = ctx.now();
        let existing = ctx.store.get(&key).await?;
        let (mut rec, condition, version) = match &existing {
            Some(item) => (
                serde_json::from_str::<DriverRecord>(&item.doc).map_err(|e| {
                    StoreError::Invalid(format!("driver {} is unreadable: {e}", item.key.sk))
                })?,
                Condition::Version(item.version),
                item.version + 1,
            ),
            None => (
                DriverRecord::new(&event.accounting_point, now),
                Condition::NotExists,
                1,
            ),
        };
        let applied = AppliedEvent::from_event(event, site);
        let mut fresh_virtual = None;
        if rec.needs_virtual_token(&applied) {
            let t = new_virtual_token(&cfg.virtual_token_prefix)?;
            rec.virtual_token = Some(t.clone());
            fresh_virtual = Some(t);
        }
        let before = rec.state.clone();
        handled.outcome = match rec.merge(applied, now) {
            Merge::Duplicate => Outcome::Duplicate,
            Merge::TooOld => Outcome::Stale,
            Merge::Applied => Outcome::Applied,
            Merge::Stale => Outcome::Stale,
        };
        let entry = lc.entry(ctx, Some(gln), &handled);
        if matches!(handled.outcome, Outcome::Duplicate)
            || rec.history.iter().all(|h| h.event_id != event.event_id)
        {
            log::write(ctx, &entry).await?;
            tracing::info!(tenant = %gln, event_id = %event.event_id, outcome = handled.outcome.name(), "contract event");
            return Ok(handled);
        }
        let doc = serde_json::to_string(&rec).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut ops = vec![WriteOp::Put {
            item: Item::new(key.clone(), doc, version),
            condition,
        }];
        ops.extend(holder_ops(gln, &before, &rec)?);
        for t in rec
            .state
            .tokens
            .iter()
            .filter(|t| before.tokens.iter().all(|b| b.value != t.value))
        {
            let owner = TokenOwner {
                external_id: rec.external_id.clone(),
                kind: t.kind,
            };
            let doc =
                serde_json::to_string(&owner).map_err(|e| StoreError::Invalid(e.to_string()))?;
            // Virtual tokens must be unique in the tenant. For RFIDs this entry is legacy (kept
            // for a rollback); their owner comes from the holder entries.
            let condition = if fresh_virtual.as_deref() == Some(t.value.as_str()) {
                Condition::NotExists
            } else {
                Condition::Always
            };
            ops.push(WriteOp::Put {
                item: Item::new(token_key(gln, &t.value), doc, 1),
                condition,
            });
        }
        ops.push(WriteOp::Put {
            item: entry.to_item(ctx.log_retention_for(entry.tenant.as_ref()))?,
            condition: Condition::Always,
        });
        match ctx.store.transact(ops).await {
            Ok(()) => {
                tracing::info!(tenant = %gln, event_id = %event.event_id, outcome = handled.outcome.name(), "contract event");
                return Ok(handled);
            }
            // Someone else wrote the driver (or took the virtual token) since we read: re-read.
            Err(e) if e.is_condition_failure() || e == StoreError::Conflict => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(HandlerError::Contention(event.accounting_point.clone()))
}

/// Re-runs a parked message with the current configuration. When it no longer parks, the
/// parked entry is removed; when it parks again, the entry is updated with the new reason.
pub async fn replay(ctx: &Ctx, id: &str) -> Result<Result<Handled, String>, HandlerError> {
    let Some(p) = parked::get(ctx.store.as_ref(), id).await? else {
        return Ok(Err(format!("no parked message with id {id}")));
    };
    if p.kind != MessageKind::Contract {
        return Ok(Err(format!(
            "{id} is a {:?} message; replay it with its own handler",
            p.kind
        )));
    }
    let msg = match p.to_message() {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let handled = handle(ctx, &msg).await?;
    p.settle_replay(ctx.store.as_ref(), handled.outcome.parked_id())
        .await?;
    Ok(Ok(handled))
}

#[allow(dead_code)]
fn _assert_send(ctx: &Ctx, msg: &InboundMessage) {
    fn is_send<T: Send>(_: T) {}
    is_send(handle(ctx, msg));
    let _ = json!({});
}
