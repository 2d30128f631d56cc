//! One module per command group; each opens the store, calls the core, prints.

pub mod admin;
pub mod deliveries;
pub mod drivers;
pub mod logs;
pub mod parked;
pub mod scenario;
pub mod serve;
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
