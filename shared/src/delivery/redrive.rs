//! An operator re-drives one delivery (`ucc deliveries retry`, the admin API's retry): a
//! rejected or held one goes back to the queue, then it is attempted at once. Re-driving a
//! rejected credit also releases the correction held behind it, which is posted only once
//! the credit is delivered.

use super::machine;
use super::record::{self, DeliveryRecord, DeliveryState};
use super::{deliver, moved_ops, Deliverer};
use crate::counts;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("{0} is already delivered; to undo it, credit it")]
    AlreadyDelivered(String),
    #[error("{0} changed meanwhile; try again")]
    Conflict(String),
    #[error("{0} is being delivered by another instance right now")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a re-drive did: the record's new state, and the correction it released, if any.
pub struct Redriven {
    pub record: DeliveryRecord,
    pub correction: Option<DeliveryRecord>,
}

/// Re-drives `rec` (read at `version`) now.
pub async fn redrive(
    d: &Deliverer,
    mut rec: DeliveryRecord,
    version: u64,
) -> Result<Redriven, RedriveError> {
    let id = rec.transaction_id.clone();
    if rec.state == DeliveryState::Delivered {
        return Err(RedriveError::AlreadyDelivered(id));
    }
    let now = d.ctx.now();
    if matches!(rec.state, DeliveryState::Rejected | DeliveryState::Held) {
        let was = rec.state;
        machine::release(&mut rec, now);
        let mut ops = moved_ops(&mut rec, was, version)?;
        if let Some(r_id) = &rec.followed_by {
            if let Some(item) = d.ctx.store.get(&record::key(&rec.tenant, r_id)).await? {
                let mut r = DeliveryRecord::from_item(&item)?;
                if r.state == DeliveryState::Held {
                    machine::release(&mut r, now);
                    r.last_result = Some(format!("waiting for its credit {id} to be delivered"));
                    for op in moved_ops(&mut r, DeliveryState::Held, item.version)? {
                        counts::push(&mut ops, op);
                    }
                }
            }
        }
        match d.ctx.store.transact(ops).await {
            Ok(()) => {}
            Err(e) if e.is_condition_failure() || e == StoreError::Conflict => {
                return Err(RedriveError::Conflict(id))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let done = deliver(d, &rec.key())
        .await?
        .ok_or_else(|| RedriveError::Busy(id.clone()))?;
    let correction = match (&done.followed_by, done.state) {
        (Some(r_id), DeliveryState::Delivered) => {
            deliver(d, &record::key(&done.tenant, r_id)).await?
        }
        _ => None,
    };
    Ok(Redriven {
        record: done,
        correction,
    })
}
