//! A decorator that counts the requests a handler makes: store requests are the product's cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    transact: AtomicU64,
    query: AtomicU64,
    query_index: AtomicU64,
}

/// Wraps any [`Store`] and counts each request by kind.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counters: Counters,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            counters: Counters::default(),
        }
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
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.counters.get.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.counters.put.fetch_add(1, Ordering::Relaxed);
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.counters.delete.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.counters.transact.fetch_add(1, Ordering::Relaxed);
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.counters.query.fetch_add(1, Ordering::Relaxed);
        self.inner.query(query).await
    }
    async fn query_index(&self, query: &IndexQuery) -> Result<Page, StoreError> {
        self.counters.query_index.fetch_add(1, Ordering::Relaxed);
        self.inner.query_index(query).await
    }
}
