//! One module per command group; each opens the store, calls the core, prints.

pub mod admin;
pub mod deliveries;
pub mod drivers;
pub mod logs;
pub mod migration;
pub mod parked;
pub mod scenario;
pub mod serve;
pub mod servicebus;
pub mod spot;
pub mod tenant;

use std::sync::Arc;

use ucc_shared::context::Ctx;
use ucc_shared::gln::Gln;

pub type CmdResult = Result<(), String>;

pub async fn ctx(store: &str) -> Result<Arc<Ctx>, String> {
    let store = ucc_functions::env::open_store(store)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(Ctx::new(store)))
}

pub async fn deliverer(store: &str) -> Result<Arc<ucc_shared::delivery::Deliverer>, String> {
    ucc_functions::env::deliverer(ctx(store).await?)
}

pub fn gln(raw: &str) -> Result<Gln, String> {
    Gln::parse(raw).map_err(|e| format!("--tenant {raw:?} is not a valid GLN: {e}"))
}

/// The store and the configuration of the tenant `raw` names, or why there is none.
pub async fn tenant(
    store: &str,
    raw: &str,
) -> Result<(Arc<Ctx>, ucc_shared::tenant::TenantConfig), String> {
    let g = gln(raw)?;
    let ctx = ctx(store).await?;
    let cfg = ucc_shared::registry::get(ctx.store.as_ref(), &g)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant with GLN {g}"))?;
    Ok((ctx, cfg))
}
