//! Helpers for the Service Bus pull tests: the stand-in, a matching configuration, the
//! example scenario's contract events, and a store that slows the handler's writes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ucc_functions::servicebus::Config;
use ucc_shared::store::{
    Condition, IndexQuery, Item, Key, Page, Query, Store, StoreError, WriteOp,
};
use ucc_standins::servicebus::ServiceBusStandIn;

/// The configuration of a pull against `sb`, with the key `key` written to a file in `dir`.
pub fn config(sb: &ServiceBusStandIn, dir: &Path, key: &str, loops: usize) -> Config {
    let key_file = dir.join(format!("sb-key-{}", sb.addr().port()));
    std::fs::write(&key_file, key).expect("write key file");
    let vars: HashMap<&str, String> = HashMap::from([
        ("UCC_SERVICEBUS_ENDPOINT", sb.endpoint()),
        ("UCC_SERVICEBUS_ENTITY", sb.options().entity.clone()),
        ("UCC_SERVICEBUS_SAS_KEY_NAME", sb.options().key_name.clone()),
        (
            "UCC_SERVICEBUS_SAS_KEY_REF",
            format!("file:{}", key_file.display()),
        ),
        ("UCC_SERVICEBUS_LOOPS", loops.to_string()),
        ("UCC_SERVICEBUS_RECEIVE_TIMEOUT", "1".into()),
    ]);
    Config::from_lookup(|n| vars.get(n).cloned()).expect("config")
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nordlys")
}

/// `examples/nordlys/events/*.json` that are contract events (have a `Header`), in order.
pub fn scenario_events() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(examples().join("events"))
        .expect("events dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let raw = std::fs::read(&p).expect("read event");
            let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
            v.get("Header")?;
            Some((p.file_name()?.to_string_lossy().into_owned(), raw))
        })
        .collect()
}

/// Puts `examples/nordlys/tenants/*.json` into the store.
pub async fn scenario_tenants(store: &dyn Store) {
    for e in std::fs::read_dir(examples().join("tenants")).expect("tenants dir") {
        let p = e.expect("entry").path();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&p).expect("read tenant")).expect("tenant json");
        crate::fixtures::put_tenant(store, &v).await;
    }
}

/// A store whose transactions (the handler's one write) each take `delay` longer.
pub struct SlowStore {
    pub inner: Arc<dyn Store>,
    pub delay: Duration,
}

#[async_trait]
impl Store for SlowStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn query_index(&self, query: &IndexQuery) -> Result<Page, StoreError> {
        self.inner.query_index(query).await
    }
}
