//! Every store backend, ready for a test: the same async body runs against the embedded
//! store and against DynamoDB Local.
//!
//! The easiest way is [`store_tests!`](crate::store_tests), which turns each body into two
//! `#[tokio::test]`s, `<name>::embedded` and `<name>::dynamodb`, so a failure names its
//! backend and both run in parallel:
//!
//! ```ignore
//! use std::sync::Arc;
//! use ucc_shared::store::{Condition, Item, Key, Store};
//!
//! ucc_tests::store_tests!(put_then_get, another_test);
//!
//! async fn put_then_get(store: Arc<dyn Store>) {
//!     let item = Item::new(Key::new("T#1", "A"), "{}".into(), 1);
//!     store.put(item.clone(), Condition::NotExists).await.unwrap();
//!     assert_eq!(store.get(&item.key).await.unwrap(), Some(item));
//! }
//! ```
//!
//! Each call gets a fresh, empty store (its own file, or its own DynamoDB table). For a
//! loop over backends inside one test instead, use [`backends`].
//!
//! DynamoDB Local is used when `UCC_TEST_DYNAMODB_ENDPOINT` is set (`make test`, or
//! `scripts/with-dynamodb-local.sh cargo test ...`); otherwise the DynamoDB half is skipped
//! with a notice, unless `UCC_REQUIRE_DYNAMODB=1` makes that a failure.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use tempfile::TempDir;
use ucc_shared::store::azuretable::client::Credential;
use ucc_shared::store::azuretable::{AzureTableConfig, AzureTableStore};
use ucc_shared::store::dynamodb::DynamoStore;
use ucc_shared::store::embedded::EmbeddedStore;
use ucc_shared::store::Store;
use ucc_shared::uc::secrets::Secret;

pub const ENDPOINT_VAR: &str = "UCC_TEST_DYNAMODB_ENDPOINT";
pub const REQUIRE_VAR: &str = "UCC_REQUIRE_DYNAMODB";

/// A backend under test. Keep the whole value alive for the test's duration: `dir` owns
/// the embedded store's files.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    pub dir: Option<TempDir>,
}

/// A fresh embedded store in a temporary directory (deleted when the `TempDir` drops).
pub fn embedded() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
    let store = EmbeddedStore::open(dir.path().join("state"))
        .unwrap_or_else(|e| panic!("cannot open the embedded store: {e}"));
    (dir, Arc::new(store))
}

/// A fresh DynamoDB Local table, or `None` (with a one-time notice) when no endpoint is
/// configured.
pub async fn dynamodb() -> Option<Arc<dyn Store>> {
    let store = dynamodb_store().await?;
    Some(Arc::new(store))
}

/// Like [`dynamodb`], but the concrete type, for tests that need DynamoDB specifics.
pub async fn dynamodb_store() -> Option<DynamoStore> {
    let endpoint = dynamodb_endpoint()?;
    Some(fresh_table(&endpoint).await)
}

/// The shared DynamoDB Local's endpoint, or `None` (with a one-time notice) when DynamoDB
/// tests are to be skipped. Also tells a test that starts its own instance whether to run.
pub fn dynamodb_endpoint() -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                panic!(
                    "{REQUIRE_VAR}=1 but {ENDPOINT_VAR} is not set: start DynamoDB Local with \
                     scripts/with-dynamodb-local.sh (or run make test)"
                );
            }
            static NOTICE: Once = Once::new();
            // Written to the real stderr: libtest captures `eprintln!` of passing tests, and
            // a silent skip would look like a pass.
            NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping DynamoDB Local tests: {ENDPOINT_VAR} not set (run make test)"
                );
            });
            None
        }
    }
}

/// A new, empty table on the DynamoDB Local at `endpoint`.
pub async fn fresh_table(endpoint: &str) -> DynamoStore {
    let store = DynamoStore::local(endpoint, unique_table_name());
    if let Err(e) = store.create_table_if_missing().await {
        panic!(
            "cannot create table {} on DynamoDB Local at {endpoint}: {e}",
            store.table()
        );
    }
    store
}

/// Tests run in parallel threads and several test binaries at once, all against one
/// DynamoDB Local: a table per test keeps them independent.
pub fn unique_table_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "ucc-test-{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Every available backend, each fresh: the embedded store always, DynamoDB Local when
/// configured.
pub async fn backends() -> Vec<Backend> {
    let (dir, store) = embedded();
    let mut all = vec![Backend {
        name: "embedded",
        store,
        dir: Some(dir),
    }];
    if let Some(store) = dynamodb().await {
        all.push(Backend {
            name: "dynamodb",
            store,
            dir: None,
        });
    }
    if let Some(store) = azuretable().await {
        all.push(Backend {
            name: "azuretable",
            store,
            dir: None,
        });
    }
    all
}

pub const AZURITE_VAR: &str = "UCC_TEST_AZURITE_ENDPOINT";
pub const REQUIRE_AZURITE_VAR: &str = "UCC_REQUIRE_AZURITE";
/// Azurite's well-known development account and key (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The shared Azurite's endpoint (`http://127.0.0.1:P/devstoreaccount1`), or `None` (with a
/// one-time notice) when Azure Table tests are to be skipped.
pub fn azurite_endpoint() -> Option<String> {
    match std::env::var(AZURITE_VAR) {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            if std::env::var(REQUIRE_AZURITE_VAR).is_ok_and(|v| v == "1") {
                panic!(
                    "{REQUIRE_AZURITE_VAR}=1 but {AZURITE_VAR} is not set: start Azurite with \
                     scripts/with-azurite.sh (or run make test)"
                );
            }
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping Azure Table (Azurite) tests: {AZURITE_VAR} not set (run make test)"
                );
            });
            None
        }
    }
}

pub const MOTO_VAR: &str = "UCC_TEST_MOTO_ENDPOINT";
pub const REQUIRE_MOTO_VAR: &str = "UCC_REQUIRE_MOTO";

/// The shared moto server's endpoint (Secrets Manager), or `None` (with a one-time notice)
/// when `aws-sm:` tests are to be skipped.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var(MOTO_VAR) {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            if std::env::var(REQUIRE_MOTO_VAR).is_ok_and(|v| v == "1") {
                panic!(
                    "{REQUIRE_MOTO_VAR}=1 but {MOTO_VAR} is not set: start moto with \
                     scripts/with-moto.sh (or run make test)"
                );
            }
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping Secrets Manager (moto) tests: {MOTO_VAR} not set (run make test)"
                );
            });
            None
        }
    }
}

/// A fresh table on the shared Azurite, or `None` when Azurite is not configured.
pub async fn azuretable() -> Option<Arc<dyn Store>> {
    let endpoint = azurite_endpoint()?;
    Some(Arc::new(
        fresh_azure_table(&endpoint, &unique_azure_table()).await,
    ))
}

/// A table name Azure accepts (letters and digits, 3-63), unique per test.
pub fn unique_azure_table() -> String {
    unique_table_name()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(63)
        .collect()
}

/// Connects to `table` on the Azurite at `endpoint` with the development key.
pub async fn fresh_azure_table(endpoint: &str, table: &str) -> AzureTableStore {
    AzureTableStore::connect(AzureTableConfig {
        account: AZURITE_ACCOUNT.into(),
        table: table.into(),
        endpoint: endpoint.into(),
        credential: Credential::SharedKey(Secret::new(AZURITE_KEY)),
        timeout: std::time::Duration::from_secs(30),
    })
    .await
    .unwrap_or_else(|e| panic!("cannot open table {table} on Azurite at {endpoint}: {e}"))
}

/// For each `async fn name(store: Arc<dyn Store>)` listed, defines a module `name` with
/// two tests, `name::embedded` and `name::dynamodb`, each calling the function with a fresh
/// backend. The functions stay ordinary code (rustfmt, rust-analyzer, reusable); a module
/// and a function may share a name because they live in different namespaces.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    let (_dir, store) = $crate::backends::embedded();
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn dynamodb() {
                    if let Some(store) = $crate::backends::dynamodb().await {
                        super::$name(store).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn azuretable() {
                    if let Some(store) = $crate::backends::azuretable().await {
                        super::$name(store).await;
                    }
                }
            }
        )+
    };
}
