use std::net::SocketAddr;
use std::time::Duration;

use super::CmdResult;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Port; else FUNCTIONS_CUSTOMHANDLER_PORT; else 7071.
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on (the Functions host calls the handler on localhost).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Do not run the delivery-retry and reconciliation timers in this process.
    #[arg(long)]
    no_timers: bool,
    /// Demo only: start the local Utility Cloud + Entra stand-in and point every tenant of
    /// the store at it (as `run-scenario --uc-standin` does), so retries can be delivered.
    #[arg(long)]
    uc_standin: bool,
}

fn port(a: &ServeArgs) -> Result<u16, String> {
    if let Some(p) = a.port {
        return Ok(p);
    }
    match std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT") {
        Ok(raw) => raw
            .trim()
            .parse()
            .map_err(|_| format!("FUNCTIONS_CUSTOMHANDLER_PORT {raw:?} is not a port number")),
        Err(_) => Ok(7071),
    }
}

pub async fn run(store: &str, a: &ServeArgs) -> CmdResult {
    ucc_functions::telemetry::init();
    let d = super::deliverer(store).await?;
    let addr = SocketAddr::new(a.bind, port(a)?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let _standin = if a.uc_standin {
        let s = super::scenario::standin_for_store(&d.ctx).await?;
        eprintln!(
            "ucc serve: every tenant now delivers to the local UC stand-in at {}",
            s.base_url()
        );
        Some(s)
    } else {
        None
    };
    if !a.no_timers {
        spawn_timers(d.clone());
    }
    let keys = ucc_functions::admin::AdminKeys::from_env().await;
    let app = ucc_functions::azure::router(d.clone()).merge(ucc_functions::admin::router(d, keys));
    tracing::info!(%addr, timers = !a.no_timers, "ucc serve listening");
    eprintln!("ucc serve: listening on http://{addr} (the Integrations page: http://{addr}/)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}

/// The timers the cloud platforms run for us (EventBridge / timerTrigger), in-process.
fn spawn_timers(d: std::sync::Arc<ucc_shared::delivery::Deliverer>) {
    let every = std::env::var("UCC_RETRY_INTERVAL_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60)
        .max(1);
    let retry = d.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        loop {
            tick.tick().await;
            match ucc_shared::delivery::sweep::sweep(&retry).await {
                Ok(r) if r.due > 0 => tracing::info!(
                    due = r.due,
                    delivered = r.delivered,
                    pending = r.pending,
                    rejected = r.rejected,
                    "delivery-retry"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "delivery-retry sweep failed"),
            }
        }
    });
    // Expired items out of stores without a TTL of their own (embedded, Azure Tables).
    let sweep_every = std::env::var("UCC_EXPIRY_SWEEP_INTERVAL_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(3600)
        .max(1);
    let sweeper = d.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(sweep_every));
        loop {
            tick.tick().await;
            let store = &sweeper.ctx.store;
            match store
                .sweep_expired(ucc_functions::telemetry::STORE_SWEEP_MAX)
                .await
            {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "store-sweep"),
                Err(e) => tracing::warn!(error = %e, "store-sweep failed"),
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
        loop {
            tick.tick().await;
            if let Err(e) = ucc_shared::delivery::reconcile::run_all(&d.ctx).await {
                tracing::warn!(error = %e, "reconciliation failed");
            }
        }
    });
}
