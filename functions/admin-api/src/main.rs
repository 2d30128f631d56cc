//! Lambda `bootstrap` for the admin API (HTTP API / Function URL events): the same axum
//! router `ucc serve` mounts under `/api/…`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ucc_functions::telemetry::init();
    let d = ucc_functions::env::deliverer_from_env().await?;
    let keys = ucc_functions::admin::AdminKeys::from_env().await;
    lambda_http::run(ucc_functions::admin::router(d, keys)).await
}
