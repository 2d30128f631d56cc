//! The Azure Table backend signing with the Function App's managed identity (SPEC §9):
//! against a loopback stand-in of the identity endpoint (App Service's documented
//! `IDENTITY_ENDPOINT` protocol) and of the Table service's read path, which records what
//! authorization every request carried.

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
    s.lock().unwrap().table_auth.push(auth);
    (StatusCode::OK, Json(json!({"value": []})))
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
