//! A store that "crashes" after a given number of writes: every later write fails as if
//! the process had died there (nothing more reaches storage). Reads keep working, so a
//! test can look at exactly what a crash at that point leaves behind.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ucc_shared::store::{
    Condition, IndexQuery, Item, Key, Page, Query, Store, StoreError, WriteOp,
};

pub struct CrashingStore {
    inner: Arc<dyn Store>,
    writes_left: AtomicUsize,
}

impl CrashingStore {
    /// Lets `writes` writes (puts, deletes, transactions) through, then fails every other.
    pub fn new(inner: Arc<dyn Store>, writes: usize) -> Self {
        CrashingStore {
            inner,
            writes_left: AtomicUsize::new(writes),
        }
    }

    fn write_allowed(&self) -> Result<(), StoreError> {
        self.writes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .map(|_| ())
            .map_err(|_| StoreError::Unavailable("crashed (test)".into()))
    }

    /// From now on, lets `writes` more writes through (`usize::MAX`: healthy again).
    pub fn crash_after(&self, writes: usize) {
        self.writes_left.store(writes, Ordering::SeqCst);
    }

    /// True once the crash point was reached.
    pub fn crashed(&self) -> bool {
        self.writes_left.load(Ordering::SeqCst) == 0
    }
}

#[async_trait]
impl Store for CrashingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.write_allowed()?;
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.write_allowed()?;
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.write_allowed()?;
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn query_index(&self, query: &IndexQuery) -> Result<Page, StoreError> {
        self.inner.query_index(query).await
    }
}
