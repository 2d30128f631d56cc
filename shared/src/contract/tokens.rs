//! Who a token belongs to (SPEC §6, the token rule): the driver that received it in the
//! newest contract event by `(EventTime, EventID)`, whatever order the events arrived in.
//!
//! An RFID card can move between accounting points of a tenant (A → B, and back to A), and
//! the events saying so arrive duplicated, late and concurrently. A single "token → driver"
//! item written by whichever event is processed last cannot follow that: a late, older event
//! would take the card back, and a card returning to a driver that already knew it would not
//! be re-indexed. Instead each driver publishes, per token, a **holder entry**: "I received
//! this token in event `since`". It is written in the same transaction as the driver record
//! (conditional on the version read), so one driver's entries move forward with its history
//! and never backwards; and `since` comes from the driver's fold, so it does not depend on
//! arrival order either. Different drivers write different items, so they never contend. The
//! owner is the holder with the greatest `since`: a pure maximum over facts that only grow,
//! hence the same for every arrival order.
//!
//! | item | pk | sk | doc |
//! |---|---|---|---|
//! | holder entry | `T#<gln>#TOKH` | `<hex(token)>#<externalId>` | [`Holder`] |
//! | legacy token entry | `T#<gln>#TOK` | `<token>` | [`TokenOwner`] |
//!
//! The token is hex-encoded in the sort key so that the prefix `<hex(token)>#` matches that
//! token's holders only: hex has no `#`, so no other token (one containing `#`, or one that
//! the token is a prefix of) can share it. The lookup is one query, as many requests as the
//! single read it replaced.
//!
//! The legacy entry stays: for a new virtual token it is written on the condition that it
//! does not exist (tenant-wide uniqueness of generated tokens), and for a token new to a
//! driver it is still written as before (so a rollback to a version that reads only it keeps
//! settling sessions). It is read only when a token has no holder entry, i.e. for drivers
//! not written since holder entries exist. Such a driver publishes its holder entries on its
//! next event (the merge re-folds its history); until then another driver's entry wins even
//! if older, as the legacy index would have decided (ARCHITECTURE.md, known limits).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::driver::{DriverRecord, DriverState, Since, TokenKind};
use crate::gln::Gln;
use crate::keys;
use crate::store::{query_all, Condition, Item, Key, Query, Store, StoreError, WriteOp};

/// The owner of a token: the driver to bill for a session charged with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenOwner {
    pub external_id: String,
    pub kind: TokenKind,
}

/// A holder entry: driver `external_id` received the token in event `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub external_id: String,
    pub kind: TokenKind,
    pub since: Since,
}

/// The legacy token entry (`T#<gln>#TOK`, the token as sort key).
pub fn token_key(gln: &Gln, token: &str) -> Key {
    Key::new(keys::tenant(gln, keys::TOKENS), token)
}

/// The holder entry of `token` for driver `external_id`.
pub fn holder_key(gln: &Gln, token: &str, external_id: &str) -> Key {
    Key::new(
        keys::tenant(gln, keys::TOKEN_HOLDERS),
        format!("{}{external_id}", holder_prefix(token)),
    )
}

/// The sort-key prefix shared by all holder entries of `token`, and only by them.
fn holder_prefix(token: &str) -> String {
    let mut s = String::with_capacity(token.len() * 2 + 1);
    for b in token.as_bytes() {
        let _ = write!(s, "{b:02x}");
    }
    s.push('#');
    s
}

/// Who `token` belongs to in tenant `gln`, if anyone: the holder with the greatest `since`
/// (ties, which need two drivers given the card by events with the same time and id, go to
/// the greatest `externalId`), else the legacy entry. One request when the token has holders
/// (more only past 100 holders of one token); two when it has none.
pub async fn owner_of(
    store: &dyn Store,
    gln: &Gln,
    token: &str,
) -> Result<Option<TokenOwner>, StoreError> {
    let query = Query::prefix(keys::tenant(gln, keys::TOKEN_HOLDERS), holder_prefix(token));
    let newest = query_all(store, query)
        .await?
        .iter()
        .filter_map(|item| match serde_json::from_str::<Holder>(&item.doc) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(tenant = %gln, sk = %item.key.sk, error = %e, "unreadable token holder entry skipped");
                None
            }
        })
        .max_by(|a, b| (&a.since, &a.external_id).cmp(&(&b.since, &b.external_id)));
    if let Some(h) = newest {
        return Ok(Some(TokenOwner {
            external_id: h.external_id,
            kind: h.kind,
        }));
    }
    Ok(store
        .get(&token_key(gln, token))
        .await?
        .and_then(|i| serde_json::from_str(&i.doc).ok()))
}

/// The holder entries to write with `after`, the driver merged from the state `before`: one
/// per token whose `received` changed. At most one per event (an event carries one token),
/// plus, the first time a driver written by an older version is merged, one per token in
/// its history.
pub fn holder_ops(
    gln: &Gln,
    before: &DriverState,
    after: &DriverRecord,
) -> Result<Vec<WriteOp>, StoreError> {
    let mut ops = Vec::new();
    for t in &after.state.tokens {
        let Some(since) = &t.received else { continue };
        let unchanged = before
            .tokens
            .iter()
            .any(|b| b.value == t.value && b.received.as_ref() == Some(since));
        if unchanged {
            continue;
        }
        let holder = Holder {
            external_id: after.external_id.clone(),
            kind: t.kind,
            since: since.clone(),
        };
        let doc = serde_json::to_string(&holder).map_err(|e| StoreError::Invalid(e.to_string()))?;
        // Unconditional: the driver's own write in the same transaction is conditional on
        // the version read, so a writer with an outdated view of this driver fails as a whole.
        ops.push(WriteOp::Put {
            item: Item::new(holder_key(gln, &t.value, &after.external_id), doc, 1),
            condition: Condition::Always,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_prefix_matches_no_other_token() {
        let tokens = [
            "AB",
            "AB#",
            "AB#CD",
            "ABC",
            "A",
            "#",
            "Å",
            "v:7K2M9QXR4T8B3N5P",
        ];
        for t in tokens {
            let p = holder_prefix(t);
            assert_eq!(p.matches('#').count(), 1, "{t:?}");
            for other in tokens.iter().filter(|o| **o != t) {
                let sk = format!("{}AP0001", holder_prefix(other));
                assert!(!sk.starts_with(&p), "{other:?} under {t:?}'s prefix");
            }
        }
        assert_eq!(holder_prefix("A#"), "4123#");
    }
}
