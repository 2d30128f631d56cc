//! The Azure Table client against loopback stand-ins: the managed identity (App Service's
//! documented `IDENTITY_ENDPOINT` protocol) and the Table service's read and `$batch`
//! paths, which record what authorization every request carried and can answer 500/503.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use ucc_shared::store::azuretable::client::Credential;
use ucc_shared::store::azuretable::{AzureTableConfig, AzureTableStore};
use ucc_shared::store::{Key, Store};
use ucc_shared::uc::secrets::Secret;

const IDENTITY_SECRET: &str = "identity-header-secret";

#[derive(Default)]
struct Seen {
    token_requests: Vec<HashMap<String, String>>,
    table_auth: Vec<String>,
    /// Seconds from now the issued token lives.
    lifetime: i64,
    identity_fails: bool,
    /// Answer the next n table reads with this status.
    fail_reads: (usize, u16),
    batches: usize,
}

type Shared = Arc<Mutex<Seen>>;

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let mut seen = s.lock().unwrap();
    seen.token_requests.push(q.clone());
    let header_ok = headers
        .get("X-IDENTITY-HEADER")
        .is_some_and(|h| h == IDENTITY_SECRET);
    if seen.identity_fails
        || !header_ok
        || q.get("resource").map(String::as_str) != Some("https://storage.azure.com/")
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "nope"})),
        );
    }
    let n = seen.token_requests.len();
    let expires_on = ucc_shared::store::now_unix() + seen.lifetime;
    (
        StatusCode::OK,
        Json(json!({
            "access_token": format!("token-{n}"),
            "expires_on": expires_on.to_string(),
            "resource": "https://storage.azure.com/",
            "token_type": "Bearer"
        })),
    )
}

async fn table_call(State(s): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let auth = headers
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut seen = s.lock().unwrap();
    seen.table_auth.push(auth);
    if seen.fail_reads.0 > 0 {
        seen.fail_reads.0 -= 1;
        let status = StatusCode::from_u16(seen.fail_reads.1).unwrap();
        return (
            status,
            Json(json!({"odata.error": {"code": "ServerBusy", "message": {"value": "busy"}}})),
        );
    }
    (StatusCode::OK, Json(json!({"value": []})))
}

/// Every change set fails with a 500 (its fate unknown to the client).
async fn batch(State(s): State<Shared>) -> impl IntoResponse {
    s.lock().unwrap().batches += 1;
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(
            json!({"odata.error": {"code": "OperationTimedOut", "message": {"value": "timed out"}}}),
        ),
    )
}

async fn create_table(State(s): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let auth = headers
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    s.lock().unwrap().table_auth.push(auth);
    (StatusCode::CREATED, Json(json!({"TableName": "ucc"})))
}

async fn stand_in(lifetime: i64, identity_fails: bool) -> (SocketAddr, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Seen {
        lifetime,
        identity_fails,
        ..Seen::default()
    }));
    let app = Router::new()
        .route("/msi/token", get(token))
        .route("/acct/Tables", post(create_table))
        .route("/acct/$batch", post(batch))
        .route("/acct/{table}", get(table_call))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, shared)
}

async fn connect(addr: SocketAddr) -> Result<AzureTableStore, ucc_shared::store::StoreError> {
    AzureTableStore::connect(AzureTableConfig {
        account: "acct".into(),
        table: "ucc".into(),
        endpoint: format!("http://{addr}/acct"),
        credential: Credential::ManagedIdentity {
            endpoint: format!("http://{addr}/msi/token"),
            header: Secret::new(IDENTITY_SECRET),
        },
        timeout: std::time::Duration::from_secs(10),
    })
    .await
}

#[tokio::test]
async fn the_identity_token_is_fetched_once_and_sent_as_bearer() {
    let (addr, seen) = stand_in(3600, false).await;
    let store = connect(addr).await.unwrap();
    for n in 0..3 {
        assert_eq!(
            store.get(&Key::new("T#1", format!("K{n}"))).await.unwrap(),
            None
        );
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.token_requests.len(),
        1,
        "cached: {:?}",
        seen.token_requests
    );
    assert_eq!(seen.token_requests[0]["api-version"], "2019-08-01");
    assert_eq!(seen.table_auth.len(), 4);
    assert!(
        seen.table_auth.iter().all(|a| a == "Bearer token-1"),
        "{:?}",
        seen.table_auth
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_use() {
    // Lives 60 s: inside the renewal margin, so every request fetches a fresh one.
    let (addr, seen) = stand_in(60, false).await;
    let store = connect(addr).await.unwrap();
    store.get(&Key::new("T#1", "K")).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.token_requests.len(), 2);
    assert_eq!(seen.table_auth, ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test]
async fn an_identity_failure_is_transient_and_names_no_secret() {
    let (addr, seen) = stand_in(3600, true).await;
    let err = match connect(addr).await {
        Err(e) => e,
        Ok(_) => panic!("connected without a token"),
    };
    assert!(err.is_transient(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("managed identity"), "{text}");
    assert!(!text.contains(IDENTITY_SECRET), "{text}");
    assert!(
        seen.lock().unwrap().table_auth.is_empty(),
        "no request without a token"
    );
}

#[tokio::test]
async fn busy_reads_are_retried_a_bounded_number_of_times() {
    let (addr, seen) = stand_in(3600, false).await;
    let store = connect(addr).await.unwrap();
    seen.lock().unwrap().fail_reads = (2, 503);
    assert_eq!(store.get(&Key::new("T#1", "K")).await.unwrap(), None);
    // create table, then a read answered on its third try
    assert_eq!(seen.lock().unwrap().table_auth.len(), 1 + 3);

    seen.lock().unwrap().fail_reads = (100, 500);
    let err = store.get(&Key::new("T#1", "K")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let reads = seen.lock().unwrap().table_auth.len() - 4;
    assert_eq!(reads, 4, "bounded attempts");
}

#[tokio::test]
async fn a_change_set_of_unknown_fate_is_not_repeated() {
    use ucc_shared::store::{Condition, Item};
    let (addr, seen) = stand_in(3600, false).await;
    let store = connect(addr).await.unwrap();
    let err = store
        .put(
            Item::new(Key::new("T#1", "K"), "{}".into(), 1),
            Condition::NotExists,
        )
        .await
        .unwrap_err();
    // A 500 on a write may have committed: reported as transient (the platform redelivers
    // and the caller's conditions decide), never sent twice by the client itself.
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(seen.lock().unwrap().batches, 1);
}
