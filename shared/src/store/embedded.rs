//! Embedded backend: a single redb file on local disk (default `./.ucc/state`).
//!
//! redb gives serialisable write transactions, so conditions are checked and writes applied
//! inside one write transaction: that is what makes conditional puts and multi-item
//! transactions atomic here, as DynamoDB's condition expressions do there. Every commit is
//! durable (fsync) before the call returns: an accepted event must survive a crash.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{
    now_unix, validate_item, validate_key, validate_ops, Condition, IndexEntry, IndexQuery, Item,
    Key, Page, Query, SkRange, Store, StoreError, WriteOp,
};

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// Sparse index: (partition, sort, pk, sk) → nothing.
const INDEX: TableDefinition<(&str, &str, &str, &str), &[u8]> = TableDefinition::new("due_index");

/// Sorts after every sort key a caller builds (they are ASCII/BMP text).
const MAX_SUFFIX: char = char::MAX;

#[derive(Serialize, Deserialize)]
struct Stored {
    doc: String,
    ver: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idx: Option<IndexEntry>,
}

impl Stored {
    fn into_item(self, key: Key) -> Item {
        Item {
            key,
            doc: self.doc,
            version: self.ver,
            expires_at: self.ttl,
            index: self.idx,
        }
    }
}

pub struct EmbeddedStore {
    db: Arc<Database>,
}

fn io_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("embedded store: {e}"))
}

fn decode(bytes: &[u8]) -> Result<Stored, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| io_err(format!("corrupt record: {e}")))
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path`, creating parent directories.
    pub fn open(path: impl AsRef<Path>) -> Result<EmbeddedStore, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                io_err(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => io_err(format!(
                "{} is in use by another ucc process (stop `ucc serve` or use another --store)",
                path.display()
            )),
            other => io_err(format!("cannot open {}: {other}", path.display())),
        })?;
        let txn = db.begin_write().map_err(io_err)?;
        {
            txn.open_table(ITEMS).map_err(io_err)?;
            txn.open_table(INDEX).map_err(io_err)?;
        }
        txn.commit().map_err(io_err)?;
        let store = EmbeddedStore { db: Arc::new(db) };
        store.sweep_expired_blocking()?;
        Ok(store)
    }

    /// Physically removes expired items (DynamoDB's TTL does this in the background; here it
    /// runs when the store is opened and from the `store-sweep` timer). Returns how many
    /// were removed.
    pub async fn sweep_all_expired(&self) -> Result<usize, StoreError> {
        let db = self.db.clone();
        blocking(move || sweep(&db)).await
    }

    fn sweep_expired_blocking(&self) -> Result<usize, StoreError> {
        sweep(&self.db)
    }
}

fn sweep(db: &Database) -> Result<usize, StoreError> {
    let now = now_unix();
    let txn = db.begin_write().map_err(io_err)?;
    let mut removed = 0;
    {
        let mut items = txn.open_table(ITEMS).map_err(io_err)?;
        let mut index = txn.open_table(INDEX).map_err(io_err)?;
        let mut expired = Vec::new();
        for entry in items.iter().map_err(io_err)? {
            let (k, v) = entry.map_err(io_err)?;
            let stored = decode(v.value())?;
            if stored.ttl.is_some_and(|t| t <= now) {
                let (pk, sk) = k.value();
                expired.push((Key::new(pk, sk), stored.idx));
            }
        }
        for (key, idx) in expired {
            items
                .remove((key.pk.as_str(), key.sk.as_str()))
                .map_err(io_err)?;
            if let Some(i) = idx {
                index
                    .remove((
                        i.partition.as_str(),
                        i.sort.as_str(),
                        key.pk.as_str(),
                        key.sk.as_str(),
                    ))
                    .map_err(io_err)?;
            }
            removed += 1;
        }
    }
    txn.commit().map_err(io_err)?;
    Ok(removed)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io_err(format!("worker failed: {e}")))?
}

type ItemsTable<'t> = redb::Table<'t, (&'static str, &'static str), &'static [u8]>;
type IndexTable<'t> =
    redb::Table<'t, (&'static str, &'static str, &'static str, &'static str), &'static [u8]>;

fn read_live(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    key: &Key,
    now: i64,
) -> Result<Option<Stored>, StoreError> {
    match table
        .get((key.pk.as_str(), key.sk.as_str()))
        .map_err(io_err)?
    {
        Some(v) => {
            let s = decode(v.value())?;
            Ok(s.ttl.is_none_or(|t| t > now).then_some(s))
        }
        None => Ok(None),
    }
}

fn holds(condition: Condition, current: Option<&Stored>) -> bool {
    match condition {
        Condition::Always => true,
        Condition::NotExists => current.is_none(),
        Condition::Exists => current.is_some(),
        Condition::Version(v) => current.is_some_and(|s| s.ver == v),
    }
}

fn remove_raw(items: &mut ItemsTable, index: &mut IndexTable, key: &Key) -> Result<(), StoreError> {
    let old = items
        .remove((key.pk.as_str(), key.sk.as_str()))
        .map_err(io_err)?
        .map(|v| decode(v.value()))
        .transpose()?;
    if let Some(i) = old.and_then(|s| s.idx) {
        index
            .remove((
                i.partition.as_str(),
                i.sort.as_str(),
                key.pk.as_str(),
                key.sk.as_str(),
            ))
            .map_err(io_err)?;
    }
    Ok(())
}

fn put_raw(items: &mut ItemsTable, index: &mut IndexTable, item: Item) -> Result<(), StoreError> {
    remove_raw(items, index, &item.key)?;
    let stored = Stored {
        doc: item.doc,
        ver: item.version,
        ttl: item.expires_at,
        idx: item.index,
    };
    let bytes = serde_json::to_vec(&stored).map_err(io_err)?;
    items
        .insert(
            (item.key.pk.as_str(), item.key.sk.as_str()),
            bytes.as_slice(),
        )
        .map_err(io_err)?;
    if let Some(i) = &stored.idx {
        index
            .insert(
                (
                    i.partition.as_str(),
                    i.sort.as_str(),
                    item.key.pk.as_str(),
                    item.key.sk.as_str(),
                ),
                [].as_slice(),
            )
            .map_err(io_err)?;
    }
    Ok(())
}

/// Runs `ops` in one write transaction: every condition is checked first, then all writes
/// are applied, then the transaction commits; any failure drops it uncommitted.
fn apply(db: &Database, ops: Vec<WriteOp>, single: bool) -> Result<(), StoreError> {
    let now = now_unix();
    let txn = db.begin_write().map_err(io_err)?;
    {
        let mut items = txn.open_table(ITEMS).map_err(io_err)?;
        let mut index = txn.open_table(INDEX).map_err(io_err)?;
        for (i, op) in ops.iter().enumerate() {
            let condition = match op {
                WriteOp::Put { condition, .. }
                | WriteOp::Delete { condition, .. }
                | WriteOp::Check { condition, .. } => *condition,
                WriteOp::Add { .. } => Condition::Always,
            };
            let current = read_live(&items, op.key(), now)?;
            if !holds(condition, current.as_ref()) {
                return Err(if single {
                    StoreError::ConditionFailed(op.key().clone())
                } else {
                    StoreError::TransactionConditionFailed {
                        index: i,
                        key: op.key().clone(),
                    }
                });
            }
        }
        for op in ops {
            match op {
                WriteOp::Put { item, .. } => put_raw(&mut items, &mut index, item)?,
                WriteOp::Delete { key, .. } => remove_raw(&mut items, &mut index, &key)?,
                WriteOp::Check { .. } => {}
                WriteOp::Add { key, delta } => {
                    let current = read_live(&items, &key, now)?;
                    let (n, version) = match &current {
                        Some(c) => (
                            c.doc.trim().parse::<i64>().map_err(|_| {
                                StoreError::Invalid(format!(
                                    "{}/{} is not a counter",
                                    key.pk, key.sk
                                ))
                            })?,
                            c.ver,
                        ),
                        None => (0, 0),
                    };
                    let counter = Item::new(key, n.saturating_add(delta).to_string(), version + 1);
                    put_raw(&mut items, &mut index, counter)?;
                }
            }
        }
    }
    txn.commit().map_err(io_err)?;
    Ok(())
}

fn upper_of_prefix(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 4);
    s.push_str(prefix);
    s.push(MAX_SUFFIX);
    s
}

fn run_query(db: &Database, q: &Query) -> Result<Page, StoreError> {
    if q.limit == 0 {
        return Err(StoreError::Invalid("query limit must be at least 1".into()));
    }
    // Cursors we hand out are sort keys inside the range; anything else did not come from
    // this query, and DynamoDB refuses it too.
    if let Some(c) = &q.cursor {
        let inside = match &q.range {
            SkRange::Prefix(p) => c.starts_with(p.as_str()),
            SkRange::Between(a, b) => a <= c && c <= b,
        };
        if c.is_empty() || !inside {
            return Err(StoreError::Invalid(
                "invalid cursor: not within the query's sort-key range".into(),
            ));
        }
    }
    let now = now_unix();
    let (lo, hi) = match &q.range {
        SkRange::Prefix(p) => (p.clone(), upper_of_prefix(p)),
        SkRange::Between(a, b) => (a.clone(), b.clone()),
    };
    let txn = db.begin_read().map_err(io_err)?;
    let items = txn.open_table(ITEMS).map_err(io_err)?;
    let pk = q.pk.as_str();
    let lo_b = std::ops::Bound::Included((pk, lo.as_str()));
    let hi_b = std::ops::Bound::Included((pk, hi.as_str()));
    let lo_b = match &q.cursor {
        Some(c) => std::ops::Bound::Excluded((pk, c.as_str())),
        None => lo_b,
    };
    if let (
        std::ops::Bound::Included(a) | std::ops::Bound::Excluded(a),
        std::ops::Bound::Included(b) | std::ops::Bound::Excluded(b),
    ) = (&lo_b, &hi_b)
    {
        if a > b {
            return Ok(Page {
                items: vec![],
                next: None,
            });
        }
    }
    let range = items.range::<(&str, &str)>((lo_b, hi_b)).map_err(io_err)?;
    collect_page(
        range.map(|entry| {
            let (k, v) = entry.map_err(io_err)?;
            let (pk, sk) = k.value();
            Ok((Key::new(pk, sk), decode(v.value())?))
        }),
        q.limit,
        now,
        |item| item.key.sk.clone(),
    )
}

/// Takes up to `limit` live items and reports a cursor iff another live item follows.
fn collect_page(
    iter: impl Iterator<Item = Result<(Key, Stored), StoreError>>,
    limit: usize,
    now: i64,
    cursor_of: impl Fn(&Item) -> String,
) -> Result<Page, StoreError> {
    let mut out = Vec::new();
    for entry in iter {
        let (key, stored) = entry?;
        if stored.ttl.is_some_and(|t| t <= now) {
            continue;
        }
        if out.len() == limit {
            let next = out.last().map(&cursor_of);
            return Ok(Page { items: out, next });
        }
        out.push(stored.into_item(key));
    }
    Ok(Page {
        items: out,
        next: None,
    })
}

fn index_cursor(item: &Item) -> String {
    let sort = item.index.as_ref().map_or("", |i| i.sort.as_str());
    serde_json::json!([sort, item.key.pk, item.key.sk]).to_string()
}

fn run_index_query(db: &Database, q: &IndexQuery) -> Result<Page, StoreError> {
    if q.limit == 0 {
        return Err(StoreError::Invalid("query limit must be at least 1".into()));
    }
    let now = now_unix();
    let cursor: Option<(String, String, String)> = q
        .cursor
        .as_deref()
        .map(|c| {
            serde_json::from_str(c)
                .map_err(|_| StoreError::Invalid("malformed index cursor".into()))
        })
        .transpose()?;
    let txn = db.begin_read().map_err(io_err)?;
    let index = txn.open_table(INDEX).map_err(io_err)?;
    let items = txn.open_table(ITEMS).map_err(io_err)?;
    let part = q.partition.as_str();
    let top = upper_of_prefix("");
    let hi = q.upto.as_deref().unwrap_or(top.as_str());
    let lo_b = match &cursor {
        Some((s, p, k)) => std::ops::Bound::Excluded((part, s.as_str(), p.as_str(), k.as_str())),
        None => std::ops::Bound::Included((part, "", "", "")),
    };
    let hi_upper = upper_of_prefix("");
    let hi_b = std::ops::Bound::Included((part, hi, hi_upper.as_str(), hi_upper.as_str()));
    let range = index
        .range::<(&str, &str, &str, &str)>((lo_b, hi_b))
        .map_err(io_err)?;
    collect_page(
        range.filter_map(|entry| {
            let r = (|| {
                let (k, _) = entry.map_err(io_err)?;
                let (_, _, pk, sk) = k.value();
                let key = Key::new(pk, sk);
                Ok(read_live(&items, &key, i64::MIN)?.map(|s| (key, s)))
            })();
            r.transpose()
        }),
        q.limit,
        now,
        index_cursor,
    )
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let db = self.db.clone();
        let key = key.clone();
        blocking(move || {
            let txn = db.begin_read().map_err(io_err)?;
            let items = txn.open_table(ITEMS).map_err(io_err)?;
            Ok(read_live(&items, &key, now_unix())?.map(|s| s.into_item(key)))
        })
        .await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        validate_item(&item)?;
        let db = self.db.clone();
        blocking(move || apply(&db, vec![WriteOp::Put { item, condition }], true)).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        validate_key(key)?;
        let db = self.db.clone();
        let key = key.clone();
        blocking(move || apply(&db, vec![WriteOp::Delete { key, condition }], true)).await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_ops(&ops)?;
        let db = self.db.clone();
        blocking(move || apply(&db, ops, false)).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let db = self.db.clone();
        let query = query.clone();
        blocking(move || run_query(&db, &query)).await
    }

    async fn query_index(&self, query: &IndexQuery) -> Result<Page, StoreError> {
        let db = self.db.clone();
        let query = query.clone();
        blocking(move || run_index_query(&db, &query)).await
    }

    async fn sweep_expired(&self, _max: usize) -> Result<usize, StoreError> {
        // One write transaction removes them all: no reason to stop part way.
        self.sweep_all_expired().await
    }
}
