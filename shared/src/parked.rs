//! The connector's dead-letter store: messages that can never succeed as they are.
//! Support sees them (with reason and readable description), fixes configuration, and
//! replays them. The message is completed on the bus so it is not redelivered ten times.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::contract::event::ParkReason;
use crate::gln::Gln;
use crate::keys;
use crate::store::{prefix_within, Item, Key, Query, SkRange, Store, StoreError, MAX_DOC_BYTES};

/// Raw bodies are kept up to this size (the store's item limit leaves room for the rest).
pub const MAX_PARKED_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageKind {
    Contract,
    Session,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkedMessage {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Gln>,
    /// The GLN the body named, when it could not be routed to a configured tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_tenant: Option<String>,
    pub kind: MessageKind,
    pub reason: ParkReason,
    pub description: String,
    pub parked_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// `utf8` or `base64`.
    pub body_encoding: String,
    pub body: String,
    pub body_bytes: usize,
    pub body_sha256: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    #[serde(default)]
    pub properties: Value,
    #[serde(default)]
    pub replays: u32,
}

impl ParkedMessage {
    /// The same body always parks under the same id, so redeliveries do not pile up.
    pub fn new(
        tenant: Option<&Gln>,
        kind: MessageKind,
        reason: ParkReason,
        description: String,
        body: &[u8],
        properties: Value,
        now: DateTime<Utc>,
    ) -> Self {
        let digest = hex::encode(Sha256::digest(body));
        let scope = tenant.map_or_else(|| "unrouted".to_owned(), Gln::to_string);
        let truncated = body.len() > MAX_PARKED_BODY;
        let kept = &body[..body.len().min(MAX_PARKED_BODY)];
        let (encoding, text) = match std::str::from_utf8(kept) {
            Ok(s) => ("utf8", s.to_owned()),
            Err(_) => (
                "base64",
                base64::engine::general_purpose::STANDARD.encode(kept),
            ),
        };
        ParkedMessage {
            id: format!("{scope}-{}", &digest[..16]),
            tenant: tenant.cloned(),
            named_tenant: None,
            kind,
            reason,
            description,
            parked_at: now,
            reference_id: None,
            body_encoding: encoding.to_owned(),
            body: text,
            body_bytes: body.len(),
            body_sha256: digest,
            body_truncated: truncated,
            properties,
            replays: 0,
        }
    }

    /// The message as it arrived, ready to run through its handler again.
    pub fn to_message(&self) -> Result<crate::contract::InboundMessage, String> {
        Ok(crate::contract::InboundMessage {
            body: self.raw_body()?,
            properties: self.properties.clone(),
            message_id: None,
        })
    }

    /// After a replay: the entry goes, unless the message parked again under this same id
    /// (then the handler has already updated it with the new reason).
    pub async fn settle_replay(
        &self,
        store: &dyn Store,
        parked_again_as: Option<&str>,
    ) -> Result<(), StoreError> {
        use crate::store::{Condition, WriteOp};
        if parked_again_as == Some(self.id.as_str()) {
            return Ok(());
        }
        let mut ops = vec![WriteOp::Delete {
            key: self.key(),
            condition: Condition::Exists,
        }];
        if let Some(g) = &self.tenant {
            ops.push(crate::counts::add(
                g,
                crate::counts::Tally::Parked,
                -1,
                &self.id,
            ));
        }
        match store.transact(ops).await {
            // Already gone (a concurrent replay): counted down once, by the other.
            Err(e) if e.is_condition_failure() => Ok(()),
            other => other,
        }
    }

    pub fn raw_body(&self) -> Result<Vec<u8>, String> {
        if self.body_truncated {
            return Err(format!(
                "the body ({} bytes) was cut to {MAX_PARKED_BODY} bytes when parked and cannot be replayed",
                self.body_bytes
            ));
        }
        match self.body_encoding.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(&self.body)
                .map_err(|e| e.to_string()),
            _ => Ok(self.body.clone().into_bytes()),
        }
    }

    pub fn key(&self) -> Key {
        Key::new(
            keys::scoped(self.tenant.as_ref(), keys::PARKED),
            self.id.clone(),
        )
    }

    /// The stored form. A body whose escaped JSON would not fit in an item (quotes and
    /// control characters can double it) is cut further and marked truncated: a parked
    /// message is never refused for its size.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let mut doc =
            serde_json::to_string(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut budget = self.body.len();
        while doc.len() > MAX_DOC_BYTES && budget > 0 {
            budget /= 2;
            let mut cut = self.clone();
            cut.body = prefix_within(&self.body, budget).to_owned();
            cut.body_truncated = true;
            cut.description = prefix_within(&self.description, 4096).to_owned();
            doc = serde_json::to_string(&cut).map_err(|e| StoreError::Invalid(e.to_string()))?;
        }
        Ok(Item::new(self.key(), doc, 1))
    }
}

/// Parks a message: the entry (same body → same id, so redeliveries overwrite rather than
/// pile up) and its log entry in one transaction; a new entry also counts in the tenant's
/// parked count (`counts`), a redelivered one does not count twice.
pub async fn park(
    store: &dyn Store,
    p: &ParkedMessage,
    log: &crate::log::LogEntry,
    retention_days: i64,
) -> Result<(), StoreError> {
    use crate::store::{Condition, WriteOp};
    let ops = |condition, counted: bool| -> Result<Vec<WriteOp>, StoreError> {
        let mut ops = vec![
            WriteOp::Put {
                item: p.to_item()?,
                condition,
            },
            WriteOp::Put {
                item: log.to_item(retention_days)?,
                condition: Condition::Always,
            },
        ];
        if let (true, Some(g)) = (counted, &p.tenant) {
            ops.push(crate::counts::add(
                g,
                crate::counts::Tally::Parked,
                1,
                &p.id,
            ));
        }
        Ok(ops)
    };
    match store.transact(ops(Condition::NotExists, true)?).await {
        Err(StoreError::TransactionConditionFailed { index: 0, .. }) => {
            store.transact(ops(Condition::Always, false)?).await
        }
        other => other,
    }
}

/// Where a parked id lives: the id starts with its scope (a GLN or `unrouted`).
pub fn key_for_id(id: &str) -> Option<Key> {
    let (scope, rest) = id.split_once('-')?;
    if rest.len() != 16 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tenant = match scope {
        "unrouted" => None,
        g => Some(Gln::parse(g).ok()?),
    };
    Some(Key::new(keys::scoped(tenant.as_ref(), keys::PARKED), id))
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<ParkedMessage>, StoreError> {
    let Some(key) = key_for_id(id) else {
        return Ok(None);
    };
    Ok(store
        .get(&key)
        .await?
        .and_then(|i| serde_json::from_str(&i.doc).ok()))
}

/// All parked messages of a scope, oldest first.
pub async fn list(
    store: &dyn Store,
    tenant: Option<&Gln>,
) -> Result<Vec<ParkedMessage>, StoreError> {
    let scope = tenant.map_or_else(|| "unrouted".to_owned(), Gln::to_string);
    let q = Query {
        pk: keys::scoped(tenant, keys::PARKED),
        range: SkRange::Prefix(format!("{scope}-")),
        limit: 200,
        cursor: None,
    };
    let mut out: Vec<ParkedMessage> = crate::store::query_all(store, q)
        .await?
        .iter()
        .filter_map(|i| serde_json::from_str(&i.doc).ok())
        .collect();
    out.sort_by(|a, b| a.parked_at.cmp(&b.parked_at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}
