//! Credits and corrections (SPEC §6). A credit is a new transaction `<root>-C<n>` that
//! reverses one delivered invoice line in full; a correction is a credit followed by the
//! session re-priced as `<root>-R<n>`. Each line can be credited once; undelivered lines,
//! credits themselves and meter-value tenants cannot be credited.

use serde_json::Value;

use super::intake::{self, SessionHandled};
use super::record::{self, DeliveryRecord, DeliveryState, PayloadKind};
use super::{attempt_claimed, Claim, Deliverer};
use crate::contract::handler::TokenOwner;
use crate::gln::Gln;
use crate::registry;
use crate::session::SessionCompleted;
use crate::store::{Condition, StoreError, WriteOp};
use crate::uc::payload::TransactionPayload;

#[derive(Debug, thiserror::Error)]
pub enum CreditError {
    #[error("no delivered transaction {0} in any tenant")]
    NotFound(String),
    #[error("transaction {id} exists in several tenants ({tenants}); pass --tenant")]
    Ambiguous { id: String, tenants: String },
    #[error(
        "transaction {id} is {state}, not delivered: only delivered transactions can be credited"
    )]
    NotDelivered { id: String, state: &'static str },
    #[error("transaction {id} was already credited by {by}")]
    AlreadyCredited { id: String, by: String },
    #[error("transaction {0} is itself a credit and cannot be credited")]
    IsCredit(String),
    #[error("transaction {0} was delivered as meter values: it is adjusted in Utility Cloud, not credited by the connector")]
    MeterValues(String),
    #[error("transaction {0} was stored without its session, so it cannot be re-priced")]
    NoSession(String),
    #[error("re-pricing {id} failed: {reason}")]
    Reprice { id: String, reason: String },
    #[error("transaction {0} changed while crediting it; try again")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds a transaction by id, in `tenant` or (when not given) in whichever tenant has it.
pub async fn find(
    d: &Deliverer,
    tenant: Option<&Gln>,
    id: &str,
) -> Result<(DeliveryRecord, u64), CreditError> {
    let tenants: Vec<Gln> = match tenant {
        Some(g) => vec![g.clone()],
        None => registry::list(d.ctx.store.as_ref())
            .await?
            .into_iter()
            .map(|t| t.gln)
            .collect(),
    };
    let mut found = Vec::new();
    for g in tenants {
        if let Some(item) = d.ctx.store.get(&record::key(&g, id)).await? {
            found.push((DeliveryRecord::from_item(&item)?, item.version));
        }
    }
    match found.len() {
        0 => Err(CreditError::NotFound(id.to_owned())),
        1 => found
            .pop()
            .ok_or_else(|| CreditError::NotFound(id.to_owned())),
        _ => Err(CreditError::Ambiguous {
            id: id.to_owned(),
            tenants: found
                .iter()
                .map(|(r, _)| r.tenant.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn creditable(rec: &DeliveryRecord) -> Result<(), CreditError> {
    let id = rec.transaction_id.clone();
    if rec.kind == PayloadKind::MeterValues {
        return Err(CreditError::MeterValues(id));
    }
    if rec.credit_of.is_some() {
        return Err(CreditError::IsCredit(id));
    }
    if rec.state != DeliveryState::Delivered {
        return Err(CreditError::NotDelivered {
            id,
            state: rec.state.as_str(),
        });
    }
    if let Some(by) = &rec.credited_by {
        return Err(CreditError::AlreadyCredited { id, by: by.clone() });
    }
    Ok(())
}

/// Result of a credit or correction: the new transactions and where each stands.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreditResult {
    pub credit: SessionHandled,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction: Option<SessionHandled>,
}

fn handled(rec: &DeliveryRecord) -> SessionHandled {
    let outcome = intake::outcome_of(rec);
    SessionHandled {
        outcome,
        tenant: Some(rec.tenant.clone()),
        transaction_id: Some(rec.transaction_id.clone()),
    }
}

/// Creates (atomically with marking the target credited) and delivers a full credit.
pub async fn credit(
    d: &Deliverer,
    tenant: Option<&Gln>,
    id: &str,
    reason: Option<String>,
) -> Result<CreditResult, CreditError> {
    let (credit, _) = issue_credit(d, tenant, id, reason, None).await?;
    Ok(CreditResult {
        credit: handled(&credit),
        correction: None,
    })
}

/// Credit, then the root session re-priced with today's configuration as `<root>-R<n>`.
pub async fn correct(
    d: &Deliverer,
    tenant: Option<&Gln>,
    id: &str,
    reason: Option<String>,
) -> Result<CreditResult, CreditError> {
    let (target, _) = find(d, tenant, id).await?;
    creditable(&target)?;
    let root_id = target
        .root
        .clone()
        .unwrap_or_else(|| target.transaction_id.clone());
    let (root, _) = if root_id == target.transaction_id {
        (target.clone(), 0)
    } else {
        find(d, Some(&target.tenant), &root_id).await?
    };
    let raw = root
        .session
        .clone()
        .ok_or_else(|| CreditError::NoSession(root_id.clone()))?;
    // Check that it can be re-priced before crediting anything.
    let cfg = d
        .ctx
        .tenant(&root.tenant)
        .await?
        .ok_or_else(|| CreditError::NotFound(id.to_owned()))?;
    let session = SessionCompleted::from_value(&raw).map_err(|e| CreditError::Reprice {
        id: root_id.clone(),
        reason: e.to_string(),
    })?;
    // The original line's owner, wherever the card is now (SPEC §6).
    let owner = TokenOwner {
        external_id: root.accounting_point.clone(),
        kind: crate::contract::driver::TokenKind::Rfid,
    };
    let now = d.ctx.now();
    // A spot-indexed tariff re-prices with the stored prices (SPEC §13); without them the
    // correction waits for them like a new session.
    let built = intake::read_and_build(d, &cfg, &session, &owner, Some(raw.clone()), now)
        .await?
        .map_err(|reason| CreditError::Reprice {
            id: root_id.clone(),
            reason,
        })?;

    let mut correction = built.record;
    correction.reason = reason.clone();
    let (credit_rec, corrected) =
        issue_credit(d, Some(&target.tenant), id, reason, Some(correction)).await?;
    Ok(CreditResult {
        credit: handled(&credit_rec),
        correction: corrected.as_ref().map(handled),
    })
}

/// Writes the credit record, the re-priced `correction` if any (as `<root>-R<n>`) and marks
/// the target credited, all in one transaction, then attempts delivery of each. One
/// transaction, so that a crash can never leave a credited line without its re-priced
/// replacement: a second `correct` would be refused, and the session never billed again.
async fn issue_credit(
    d: &Deliverer,
    tenant: Option<&Gln>,
    id: &str,
    reason: Option<String>,
    correction: Option<DeliveryRecord>,
) -> Result<(DeliveryRecord, Option<DeliveryRecord>), CreditError> {
    let (mut target, target_version) = find(d, tenant, id).await?;
    creditable(&target)?;
    let root_id = target
        .root
        .clone()
        .unwrap_or_else(|| target.transaction_id.clone());
    let (mut root, root_version) = if root_id == target.transaction_id {
        (target.clone(), target_version)
    } else {
        find(d, Some(&target.tenant), &root_id).await?
    };
    let n = root.corrections + 1;
    let credit_id = format!("{root_id}-C{n}");
    let original: TransactionPayload =
        serde_json::from_value(target.payload.clone()).map_err(|e| CreditError::Reprice {
            id: id.to_owned(),
            reason: format!("stored payload unreadable: {e}"),
        })?;
    let payload = original.credit(credit_id.clone());
    let now = d.ctx.now();
    let correction_id = format!("{root_id}-R{n}");
    let credit = DeliveryRecord {
        tariff_id: target.tariff_id.clone(),
        credit_of: Some(target.transaction_id.clone()),
        root: Some(root_id.clone()),
        reason,
        followed_by: correction.is_some().then(|| correction_id.clone()),
        ..DeliveryRecord::new_pending(
            target.tenant.clone(),
            credit_id.clone(),
            PayloadKind::InvoiceLine,
            serde_json::to_value(&payload).map_err(|e| StoreError::Invalid(e.to_string()))?,
            target.accounting_point.clone(),
            now,
        )
    };
    target.credited_by = Some(credit_id.clone());
    target.updated_at = now;
    let mut ops = Vec::new();
    if root_id == target.transaction_id {
        target.corrections = n;
        ops.push(WriteOp::Put {
            item: target.to_item(target_version + 1)?,
            condition: Condition::Version(target_version),
        });
    } else {
        root.corrections = n;
        root.updated_at = now;
        ops.push(WriteOp::Put {
            item: target.to_item(target_version + 1)?,
            condition: Condition::Version(target_version),
        });
        ops.push(WriteOp::Put {
            item: root.to_item(root_version + 1)?,
            condition: Condition::Version(root_version),
        });
    }
    let mut claimed = credit.clone();
    d.lease(&mut claimed, now);
    ops.push(WriteOp::Put {
        item: claimed.to_item(1)?,
        condition: Condition::NotExists,
    });
    let correction = correction.map(|mut rec| {
        if let Some(obj) = rec.payload.as_object_mut() {
            obj.insert("transactionId".into(), Value::String(correction_id.clone()));
        }
        rec.transaction_id = correction_id.clone();
        rec.root = Some(root_id.clone());
        // Posted only once the credit is delivered: never two lines for one session.
        rec.waits_for = Some(credit_id.clone());
        d.lease(&mut rec, now);
        rec
    });
    if let Some(rec) = &correction {
        ops.push(WriteOp::Put {
            item: rec.to_item(1)?,
            condition: Condition::NotExists,
        });
    }
    // Both are attempted at once below: they are counted by their attempts if they wait.
    match d.ctx.store.transact(ops).await {
        Ok(()) => {}
        Err(e) if e.is_condition_failure() || e == StoreError::Conflict => {
            return Err(CreditError::Conflict(id.to_owned()))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(tenant = %credit.tenant, credit = %credit_id, of = %id, "credit issued");
    let credited = attempt_claimed(
        d,
        Claim {
            record: claimed,
            version: 1,
            prior_in_flight: false,
        },
    )
    .await?;
    let corrected = match correction {
        Some(record) => Some(
            attempt_claimed(
                d,
                Claim {
                    record,
                    version: 1,
                    prior_in_flight: false,
                },
            )
            .await?,
        ),
        None => None,
    };
    Ok((credited, corrected))
}
