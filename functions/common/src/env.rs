//! Wiring from the environment: which store, which context.

use std::sync::Arc;

use ucc_shared::context::Ctx;
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
