//! A decorator that counts the requests a handler makes: store requests are the product's cost.
//! It also estimates the DynamoDB on-demand request units those requests would be billed,
//! from the sizes of the items they read and write as DynamoDB stores them (documents
//! deflated, `dynamodb::billed_size`), for the cost model in BENCHMARKS.md.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Condition, IndexQuery, Item, Key, Page, Query, Store, StoreError, WriteOp};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    pub get: u64,
    pub put: u64,
    pub delete: u64,
    pub transact: u64,
    pub query: u64,
    pub query_index: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.get + self.put + self.delete + self.transact + self.query + self.query_index
    }
}

/// DynamoDB on-demand request units, as AWS bills them (see [`CountingStore`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RequestUnits {
    /// Read request units, in halves (an eventually consistent 4 KB read is half a unit).
    pub read_halves: u64,
    pub write: u64,
    /// What the same writes would cost without this connector's storage economies: the
    /// cost model's baseline (BENCHMARKS.md). Documents as they are (not deflated), a
    /// transaction of one item billed as a transaction, and each log entry written inside
    /// the transaction of the change it explains (billed twice, like the items there).
    pub write_plain: u64,
}

impl RequestUnits {
    pub fn read(&self) -> f64 {
        self.read_halves as f64 / 2.0
    }
}

/// Units per started `unit` bytes, at least one: DynamoDB rounds every item up.
fn units(bytes: usize, unit: usize) -> u64 {
    bytes.div_ceil(unit).max(1) as u64
}

const READ_UNIT: usize = 4096;
const WRITE_UNIT: usize = 1024;

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    transact: AtomicU64,
    query: AtomicU64,
    query_index: AtomicU64,
    read_halves: AtomicU64,
    write_units: AtomicU64,
    write_units_plain: AtomicU64,
}

/// Wraps any [`Store`] and counts each request by kind, and the request units DynamoDB
/// on-demand would bill for it:
///
/// - GetItem and Query on the table are strongly consistent: 1 read unit per started 4 KB
///   read (at least 1, also for a miss); a Query on the due index (a GSI) is eventually
///   consistent, half that.
/// - PutItem / DeleteItem: 1 write unit per started 1 KB; inside TransactWriteItems every
///   Put, Delete and ConditionCheck costs double (prepare and commit). A transaction of a
///   lone put or delete goes out as PutItem / DeleteItem (`store/dynamodb.rs`).
/// - The due index projects every attribute: writing an item that is in it costs the same
///   units again, and taking an item out of it costs 1 more.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counters: Counters,
    /// Keys currently in the due index, to bill their removal from it.
    indexed: Mutex<HashSet<Key>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            counters: Counters::default(),
            indexed: Mutex::new(HashSet::new()),
        }
    }

    pub fn units(&self) -> RequestUnits {
        RequestUnits {
            read_halves: self.counters.read_halves.load(Ordering::Relaxed),
            write: self.counters.write_units.load(Ordering::Relaxed),
            write_plain: self.counters.write_units_plain.load(Ordering::Relaxed),
        }
    }

    fn read(&self, items: &[Item], halves_per_unit: u64) {
        let bytes = items.iter().map(super::dynamodb::billed_size).sum();
        let halves = units(bytes, READ_UNIT) * halves_per_unit;
        self.counters
            .read_halves
            .fetch_add(halves, Ordering::Relaxed);
    }

    /// `factor` 2 inside a transaction. A refused write is billed too (AWS charges the
    /// units it consumed), but only a `committed` one changes the due index.
    /// `plain_factor`: the factor the baseline layout bills (see `RequestUnits::write_plain`).
    fn write(
        &self,
        key: &Key,
        item: Option<&Item>,
        (factor, plain_factor): (u64, u64),
        committed: bool,
    ) {
        let size = item.map_or(0, super::dynamodb::billed_size);
        let plain = item.map_or(0, Item::size);
        let (mut wru, mut plain_wru) = (
            units(size, WRITE_UNIT) * factor,
            units(plain, WRITE_UNIT) * plain_factor,
        );
        let in_index = item.is_some_and(|i| i.index.is_some());
        if let (true, Ok(mut indexed)) = (committed, self.indexed.lock()) {
            if in_index {
                indexed.insert(key.clone());
                wru += units(size, WRITE_UNIT);
                plain_wru += units(plain, WRITE_UNIT);
            } else if indexed.remove(key) {
                wru += 1;
                plain_wru += 1;
            }
        }
        self.counters.write_units.fetch_add(wru, Ordering::Relaxed);
        self.counters
            .write_units_plain
            .fetch_add(plain_wru, Ordering::Relaxed);
    }

    pub fn counts(&self) -> RequestCounts {
        let c = &self.counters;
        RequestCounts {
            get: c.get.load(Ordering::Relaxed),
            put: c.put.load(Ordering::Relaxed),
            delete: c.delete.load(Ordering::Relaxed),
            transact: c.transact.load(Ordering::Relaxed),
            query: c.query.load(Ordering::Relaxed),
            query_index: c.query_index.load(Ordering::Relaxed),
        }
    }

    pub fn reset(&self) {
        let c = &self.counters;
        for a in [
            &c.get,
            &c.put,
            &c.delete,
            &c.transact,
            &c.query,
            &c.query_index,
            &c.read_halves,
            &c.write_units,
            &c.write_units_plain,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.counters.get.fetch_add(1, Ordering::Relaxed);
        let got = self.inner.get(key).await?;
        self.read(got.as_slice(), 2);
        Ok(got)
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.counters.put.fetch_add(1, Ordering::Relaxed);
        let (key, billed) = (item.key.clone(), item.clone());
        let done = self.inner.put(item, condition).await;
        // In the baseline layout a log entry rides in its change's transaction.
        let in_log = key.pk.ends_with(&format!("#{}", crate::keys::LOGS));
        self.write(
            &key,
            Some(&billed),
            (1, if in_log { 2 } else { 1 }),
            done.is_ok(),
        );
        done
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.counters.delete.fetch_add(1, Ordering::Relaxed);
        let done = self.inner.delete(key, condition).await;
        self.write(key, None, (1, 1), done.is_ok());
        done
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.counters.transact.fetch_add(1, Ordering::Relaxed);
        let billed = ops.clone();
        // The DynamoDB backend sends a lone put or delete as a conditional PutItem /
        // DeleteItem (billed once), anything else as TransactWriteItems (billed twice).
        let factor = match billed.as_slice() {
            [WriteOp::Put { .. } | WriteOp::Delete { .. }] => (1, 2),
            _ => (2, 2),
        };
        let done = self.inner.transact(ops).await;
        for op in &billed {
            match op {
                WriteOp::Put { item, .. } => {
                    self.write(&item.key, Some(item), factor, done.is_ok())
                }
                WriteOp::Delete { key, .. } => self.write(key, None, factor, done.is_ok()),
                // Billed as a transactional write; it never changes the index.
                WriteOp::Check { key, .. } => self.write(key, None, (2, 2), false),
                WriteOp::Add { key, .. } => self.write(key, None, (2, 2), false),
            }
        }
        done
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.counters.query.fetch_add(1, Ordering::Relaxed);
        let page = self.inner.query(query).await?;
        self.read(&page.items, 2);
        Ok(page)
    }
    async fn query_index(&self, query: &IndexQuery) -> Result<Page, StoreError> {
        self.counters.query_index.fetch_add(1, Ordering::Relaxed);
        let page = self.inner.query_index(query).await?;
        self.read(&page.items, 1);
        Ok(page)
    }
    async fn sweep_expired(&self, max: usize) -> Result<usize, StoreError> {
        self.inner.sweep_expired(max).await
    }
}

#[cfg(test)]
mod tests {
    //! On the embedded store (a real store in a temp dir): the units come from this
    //! decorator, so any backend does.
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::embedded::EmbeddedStore;

    /// Text that deflate cannot shrink below a KB per 1.5 KB (xorshift over 64 symbols), so
    /// the unit arithmetic below is about sizes, not compression.
    fn incompressible(n: usize) -> String {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let symbols = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                char::from(symbols[(x % 64) as usize])
            })
            .collect()
    }

    #[tokio::test]
    async fn documents_are_billed_as_dynamodb_stores_them_deflated() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path().join("s")).unwrap());
        let c = CountingStore::new(inner);
        // 3 KB of a repetitive JSON payload deflates under a KB: one unit, not three.
        let doc = "{\"k\":\"v\"},".repeat(300);
        c.put(
            Item::new(Key::new("T#1", "A"), doc, 1),
            Condition::NotExists,
        )
        .await
        .unwrap();
        assert_eq!(c.units().write, 1);
        // The cost model's baseline stores it as it is: three units.
        assert_eq!(c.units().write_plain, 3);
    }

    #[tokio::test]
    async fn the_baseline_bills_log_entries_as_part_of_a_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path().join("s")).unwrap());
        let c = CountingStore::new(inner);
        let log = Item::new(
            Key::new("T#7080010002488#LOG", "0001"),
            incompressible(1500),
            1,
        );
        c.put(log, Condition::Always).await.unwrap();
        assert_eq!((c.units().write, c.units().write_plain), (2, 4));
        let other = Item::new(
            Key::new("T#7080010002488#DRV", "d"),
            incompressible(1500),
            1,
        );
        c.put(other, Condition::Always).await.unwrap();
        assert_eq!((c.units().write, c.units().write_plain), (4, 6));
    }

    #[tokio::test]
    async fn bills_request_units_as_dynamodb_on_demand_does() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path().join("s")).unwrap());
        let c = CountingStore::new(inner);
        let key = Key::new("T#1", "A");

        // 1.5 KB is 2 write units, and 2 more for the copy in the due index.
        let due = Item::new(key.clone(), incompressible(1500), 1).with_index("T#1#DUE", "0001");
        c.put(due, Condition::NotExists).await.unwrap();
        assert_eq!(c.units().write, 4);

        // In a transaction everything doubles: the put 2 × 2, leaving the index 1, the
        // condition check 2 × 1.
        let settled = Item::new(key.clone(), incompressible(1500), 2);
        c.transact(vec![
            WriteOp::Put {
                item: settled,
                condition: Condition::Version(1),
            },
            WriteOp::Check {
                key: Key::new("T#1", "B"),
                condition: Condition::NotExists,
            },
        ])
        .await
        .unwrap();
        assert_eq!(c.units().write, 4 + 5 + 2);

        // A transaction of one put goes out as a conditional PutItem: billed once.
        let alone = Item::new(Key::new("T#1", "C"), incompressible(1500), 1);
        c.transact(vec![WriteOp::Put {
            item: alone,
            condition: Condition::NotExists,
        }])
        .await
        .unwrap();
        assert_eq!(c.units().write, 4 + 5 + 2 + 2);
        let key_c = Key::new("T#1", "C");
        c.delete(&key_c, Condition::Always).await.unwrap();
        assert_eq!(c.units().write, 14);

        // A refused write is billed all the same.
        let refused = c
            .put(Item::new(key.clone(), "y".into(), 9), Condition::NotExists)
            .await;
        assert!(refused.unwrap_err().is_condition_failure());
        assert_eq!(c.units().write, 15);
        // The baseline bills the lone-put transaction as a transaction: 2 units more.
        assert_eq!(c.units().write_plain, 17);

        // Strongly consistent reads: 1 unit per 4 KB, also for a miss.
        c.get(&key).await.unwrap();
        c.get(&Key::new("T#1", "missing")).await.unwrap();
        assert_eq!(c.units().read(), 2.0);
        assert_eq!(c.counts().total(), 7);
    }
}
