//! The store port on Azure Table Storage (`azuretable://ACCOUNT/TABLE`, SPEC §9).
//!
//! Azure Tables has what the contract needs only in part, so this backend builds the rest:
//! * **Partitions**: one Azure partition per transaction scope (`T#<gln>`, `TENANTS`, …,
//!   see [`rowkey::scope_of`]); every transaction stays inside one, which the shared
//!   validation already demands and [`batch`] requests check again.
//! * **Conditions** become ETags. An item carries its caller-managed version `V`; to write
//!   over version n the backend needs the ETag of that version, which it remembers from the
//!   read the caller just made (a bounded cache) or reads itself, then sends `If-Match`.
//!   A 412/409 means someone wrote in between: the backend re-reads and re-evaluates the
//!   caller's condition, so a stale cache can cost a request but never a wrong answer.
//! * **Index and expiry** are entities of their own in the item's partition, written in
//!   the same change set as the item (`x…` rows hold a copy of the item, `e…` rows name
//!   an item that expires). Expired items are invisible at once; [`AzureTableStore::sweep_expired`]
//!   deletes them (the `store-sweep` timer).
//! * **Documents** are split across properties of at most 64 KiB (`D0`, `D1`, …).
//! * **Counters** (`WriteOp::Add`) are a read and an `If-Match` replace.
//! * **Check NotExists** on an absent item writes a tombstone (`T`), the only way to hold
//!   "absent" inside a change set; reads treat tombstones as absent.
//!
//! Why our own client: no maintained Rust crate speaks Azure Tables (see ARCHITECTURE.md).

pub mod batch;
pub mod client;
pub mod rowkey;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use self::batch::{EntityOp, Outcome};
use self::client::{Client, Credential, Entity};
use super::{
    now_unix, validate_item, validate_key, validate_ops, Condition, IndexEntry, IndexQuery, Item,
    Key, Page, Query, SkRange, Store, StoreError, WriteOp,
};

/// Characters (UTF-16 units) per document property: Azure allows 64 KiB, counted as UTF-16.
const CHUNK_UNITS: usize = 30_000;
/// Remembered ETags (item, version) before the cache starts over.
const CACHE_ENTRIES: usize = 20_000;
/// Re-reads after a failed `If-Match` before the transaction is reported as a conflict.
const ROUNDS: usize = 6;

/// What `UCC_STORE=azuretable://ACCOUNT/TABLE` names, plus how to reach and sign.
pub struct AzureTableConfig {
    pub account: String,
    pub table: String,
    /// `https://ACCOUNT.table.core.windows.net` unless `UCC_AZURE_TABLE_ENDPOINT` says
    /// otherwise (Azurite: `http://127.0.0.1:PORT/devstoreaccount1`).
    pub endpoint: String,
    pub credential: Credential,
    pub timeout: Duration,
}

impl AzureTableConfig {
    /// Parses `ACCOUNT/TABLE` (what follows `azuretable://`).
    pub fn parse_target(target: &str) -> Result<(String, String), StoreError> {
        let (account, table) = target.split_once('/').ok_or_else(|| {
            StoreError::Invalid(format!(
                "azuretable://{target} needs an account and a table: azuretable://ACCOUNT/TABLE"
            ))
        })?;
        let account_ok = (3..=24).contains(&account.len())
            && account
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !account_ok {
            return Err(StoreError::Invalid(format!(
                "azuretable://: {account:?} is not a storage account name (3-24 lowercase letters and digits)"
            )));
        }
        let table_ok = (3..=63).contains(&table.len())
            && table.bytes().all(|b| b.is_ascii_alphanumeric())
            && table.as_bytes()[0].is_ascii_alphabetic();
        if !table_ok {
            return Err(StoreError::Invalid(format!(
                "azuretable://: {table:?} is not a table name (3-63 letters and digits, starting with a letter)"
            )));
        }
        Ok((account.to_owned(), table.to_owned()))
    }
}

/// What the backend knows of an item's stored entity: enough to write over it.
#[derive(Debug, Clone)]
struct Prior {
    etag: String,
    version: u64,
    /// False for a tombstone or an expired item: absent for every condition.
    live: bool,
    index_row: Option<String>,
    expiry_row: Option<String>,
    doc: String,
}

pub struct AzureTableStore {
    client: Client,
    /// (pk, sk) → the entity as last read or written by this process.
    cache: Mutex<HashMap<Key, Prior>>,
}

impl AzureTableStore {
    /// Connects and creates the table if it is absent.
    pub async fn connect(cfg: AzureTableConfig) -> Result<Self, StoreError> {
        let client = Client::new(
            &cfg.endpoint,
            &cfg.account,
            &cfg.table,
            cfg.credential,
            cfg.timeout,
        )?;
        client.create_table().await?;
        Ok(AzureTableStore {
            client,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Requests sent to Azure so far (what Azure bills), for `make bench`.
    pub fn requests(&self) -> client::RequestCounts {
        self.client.requests()
    }

    fn remember(&self, key: &Key, prior: Option<Prior>) {
        let Ok(mut c) = self.cache.lock() else {
            return;
        };
        match prior {
            Some(p) => {
                if c.len() >= CACHE_ENTRIES {
                    c.clear();
                }
                c.insert(key.clone(), p);
            }
            None => {
                c.remove(key);
            }
        }
    }

    fn cached(&self, key: &Key) -> Option<Prior> {
        self.cache.lock().ok().and_then(|c| c.get(key).cloned())
    }

    /// Reads the stored entity of `key` (live or not), remembering it.
    async fn read_prior(&self, key: &Key) -> Result<Option<Prior>, StoreError> {
        let filter = format!(
            "PartitionKey eq '{}' and RowKey eq '{}'",
            batch::quote(&rowkey::partition(&key.pk)),
            batch::quote(&rowkey::item_row(&key.pk, &key.sk))
        );
        let page = self.client.query(&filter, 1, None, None).await?;
        let prior = match page.entities.first() {
            Some(e) => Some(prior_of(e, now_unix())?),
            None => None,
        };
        self.remember(key, prior.clone());
        Ok(prior)
    }

    /// Deletes expired items (with their index and expiry entries), at most `max` of
    /// them; returns how many went. Reads never show an expired item, so this only frees
    /// space; it runs from the `store-sweep` timer.
    async fn sweep(&self, max: usize) -> Result<usize, StoreError> {
        let now = now_unix();
        let filter = format!(
            "RowKey ge '{}' and RowKey lt '{}'",
            rowkey::EXPIRY_PREFIX,
            rowkey::expiry_row(now.saturating_add(1), "")
        );
        let mut cont = None;
        let mut deleted = 0;
        loop {
            let page = self
                .client
                .query(&filter, 1000, cont.as_ref(), Some("PartitionKey,RowKey,R"))
                .await?;
            for e in &page.entities {
                if deleted >= max {
                    return Ok(deleted);
                }
                let partition = str_prop(&e.props, "PartitionKey").unwrap_or_default();
                let item_row = str_prop(&e.props, "R").unwrap_or_default();
                if self.sweep_one(&partition, &item_row, e.row(), now).await? {
                    deleted += 1;
                }
            }
            match page.next {
                Some(n) => cont = Some(n),
                None => return Ok(deleted),
            }
        }
    }

    async fn sweep_one(
        &self,
        partition: &str,
        item_row: &str,
        expiry_row: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let filter = format!(
            "PartitionKey eq '{}' and RowKey eq '{}'",
            batch::quote(partition),
            batch::quote(item_row)
        );
        let page = self.client.query(&filter, 1, None, None).await?;
        let mut ops = Vec::new();
        match page.entities.first() {
            Some(item) => {
                let p = prior_of(item, now)?;
                let expired = i64_prop(&item.props, "E").is_some_and(|e| e <= now);
                if expired && p.expiry_row.as_deref() == Some(expiry_row) {
                    ops.push(EntityOp::Delete {
                        row: item_row.to_owned(),
                        etag: p.etag.clone(),
                    });
                    if let Some(x) = p.index_row {
                        ops.push(EntityOp::Delete {
                            row: x,
                            etag: "*".into(),
                        });
                    }
                }
                if p.expiry_row.as_deref() != Some(expiry_row) || expired {
                    ops.push(EntityOp::Delete {
                        row: expiry_row.to_owned(),
                        etag: "*".into(),
                    });
                }
            }
            // The item went another way: its expiry entry is a leftover.
            None => ops.push(EntityOp::Delete {
                row: expiry_row.to_owned(),
                etag: "*".into(),
            }),
        }
        if ops.is_empty() {
            return Ok(false);
        }
        // A lost race (the item rewritten meanwhile) is the next run's business.
        Ok(matches!(
            self.client.batch(partition, &ops).await?,
            Outcome::Committed(_)
        ))
    }

    async fn transact_inner(&self, ops: Vec<WriteOp>, single: bool) -> Result<(), StoreError> {
        validate_ops(&ops)?;
        let partition = rowkey::partition(&ops[0].key().pk);
        let fail = |i: usize, key: &Key| {
            if single {
                StoreError::ConditionFailed(key.clone())
            } else {
                StoreError::TransactionConditionFailed {
                    index: i,
                    key: key.clone(),
                }
            }
        };
        // Keys whose cached state proved stale: read them afresh.
        let mut fresh: Vec<bool> = vec![false; ops.len()];
        for _ in 0..ROUNDS {
            let now = now_unix();
            let mut priors: Vec<Option<Prior>> = Vec::with_capacity(ops.len());
            for (i, op) in ops.iter().enumerate() {
                // A put that expects nothing there (NotExists), or does not care and finds
                // nothing cached (Always: a new log entry), is sent as an insert without a
                // read first; if the entity exists after all, the 409 brings a fresh read.
                let blind_insert = !fresh[i]
                    && match op {
                        WriteOp::Put { condition, item } => match condition {
                            Condition::NotExists => true,
                            Condition::Always => self.cached(&item.key).is_none(),
                            _ => false,
                        },
                        _ => false,
                    };
                let prior = if blind_insert {
                    None
                } else if fresh[i] {
                    self.read_prior(op.key()).await?
                } else {
                    match self.cached(op.key()) {
                        Some(p) => Some(p),
                        None => {
                            fresh[i] = true;
                            self.read_prior(op.key()).await?
                        }
                    }
                };
                priors.push(prior);
            }
            // The caller's conditions, on what we know; a cached answer that fails is
            // checked again on a fresh read before it is believed.
            let mut stale = false;
            for (i, op) in ops.iter().enumerate() {
                let condition = match op {
                    WriteOp::Put { condition, .. }
                    | WriteOp::Delete { condition, .. }
                    | WriteOp::Check { condition, .. } => *condition,
                    WriteOp::Add { .. } => Condition::Always,
                };
                let blind = matches!(condition, Condition::NotExists | Condition::Always)
                    && priors[i].is_none();
                if blind || holds(condition, priors[i].as_ref()) {
                    continue;
                }
                if fresh[i] {
                    // The contract names the first failing operation: operations before
                    // this one that were not read (blind inserts, cached answers) are read
                    // and judged first.
                    if fresh[..i].iter().all(|f| *f) {
                        return Err(fail(i, op.key()));
                    }
                    fresh[..i].iter_mut().for_each(|f| *f = true);
                }
                fresh[i] = true;
                stale = true;
                break;
            }
            if stale {
                continue;
            }
            let Plan {
                ops: entity_ops,
                owners,
            } = plan(&ops, &priors)?;
            if entity_ops.is_empty() {
                return Ok(());
            }
            if entity_ops.len() > super::MAX_TRANSACTION_OPS {
                return Err(StoreError::Invalid(format!(
                    "this transaction needs {} entity writes on Azure Table Storage, at most {}",
                    entity_ops.len(),
                    super::MAX_TRANSACTION_OPS
                )));
            }
            match self.client.batch(&partition, &entity_ops).await? {
                Outcome::Committed(etags) => {
                    self.after_commit(&ops, &priors, &entity_ops, &owners, &etags, now);
                    return Ok(());
                }
                Outcome::Failed {
                    index,
                    status,
                    code,
                } => {
                    if !matches!(status, 404 | 409 | 412) {
                        return Err(StoreError::Invalid(format!(
                            "Azure Table Storage refused a write: {status} {code}"
                        )));
                    }
                    // Someone wrote in between (or our cache was stale): read what the
                    // failing operation touched (all of them, if the answer did not say)
                    // and decide again.
                    match index.and_then(|e| owners.get(e)) {
                        Some(&i) => {
                            self.remember(ops[i].key(), None);
                            fresh[i] = true;
                        }
                        None => {
                            for (i, op) in ops.iter().enumerate() {
                                self.remember(op.key(), None);
                                fresh[i] = true;
                            }
                        }
                    }
                }
            }
        }
        Err(StoreError::Conflict)
    }

    /// Remembers the ETags the commit returned, so the next write of these items needs no
    /// read.
    fn after_commit(
        &self,
        ops: &[WriteOp],
        priors: &[Option<Prior>],
        entity_ops: &[EntityOp],
        owners: &[usize],
        etags: &[Option<String>],
        now: i64,
    ) {
        for (i, op) in ops.iter().enumerate() {
            let key = op.key();
            let item_row = rowkey::item_row(&key.pk, &key.sk);
            let etag = entity_ops
                .iter()
                .zip(owners)
                .position(|(e, &o)| o == i && e.row() == item_row)
                .and_then(|pos| etags.get(pos).cloned().flatten());
            let next = match op {
                WriteOp::Put { item, .. } => etag.map(|etag| Prior {
                    etag,
                    version: item.version,
                    live: item.is_live(now),
                    index_row: index_row_of(item),
                    expiry_row: expiry_row_of(item),
                    doc: item.doc.clone(),
                }),
                WriteOp::Add { delta, .. } => etag.map(|etag| {
                    let (n, v) = counter_of(priors[i].as_ref(), key).unwrap_or((0, 0));
                    Prior {
                        etag,
                        version: v + 1,
                        live: true,
                        index_row: None,
                        expiry_row: None,
                        doc: n.saturating_add(*delta).to_string(),
                    }
                }),
                WriteOp::Check { .. } => {
                    etag.and_then(|etag| priors[i].clone().map(|p| Prior { etag, ..p }))
                }
                WriteOp::Delete { .. } => None,
            };
            self.remember(key, next);
        }
    }
}

fn holds(condition: Condition, prior: Option<&Prior>) -> bool {
    let live = prior.filter(|p| p.live);
    match condition {
        Condition::Always => true,
        Condition::NotExists => live.is_none(),
        Condition::Exists => live.is_some(),
        Condition::Version(v) => live.is_some_and(|p| p.version == v),
    }
}

/// The count and version of a counter item; an absent (or expired) one starts at 0.
fn counter_of(prior: Option<&Prior>, key: &Key) -> Result<(i64, u64), StoreError> {
    match prior.filter(|p| p.live) {
        Some(p) => p
            .doc
            .trim()
            .parse()
            .map(|n| (n, p.version))
            .map_err(|_| StoreError::Invalid(format!("{}/{} is not a counter", key.pk, key.sk))),
        None => Ok((0, 0)),
    }
}

/// The entity writes of a transaction, and for each the index of the store operation it
/// belongs to (to map a failing entity write back to the caller's operation).
#[derive(Default)]
struct Plan {
    ops: Vec<EntityOp>,
    owners: Vec<usize>,
}

impl Plan {
    fn push(&mut self, owner: usize, op: EntityOp) {
        self.ops.push(op);
        self.owners.push(owner);
    }

    /// Deletes the index and expiry entries of what is stored now, unless rewritten.
    fn drop_old(&mut self, owner: usize, prior: Option<&Prior>, keep: &[&str]) {
        let Some(p) = prior else { return };
        for old in [p.index_row.as_deref(), p.expiry_row.as_deref()]
            .into_iter()
            .flatten()
        {
            if !keep.contains(&old) {
                self.push(
                    owner,
                    EntityOp::Delete {
                        row: old.to_owned(),
                        etag: "*".into(),
                    },
                );
            }
        }
    }

    /// Insert when nothing is stored, else replace exactly what was read.
    fn write(&mut self, owner: usize, row: &str, props: Map<String, Value>, prior: Option<&Prior>) {
        let row = row.to_owned();
        self.push(
            owner,
            match prior {
                Some(p) => EntityOp::Replace {
                    row,
                    props,
                    etag: p.etag.clone(),
                },
                None => EntityOp::Insert { row, props },
            },
        );
    }
}

fn plan(ops: &[WriteOp], priors: &[Option<Prior>]) -> Result<Plan, StoreError> {
    let mut plan = Plan::default();
    for (i, op) in ops.iter().enumerate() {
        let key = op.key();
        let row = rowkey::item_row(&key.pk, &key.sk);
        let prior = priors[i].as_ref();
        match op {
            WriteOp::Put { item, .. } => {
                let props = item_props(item)?;
                let index_row = index_row_of(item);
                let expiry_row = expiry_row_of(item);
                plan.write(i, &row, props.clone(), prior);
                let keep: Vec<&str> = [index_row.as_deref(), expiry_row.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                plan.drop_old(i, prior, &keep);
                if let Some(x) = index_row {
                    let mut copy = props;
                    copy.insert("R".into(), Value::String(row.clone()));
                    plan.push(
                        i,
                        EntityOp::Upsert {
                            row: x,
                            props: copy,
                        },
                    );
                }
                if let Some(e) = expiry_row {
                    let mut p = Map::new();
                    p.insert("R".into(), Value::String(row.clone()));
                    plan.push(i, EntityOp::Upsert { row: e, props: p });
                }
            }
            WriteOp::Delete { .. } => {
                if let Some(p) = prior {
                    plan.push(
                        i,
                        EntityOp::Delete {
                            row: row.clone(),
                            etag: p.etag.clone(),
                        },
                    );
                    plan.drop_old(i, prior, &[]);
                }
            }
            WriteOp::Check { condition, .. } => match (prior, condition) {
                (Some(p), _) => plan.push(
                    i,
                    EntityOp::Touch {
                        row: row.clone(),
                        etag: p.etag.clone(),
                    },
                ),
                (None, Condition::NotExists) => {
                    let mut props = Map::new();
                    props.insert("T".into(), Value::Bool(true));
                    props.insert("K".into(), Value::String(key.pk.clone()));
                    props.insert("S".into(), Value::String(key.sk.clone()));
                    plan.push(
                        i,
                        EntityOp::Insert {
                            row: row.clone(),
                            props,
                        },
                    );
                }
                (None, _) => {}
            },
            WriteOp::Add { delta, .. } => {
                let (n, v) = counter_of(prior, key)?;
                let counter = Item::new(key.clone(), n.saturating_add(*delta).to_string(), v + 1);
                plan.write(i, &row, item_props(&counter)?, prior);
                // An expired item counted over starts again without its old entries.
                plan.drop_old(i, prior, &[]);
            }
        }
    }
    Ok(plan)
}

fn index_row_of(item: &Item) -> Option<String> {
    item.index.as_ref().map(|i| {
        rowkey::index_row(
            &i.partition,
            &i.sort,
            &rowkey::item_row(&item.key.pk, &item.key.sk),
        )
    })
}

fn expiry_row_of(item: &Item) -> Option<String> {
    item.expires_at
        .map(|e| rowkey::expiry_row(e, &rowkey::item_row(&item.key.pk, &item.key.sk)))
}

/// The stored properties of an item: keys in full (`K`, `S`), version, expiry, index, the
/// document in chunks, and where its index and expiry entries are.
fn item_props(item: &Item) -> Result<Map<String, Value>, StoreError> {
    let mut p = Map::new();
    let put_i64 = |p: &mut Map<String, Value>, name: &str, v: i64| {
        p.insert(name.into(), Value::String(v.to_string()));
        p.insert(
            format!("{name}@odata.type"),
            Value::String("Edm.Int64".into()),
        );
    };
    p.insert("K".into(), Value::String(item.key.pk.clone()));
    p.insert("S".into(), Value::String(item.key.sk.clone()));
    // A string: versions are u64, beyond Edm.Int64.
    p.insert("V".into(), Value::String(item.version.to_string()));
    if let Some(e) = item.expires_at {
        put_i64(&mut p, "E", e);
    }
    if let Some(i) = &item.index {
        p.insert("IP".into(), Value::String(i.partition.clone()));
        p.insert("IS".into(), Value::String(i.sort.clone()));
    }
    if let Some(x) = index_row_of(item) {
        p.insert("XR".into(), Value::String(x));
    }
    if let Some(e) = expiry_row_of(item) {
        p.insert("ER".into(), Value::String(e));
    }
    let chunks = chunk(&item.doc);
    p.insert("DN".into(), Value::from(chunks.len()));
    for (n, c) in chunks.into_iter().enumerate() {
        p.insert(format!("D{n}"), Value::String(c.to_owned()));
    }
    Ok(p)
}

/// `doc` cut into pieces of at most [`CHUNK_UNITS`] UTF-16 units, on character boundaries.
fn chunk(doc: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut units = 0;
    for (i, c) in doc.char_indices() {
        if units + c.len_utf16() > CHUNK_UNITS {
            out.push(&doc[start..i]);
            start = i;
            units = 0;
        }
        units += c.len_utf16();
    }
    out.push(&doc[start..]);
    out
}

fn str_prop(p: &Map<String, Value>, name: &str) -> Option<String> {
    p.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn i64_prop(p: &Map<String, Value>, name: &str) -> Option<i64> {
    match p.get(name)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn version_of(p: &Map<String, Value>) -> u64 {
    match p.get("V") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn doc_of(p: &Map<String, Value>) -> Result<String, StoreError> {
    let n = i64_prop(p, "DN").unwrap_or(0);
    let mut doc = String::new();
    for i in 0..n {
        match p.get(&format!("D{i}")).and_then(Value::as_str) {
            Some(s) => doc.push_str(s),
            None => {
                return Err(StoreError::Invalid(format!(
                    "stored entity {:?} lacks document part {i} of {n}",
                    str_prop(p, "RowKey").unwrap_or_default()
                )))
            }
        }
    }
    Ok(doc)
}

fn prior_of(e: &Entity, now: i64) -> Result<Prior, StoreError> {
    let tomb = e.props.get("T").and_then(Value::as_bool).unwrap_or(false);
    let expired = i64_prop(&e.props, "E").is_some_and(|x| x <= now);
    Ok(Prior {
        etag: e.etag.clone(),
        version: version_of(&e.props),
        live: !tomb && !expired,
        index_row: str_prop(&e.props, "XR"),
        expiry_row: str_prop(&e.props, "ER"),
        doc: if tomb {
            String::new()
        } else {
            doc_of(&e.props)?
        },
    })
}

/// The item an entity (an item row or an index entry's copy) holds, if it is live.
fn item_of(e: &Entity, now: i64) -> Result<Option<Item>, StoreError> {
    let p = &e.props;
    if p.get("T").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(None);
    }
    let (Some(pk), Some(sk)) = (str_prop(p, "K"), str_prop(p, "S")) else {
        return Err(StoreError::Invalid(format!(
            "stored entity {:?} has no key",
            e.row()
        )));
    };
    let item = Item {
        key: Key::new(pk, sk),
        doc: doc_of(p)?,
        version: version_of(p),
        expires_at: i64_prop(p, "E"),
        index: match (str_prop(p, "IP"), str_prop(p, "IS")) {
            (Some(partition), Some(sort)) => Some(IndexEntry { partition, sort }),
            _ => None,
        },
    };
    Ok(item.is_live(now).then_some(item))
}

/// A RowKey range: from (inclusive, or exclusive after a cursor) to (exclusive or inclusive).
struct Range {
    from: String,
    from_exclusive: bool,
    to: String,
    to_inclusive: bool,
}

impl AzureTableStore {
    /// Live items of `partition` in `range`, at most `limit`, and whether more follow
    /// (the `limit + 1`-th live one exists). Expired items and tombstones are skipped.
    async fn scan(
        &self,
        partition: &str,
        range: Range,
        limit: usize,
    ) -> Result<(Vec<(Entity, Item)>, bool), StoreError> {
        let now = now_unix();
        let filter = format!(
            "PartitionKey eq '{}' and RowKey {} '{}' and RowKey {} '{}'",
            batch::quote(partition),
            if range.from_exclusive { "gt" } else { "ge" },
            batch::quote(&range.from),
            if range.to_inclusive { "le" } else { "lt" },
            batch::quote(&range.to),
        );
        let mut out = Vec::new();
        let mut cont = None;
        loop {
            let want = limit + 1 - out.len();
            let page = self
                .client
                .query(&filter, want, cont.as_ref(), None)
                .await?;
            for e in page.entities {
                if let Some(item) = item_of(&e, now)? {
                    if out.len() == limit {
                        return Ok((out, true));
                    }
                    out.push((e, item));
                }
            }
            match page.next {
                Some(n) => cont = Some(n),
                None => return Ok((out, false)),
            }
        }
    }
}

#[async_trait]
impl Store for AzureTableStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let filter = format!(
            "PartitionKey eq '{}' and RowKey eq '{}'",
            batch::quote(&rowkey::partition(&key.pk)),
            batch::quote(&rowkey::item_row(&key.pk, &key.sk))
        );
        let page = self.client.query(&filter, 1, None, None).await?;
        let now = now_unix();
        match page.entities.first() {
            Some(e) => {
                self.remember(key, Some(prior_of(e, now)?));
                item_of(e, now)
            }
            None => {
                self.remember(key, None);
                Ok(None)
            }
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        validate_item(&item)?;
        self.transact_inner(vec![WriteOp::Put { item, condition }], true)
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.transact_inner(
            vec![WriteOp::Delete {
                key: key.clone(),
                condition,
            }],
            true,
        )
        .await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.transact_inner(ops, false).await
    }

    async fn sweep_expired(&self, max: usize) -> Result<usize, StoreError> {
        self.sweep(max).await
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        if q.limit == 0 {
            return Err(StoreError::Invalid("query limit must be at least 1".into()));
        }
        let (lo, hi, hi_incl) = match &q.range {
            SkRange::Prefix(p) => {
                let lo = rowkey::item_row(&q.pk, p);
                let hi = rowkey::after_prefix(&lo);
                (lo, hi, false)
            }
            SkRange::Between(a, b) => {
                (rowkey::item_row(&q.pk, a), rowkey::item_row(&q.pk, b), true)
            }
        };
        let (from, from_exclusive) = match &q.cursor {
            Some(c) => {
                let inside = match &q.range {
                    SkRange::Prefix(p) => c.starts_with(p.as_str()),
                    SkRange::Between(a, b) => a <= c && c <= b,
                };
                if c.is_empty() || !inside {
                    return Err(StoreError::Invalid(
                        "query cursor does not belong to this query".into(),
                    ));
                }
                (rowkey::item_row(&q.pk, c), true)
            }
            None => (lo, false),
        };
        let (found, more) = self
            .scan(
                &rowkey::partition(&q.pk),
                Range {
                    from,
                    from_exclusive,
                    to: hi,
                    to_inclusive: hi_incl,
                },
                q.limit,
            )
            .await?;
        let now = now_unix();
        let mut items = Vec::with_capacity(found.len());
        for (e, item) in found {
            self.remember(&item.key, Some(prior_of(&e, now)?));
            items.push(item);
        }
        let next = if more {
            items.last().map(|i| i.key.sk.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn query_index(&self, q: &IndexQuery) -> Result<Page, StoreError> {
        if q.limit == 0 {
            return Err(StoreError::Invalid("query limit must be at least 1".into()));
        }
        let prefix = rowkey::index_prefix(&q.partition);
        let (hi, hi_incl) = match &q.upto {
            // Entries sorted exactly at `upto` continue with a space, longer sorts with an
            // escaped byte (at least `!`): `< upto + "!"` keeps the first, not the second.
            Some(u) => (format!("{prefix}{}!", rowkey::escape(u)), false),
            None => (rowkey::after_prefix(&prefix), false),
        };
        let (from, from_exclusive) = match &q.cursor {
            Some(c) if c.starts_with(&prefix) && *c < hi => (c.clone(), true),
            Some(_) => {
                return Err(StoreError::Invalid(
                    "index cursor does not belong to this query".into(),
                ))
            }
            None => (prefix, false),
        };
        let (found, more) = self
            .scan(
                &rowkey::partition(&q.partition),
                Range {
                    from,
                    from_exclusive,
                    to: hi,
                    to_inclusive: hi_incl,
                },
                q.limit,
            )
            .await?;
        let next = if more {
            found.last().map(|(e, _)| e.row().to_owned())
        } else {
            None
        };
        Ok(Page {
            items: found.into_iter().map(|(_, i)| i).collect(),
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_property_limit_and_rejoin() {
        let doc = "é".repeat(CHUNK_UNITS + 5) + &"😀".repeat(CHUNK_UNITS);
        let parts = chunk(&doc);
        assert!(parts
            .iter()
            .all(|p| p.encode_utf16().count() <= CHUNK_UNITS));
        assert_eq!(parts.concat(), doc);
        assert_eq!(chunk(""), vec![""]);
    }

    #[test]
    fn store_urls() {
        assert!(AzureTableConfig::parse_target("devstoreaccount1/ucc").is_ok());
        for bad in [
            "acct",
            "ACCT/ucc",
            "ab/ucc",
            "acct/1ucc",
            "acct/u-c",
            "acct/",
        ] {
            assert!(AzureTableConfig::parse_target(bad).is_err(), "{bad}");
        }
    }
}
