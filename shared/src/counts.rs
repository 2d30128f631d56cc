//! A tenant's counts of open work (Details: pending, rejected and held deliveries, parked
//! messages), kept by the writes that change them, in the same transaction: reading them
//! costs one query whatever the backlog, and they never drift from the records.
//!
//! Each count is spread over [`SHARDS`] counter items (the shard from the changed item's
//! id), so concurrent transactions rarely touch the same counter item.

use serde::Serialize;

use crate::delivery::record::{DeliveryRecord, DeliveryState};
use crate::gln::Gln;
use crate::keys;
use crate::store::{query_all, Key, Query, SkRange, Store, StoreError, WriteOp};

/// Partition of a tenant's counter items.
pub const COUNTS: &str = "COUNT";
pub const SHARDS: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Pending,
    Rejected,
    Held,
    Parked,
}

impl Tally {
    fn name(self) -> &'static str {
        match self {
            Tally::Pending => "pending",
            Tally::Rejected => "rejected",
            Tally::Held => "held",
            Tally::Parked => "parked",
        }
    }

    fn of(state: DeliveryState) -> Option<Tally> {
        match state {
            DeliveryState::Pending => Some(Tally::Pending),
            DeliveryState::Rejected => Some(Tally::Rejected),
            DeliveryState::Held => Some(Tally::Held),
            DeliveryState::Delivered => None,
        }
    }
}

/// FNV-1a: a stable shard for an id on every instance and version.
fn shard_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) % SHARDS
}

/// The operation that adds `delta` to one of `gln`'s counts, on the shard of `id`.
pub fn add(gln: &Gln, tally: Tally, delta: i64, id: &str) -> WriteOp {
    WriteOp::Add {
        key: Key::new(
            keys::tenant(gln, COUNTS),
            format!("{}#{:02}", tally.name(), shard_of(id)),
        ),
        delta,
    }
}

/// Adds the count changes of a delivery moving from `from` (`None`: new) to `to` to `ops`.
pub fn delivery_moved(
    ops: &mut Vec<WriteOp>,
    gln: &Gln,
    id: &str,
    from: Option<DeliveryState>,
    to: DeliveryState,
) {
    if from == Some(to) {
        return;
    }
    if let Some(t) = from.and_then(Tally::of) {
        push(ops, add(gln, t, -1, id));
    }
    if let Some(t) = Tally::of(to) {
        push(ops, add(gln, t, 1, id));
    }
}

/// Adds to `ops` the count changes of `rec` having moved from `was` to its current state,
/// and marks whether it is counted now. Call it before `rec` is serialised. A record not
/// counted yet (its first attempt was under way) adds nothing when it leaves.
pub fn record_moved(ops: &mut Vec<WriteOp>, rec: &mut DeliveryRecord, was: DeliveryState) {
    let from = rec.counted.then_some(was);
    delivery_moved(ops, &rec.tenant, &rec.transaction_id, from, rec.state);
    rec.counted = Tally::of(rec.state).is_some();
}

/// Appends a counter operation, merged into one already on the same counter (a
/// transaction may touch each item once).
pub fn push(ops: &mut Vec<WriteOp>, op: WriteOp) {
    let WriteOp::Add { key, delta } = op else {
        ops.push(op);
        return;
    };
    let mut merged = false;
    for existing in ops.iter_mut() {
        if let WriteOp::Add { key: k, delta: d } = existing {
            if *k == key {
                *d += delta;
                merged = true;
            }
        }
    }
    if !merged {
        ops.push(WriteOp::Add { key, delta });
    }
    ops.retain(|op| !matches!(op, WriteOp::Add { delta: 0, .. }));
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: i64,
    pub rejected: i64,
    pub held: i64,
    pub parked: i64,
}

/// The tenant's counts: one query (at most `4 × SHARDS` small items).
pub async fn read(store: &dyn Store, gln: &Gln) -> Result<Counts, StoreError> {
    let q = Query {
        pk: keys::tenant(gln, COUNTS),
        range: SkRange::Between(" ".into(), "\u{10FFFF}".into()),
        limit: 100,
        cursor: None,
    };
    let mut c = Counts::default();
    for item in query_all(store, q).await? {
        let n: i64 = item.doc.trim().parse().unwrap_or(0);
        match item.key.sk.split('#').next() {
            Some("pending") => c.pending += n,
            Some("rejected") => c.rejected += n,
            Some("held") => c.held += n,
            Some("parked") => c.parked += n,
            _ => {}
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_on_one_counter_merge_and_cancel_out() {
        let g = Gln::parse("7080010002488").unwrap_or_else(|e| panic!("{e}"));
        let mut ops = Vec::new();
        delivery_moved(&mut ops, &g, "a", None, DeliveryState::Pending);
        delivery_moved(
            &mut ops,
            &g,
            "a",
            Some(DeliveryState::Pending),
            DeliveryState::Delivered,
        );
        assert!(ops.is_empty(), "{ops:?}");
        delivery_moved(
            &mut ops,
            &g,
            "a",
            Some(DeliveryState::Pending),
            DeliveryState::Rejected,
        );
        assert_eq!(ops.len(), 2);
        delivery_moved(
            &mut ops,
            &g,
            "a",
            Some(DeliveryState::Held),
            DeliveryState::Held,
        );
        assert_eq!(ops.len(), 2);
    }
}
