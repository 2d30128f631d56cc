//! The store port: a small key-value contract that both backends honour identically.
//!
//! Items live in one logical table keyed by `(pk, sk)`. Every partition key starts with
//! the tenant (`T#<gln>`), so tenant isolation is structural. The contract, which the
//! shared suite in `tests/tests/store_contract.rs` checks on both backends:
//!
//! * **Conditions** (`NotExists`, `Exists`, `Version(n)`) are evaluated atomically with
//!   the write. Versions are caller-managed: the writer states the version it saw and
//!   writes the next one, which is how concurrent writers avoid lost updates.
//! * **Transactions** apply all operations or none; a failed condition names the index
//!   of the failing operation.
//! * **TTL**: an item whose `expires_at` (unix seconds) is in the past is invisible to
//!   reads and counts as absent for conditions, even before it is physically removed
//!   (DynamoDB deletes expired items lazily, the embedded store sweeps).
//! * **Queries** return live items of one partition in ascending sort-key order (Azure
//!   Tables cannot read backwards, so no backend offers it: what is read newest first is
//!   keyed newest first), at most `limit` per page, and an opaque cursor iff more follow.
//! * **Due index**: a sparse secondary index (`index`: partition + sort key) lets timers
//!   find due work without a scan.
//! * **Counters** (`WriteOp::Add`) add to an integer document atomically, inside a
//!   transaction like any write, so counts kept beside state never drift from it.
//! * Items are at most [`MAX_ITEM_BYTES`] (DynamoDB's 400 KB limit, enforced on both).

pub mod azuretable;
pub mod counting;
pub mod dynamodb;
pub mod embedded;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// DynamoDB's item size limit, enforced by both backends so that they behave the same.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// What a document may take of an item, leaving room for keys and attributes: payload kept
/// for operators (logs, parked bodies) is cut to fit, so nothing is refused for its size.
pub const MAX_DOC_BYTES: usize = MAX_ITEM_BYTES - 8 * 1024;

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn prefix_within(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// DynamoDB's transaction limit.
pub const MAX_TRANSACTION_OPS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// An entry in the sparse secondary index (used for "next attempt due").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub partition: String,
    pub sort: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: Key,
    /// The item's JSON document.
    pub doc: String,
    /// Caller-managed optimistic-concurrency version.
    pub version: u64,
    /// Unix seconds after which the item no longer exists.
    pub expires_at: Option<i64>,
    pub index: Option<IndexEntry>,
}

impl Item {
    pub fn new(key: Key, doc: String, version: u64) -> Self {
        Item {
            key,
            doc,
            version,
            expires_at: None,
            index: None,
        }
    }

    pub fn with_ttl(mut self, expires_at: i64) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    pub fn with_index(mut self, partition: impl Into<String>, sort: impl Into<String>) -> Self {
        self.index = Some(IndexEntry {
            partition: partition.into(),
            sort: sort.into(),
        });
        self
    }

    /// Approximate stored size, used to enforce [`MAX_ITEM_BYTES`] identically on both backends.
    pub fn size(&self) -> usize {
        self.key.pk.len()
            + self.key.sk.len()
            + self.doc.len()
            + self
                .index
                .as_ref()
                .map_or(0, |i| i.partition.len() + i.sort.len())
            // DynamoDB also counts attribute names (19 bytes for all seven) and numbers (up
            // to 12 bytes each for `ver` and `ttl`): 64 covers that, so the embedded store
            // never accepts an item DynamoDB would refuse.
            + 64
    }

    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// No live item has this key.
    NotExists,
    /// A live item has this key.
    Exists,
    /// A live item has this key at exactly this version.
    Version(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// A condition on an item that the transaction does not write.
    Check {
        key: Key,
        condition: Condition,
    },
    /// Adds `delta` to a counter item (created at 0 if absent), whose document is the
    /// count as a decimal integer. Atomic like every other operation; no condition. A
    /// counter is written only by `Add` (and removed by `Delete`): what `Add` does to an
    /// item `Put` wrote differs between backends (DynamoDB counts beside the document).
    Add {
        key: Key,
        delta: i64,
    },
}

impl WriteOp {
    pub fn key(&self) -> &Key {
        match self {
            WriteOp::Put { item, .. } => &item.key,
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } | WriteOp::Add { key, .. } => {
                key
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    /// Sort keys starting with this prefix.
    Prefix(String),
    /// Sort keys in `from..=to`.
    Between(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub pk: String,
    pub range: SkRange,
    pub limit: usize,
    /// Opaque cursor from a previous page's `next`.
    pub cursor: Option<String>,
}

impl Query {
    pub fn prefix(pk: impl Into<String>, prefix: impl Into<String>) -> Self {
        Query {
            pk: pk.into(),
            range: SkRange::Prefix(prefix.into()),
            limit: 100,
            cursor: None,
        }
    }
}

/// Query the due index: entries of `partition` with sort key `<= upto`, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexQuery {
    pub partition: String,
    pub upto: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present iff more items follow; pass it back as `cursor`.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed on {}/{}", .0.pk, .0.sk)]
    ConditionFailed(Key),
    /// A transaction was cancelled because operation `index` failed its condition.
    #[error("transaction cancelled: condition failed on operation {index} ({}/{})", key.pk, key.sk)]
    TransactionConditionFailed { index: usize, key: Key },
    /// Another transaction touched the same items concurrently; retry.
    #[error("transaction conflict, retry")]
    Conflict,
    #[error("item {}/{} is {size} bytes, over the {MAX_ITEM_BYTES}-byte limit", key.pk, key.sk)]
    TooLarge { key: Key, size: usize },
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Throttled, unreachable or timed out: the caller should retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Transient errors are worth retrying (by the platform redelivering the message).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Conflict | StoreError::Unavailable(_))
    }

    pub fn is_condition_failure(&self) -> bool {
        matches!(
            self,
            StoreError::ConditionFailed(_) | StoreError::TransactionConditionFailed { .. }
        )
    }
}

/// The port. Both backends (embedded, DynamoDB) implement exactly the contract above.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError>;
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError>;
    /// All-or-nothing; at most [`MAX_TRANSACTION_OPS`] operations on distinct keys.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    async fn query_index(&self, query: &IndexQuery) -> Result<Page, StoreError>;
    /// Physically removes up to `max` expired items where the backend does not do it by
    /// itself (Azure Tables has no TTL; the `store-sweep` timer calls this). Reads never
    /// show an expired item either way; returns how many were removed.
    async fn sweep_expired(&self, max: usize) -> Result<usize, StoreError> {
        let _ = max;
        Ok(0)
    }
}

/// Every live item a query matches, following the cursor page by page. For listings whose
/// size an operator controls (tenants, parked messages, reconciliation entries), not logs.
pub async fn query_all(store: &dyn Store, mut query: Query) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    loop {
        let page = store.query(&query).await?;
        out.extend(page.items);
        match page.next {
            Some(c) => query.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Checks shared by both backends before a write reaches storage.
pub fn validate_ops(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::Invalid("empty transaction".into()));
    }
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "{} operations in one transaction, at most {MAX_TRANSACTION_OPS}",
            ops.len()
        )));
    }
    let scope = scope_of(&ops[0].key().pk);
    let mut entities = 0;
    let mut bytes = 0;
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        if scope_of(&op.key().pk) != scope {
            return Err(StoreError::Invalid(format!(
                "a transaction must stay in one scope: {} and {} are in {scope} and {}",
                ops[0].key().pk,
                op.key().pk,
                scope_of(&op.key().pk)
            )));
        }
        entities += 1;
        if let WriteOp::Put { item, .. } = op {
            // Azure keeps an index entry (a copy of the item) and an expiry entry beside it.
            entities += usize::from(item.index.is_some()) + usize::from(item.expires_at.is_some());
            bytes += item.size() * (1 + usize::from(item.index.is_some()));
        }
        if !seen.insert(op.key()) {
            return Err(StoreError::Invalid(format!(
                "two operations on {}/{} in one transaction",
                op.key().pk,
                op.key().sk
            )));
        }
        validate_key(op.key())?;
        if let WriteOp::Put { item, .. } = op {
            validate_item(item)?;
        }
    }
    if entities > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction of {entities} stored entries (items, index and expiry entries), at most {MAX_TRANSACTION_OPS}"
        )));
    }
    if bytes > MAX_TRANSACTION_BYTES {
        return Err(StoreError::Invalid(format!(
            "a transaction of {bytes} bytes (an indexed item counts twice), at most {MAX_TRANSACTION_BYTES}"
        )));
    }
    Ok(())
}

/// What one transaction may write in all: DynamoDB's 4 MB and Azure's 4 MiB change set,
/// less room for the encoding around the documents.
pub const MAX_TRANSACTION_BYTES: usize = 3 * 1024 * 1024;

/// The transaction scope of a partition key: `T#<gln>` for a tenant's partitions, else the
/// part before the first `#` (`TENANTS`, `CUSTOMERS`, `UNROUTED`). A transaction, and an
/// item with its index entry, stay inside one scope on every backend: Azure Tables commits
/// atomically only within one partition, and a scope is one.
pub fn scope_of(pk: &str) -> &str {
    if let Some(rest) = pk.strip_prefix("T#") {
        return match rest.find('#') {
            Some(i) => &pk[..2 + i],
            None => pk,
        };
    }
    pk.find('#').map_or(pk, |i| &pk[..i])
}

/// DynamoDB's key limits (bytes), enforced by every backend so that they refuse the same ids.
pub const MAX_PK_BYTES: usize = 2048;
pub const MAX_SK_BYTES: usize = 1024;

pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("empty partition or sort key".into()));
    }
    if key.pk.len() > MAX_PK_BYTES || key.sk.len() > MAX_SK_BYTES {
        return Err(StoreError::Invalid(format!(
            "key of {} + {} bytes is over the store's limits ({MAX_PK_BYTES} + {MAX_SK_BYTES})",
            key.pk.len(),
            key.sk.len()
        )));
    }
    Ok(())
}

pub fn validate_item(item: &Item) -> Result<(), StoreError> {
    validate_key(&item.key)?;
    // DynamoDB refuses empty strings as secondary-index keys; refuse them on both backends.
    if item
        .index
        .as_ref()
        .is_some_and(|i| i.partition.is_empty() || i.sort.is_empty())
    {
        return Err(StoreError::Invalid(
            "empty index partition or sort key".into(),
        ));
    }
    if let Some(i) = &item.index {
        if scope_of(&i.partition) != scope_of(&item.key.pk) {
            return Err(StoreError::Invalid(format!(
                "index partition {} is outside the scope of item {}/{}",
                i.partition, item.key.pk, item.key.sk
            )));
        }
    }
    let size = item.size();
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge {
            key: item.key.clone(),
            size,
        });
    }
    Ok(())
}

/// Current unix time in seconds, the TTL reference of both backends.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
