//! Wiring from the environment: which store, which context, which HTTP timeout.

use std::sync::Arc;
use std::time::Duration;

use ucc_shared::context::Ctx;
use ucc_shared::delivery::{Deliverer, DEFAULT_HTTP_TIMEOUT};
use ucc_shared::store::azuretable::client::Credential;
use ucc_shared::store::azuretable::{AzureTableConfig, AzureTableStore};
use ucc_shared::store::dynamodb::DynamoStore;
use ucc_shared::store::embedded::EmbeddedStore;
use ucc_shared::store::{Store, StoreError};

/// Default embedded store location, relative to the working directory.
pub const DEFAULT_STORE: &str = "./.ucc/state";

/// The three forms a store may be named in (SPEC §9), for error messages.
pub const STORE_FORMS: &str =
    "a file path (embedded store), dynamodb://TABLE or azuretable://ACCOUNT/TABLE";

/// Opens the store named by `spec` (SPEC §9): `dynamodb://TABLE`,
/// `azuretable://ACCOUNT/TABLE`, or a file path for the embedded store. Any other
/// `scheme://` is refused rather than taken for a folder name.
pub async fn open_store(spec: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(table) = spec.strip_prefix("dynamodb://") {
        if table.is_empty() || table.contains('/') {
            return Err(StoreError::Invalid(format!(
                "{spec:?}: dynamodb:// needs a table name, e.g. dynamodb://ucc-state"
            )));
        }
        return Ok(Arc::new(DynamoStore::from_env(table).await?));
    }
    if let Some(target) = spec.strip_prefix("azuretable://") {
        return Ok(Arc::new(azure_table_from_env(target).await?));
    }
    if let Some((scheme, _)) = spec.split_once("://") {
        return Err(StoreError::Invalid(format!(
            "unknown store {scheme}://: a store is {STORE_FORMS}"
        )));
    }
    if spec.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "the store is empty: a store is {STORE_FORMS}"
        )));
    }
    Ok(Arc::new(EmbeddedStore::open(spec)?))
}

/// `azuretable://ACCOUNT/TABLE` with the endpoint from `UCC_AZURE_TABLE_ENDPOINT` (else
/// the account's public endpoint) and the account key from the secret reference in
/// `UCC_AZURE_STORAGE_KEY_REF`, else the managed identity (SPEC §9).
pub async fn azure_table_from_env(target: &str) -> Result<AzureTableStore, StoreError> {
    let (account, table) = AzureTableConfig::parse_target(target)?;
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let endpoint = var("UCC_AZURE_TABLE_ENDPOINT")
        .unwrap_or_else(|| format!("https://{account}.table.core.windows.net"));
    let credential = match var("UCC_AZURE_STORAGE_KEY_REF") {
        Some(reference) => Credential::SharedKey(
            ucc_shared::uc::secrets::resolve(&reference)
                .await
                .map_err(|e| StoreError::Invalid(format!("UCC_AZURE_STORAGE_KEY_REF: {e}")))?,
        ),
        None => match (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header)) => Credential::ManagedIdentity {
                endpoint,
                header: ucc_shared::uc::secrets::Secret::new(header),
            },
            _ => {
                return Err(StoreError::Invalid(
                    "azuretable:// needs UCC_AZURE_STORAGE_KEY_REF (a secret reference to the \
                     account key) or a managed identity (IDENTITY_ENDPOINT and IDENTITY_HEADER)"
                        .into(),
                ))
            }
        },
    };
    AzureTableStore::connect(AzureTableConfig {
        account,
        table,
        endpoint,
        credential,
        timeout: http_timeout(),
    })
    .await
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
