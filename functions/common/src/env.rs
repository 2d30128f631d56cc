//! Wiring from the environment: which store, which context, which HTTP timeout.

use std::sync::Arc;
use std::time::Duration;

use ucc_shared::context::Ctx;
use ucc_shared::delivery::{Deliverer, DEFAULT_HTTP_TIMEOUT};
use ucc_shared::store::dynamodb::DynamoStore;
use ucc_shared::store::embedded::EmbeddedStore;
use ucc_shared::store::{Store, StoreError};

/// Default embedded store location, relative to the working directory.
pub const DEFAULT_STORE: &str = "./.ucc/state";

/// Opens the store named by `spec`: `dynamodb://TABLE`, or a file path for the embedded store.
pub async fn open_store(spec: &str) -> Result<Arc<dyn Store>, StoreError> {
    match spec.strip_prefix("dynamodb://") {
        Some(table) if !table.is_empty() => Ok(Arc::new(DynamoStore::from_env(table).await?)),
        Some(_) => Err(StoreError::Invalid(
            "dynamodb:// needs a table name, e.g. dynamodb://ucc-state".into(),
        )),
        None => Ok(Arc::new(EmbeddedStore::open(spec)?)),
    }
}

/// The store named by `UCC_STORE`, else the embedded default.
pub async fn store_from_env() -> Result<Arc<dyn Store>, StoreError> {
    let spec = std::env::var("UCC_STORE").unwrap_or_else(|_| DEFAULT_STORE.to_owned());
    open_store(&spec).await
}

pub async fn ctx_from_env() -> Result<Arc<Ctx>, StoreError> {
    Ok(Arc::new(Ctx::new(store_from_env().await?)))
}

/// HTTP timeout for UC and Entra calls: `UCC_HTTP_TIMEOUT_MS`, else the default.
pub fn http_timeout() -> Duration {
    std::env::var("UCC_HTTP_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_millis)
}

pub fn deliverer(ctx: Arc<Ctx>) -> Result<Arc<Deliverer>, String> {
    Ok(Arc::new(Deliverer::new(ctx, http_timeout())?))
}

/// The deliverer every function binary runs with, from the environment.
pub async fn deliverer_from_env() -> Result<Arc<Deliverer>, String> {
    let ctx = ctx_from_env().await.map_err(|e| e.to_string())?;
    deliverer(ctx)
}
