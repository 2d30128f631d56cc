use std::net::SocketAddr;

use super::{ctx, CmdResult};

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
    let ctx = ctx(store).await?;
    let addr = SocketAddr::new(a.bind, port(a)?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let app = ucc_functions::azure::router(ctx);
    tracing::info!(%addr, timers = !a.no_timers, "ucc serve listening");
    eprintln!("ucc serve: listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}
