//! `ucc servicebus pull [--for SECONDS]` (SPEC §10): receive contract events from the
//! Service Bus subscription over REST with peek-lock and handle them into the store.

use std::time::{Duration, Instant};

use ucc_functions::servicebus;

use super::CmdResult;

pub async fn pull(store: &str, for_secs: Option<u64>) -> CmdResult {
    let cfg = servicebus::Config::from_env()?;
    ucc_functions::telemetry::init();
    let ctx = super::ctx(store).await?;
    let until = for_secs.map(|s| Instant::now() + Duration::from_secs(s));
    // Ctrl-C stops receiving; messages in flight are still handled and settled.
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match servicebus::run(ctx, cfg, until, stop).await {
        Ok(summary) => {
            println!("servicebus pull: {}", summary.line());
            Ok(())
        }
        Err(e) => Err(format!("servicebus pull: {e}")),
    }
}
