//! Runs an async property (proptest) on one store backend: each case gets a fresh, empty
//! store; a backend that is not available skips the whole test (with the backend's notice).
//!
//! ```ignore
//! #[test]
//! fn my_property_embedded() {
//!     ucc_tests::property::run(24, Backend::Embedded, strategy(), |store, case| check(store, case));
//! }
//! ```

use std::future::Future;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use ucc_shared::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    DynamoDb,
    AzureTable,
}

/// A fresh store, and the temp dir that must outlive it (embedded).
async fn fresh(backend: Backend) -> Option<(Option<tempfile::TempDir>, Arc<dyn Store>)> {
    let (dir, mut handles) = fresh_handles(backend, 1).await?;
    Some((dir, handles.pop()?))
}

/// `n` independent handles on one fresh store, as `n` processes sharing it would have:
/// their own clients and caches (DynamoDB, Azure Tables). The embedded store is a file
/// one process holds, so there all handles are the same one.
pub async fn fresh_handles(
    backend: Backend,
    n: usize,
) -> Option<(Option<tempfile::TempDir>, Vec<Arc<dyn Store>>)> {
    match backend {
        Backend::Embedded => {
            let (dir, store) = crate::backends::embedded();
            Some((Some(dir), vec![store; n]))
        }
        Backend::DynamoDb => {
            let endpoint = crate::backends::dynamodb_endpoint()?;
            let first = crate::backends::fresh_table(&endpoint).await;
            let table = first.table().to_owned();
            let mut all: Vec<Arc<dyn Store>> = vec![Arc::new(first)];
            for _ in 1..n {
                all.push(Arc::new(ucc_shared::store::dynamodb::DynamoStore::local(
                    &endpoint,
                    table.clone(),
                )));
            }
            Some((None, all))
        }
        Backend::AzureTable => {
            let endpoint = crate::backends::azurite_endpoint()?;
            let table = crate::backends::unique_azure_table();
            let mut all: Vec<Arc<dyn Store>> = Vec::new();
            for _ in 0..n {
                all.push(Arc::new(
                    crate::backends::fresh_azure_table(&endpoint, &table).await,
                ));
            }
            Some((None, all))
        }
    }
}

/// Like [`run`], but the property gets `handles` independent handles on each case's store.
pub fn run_shared<S, F, Fut>(cases: u32, backend: Backend, handles: usize, strategy: S, property: F)
where
    S: Strategy,
    S::Value: Clone,
    F: Fn(Vec<Arc<dyn Store>>, S::Value) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    if rt.block_on(fresh(backend)).is_none() {
        return;
    }
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |case| {
        let (_dir, stores) = rt
            .block_on(fresh_handles(backend, handles))
            .ok_or_else(|| TestCaseError::fail("backend vanished"))?;
        rt.block_on(property(stores, case))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Checks `property` on `cases` generated cases. Every case starts servers and a fresh
/// store, so shrinking is bounded.
pub fn run<S, F, Fut>(cases: u32, backend: Backend, strategy: S, property: F)
where
    S: Strategy,
    S::Value: Clone,
    F: Fn(Arc<dyn Store>, S::Value) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    if rt.block_on(fresh(backend)).is_none() {
        return; // backend not available (notice already printed)
    }
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |case| {
        let (_dir, store) = rt
            .block_on(fresh(backend))
            .ok_or_else(|| TestCaseError::fail("backend vanished"))?;
        rt.block_on(property(store, case))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
