//! Secret references resolved at run time (SPEC §11): `aws-sm:` against moto's Secrets
//! Manager (`scripts/with-moto.sh`, part of `make test`), `keyvault:` against a loopback
//! stand-in of Key Vault and the managed identity endpoint. A rotated secret is used by the
//! next token request without a restart: Entra refuses the cached value, the connector
//! re-resolves once and retries, and the tenant is never marked authBlocked.
//!
//! Alone in its own test binary because it sets process environment variables (the
//! Secrets Manager endpoint, the managed identity).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::delivery::record::DeliveryState;
use ucc_shared::delivery::status::{self, Connection};
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_shared::uc::secrets::{self, SecretError};
use ucc_tests::backends;
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::NORDLYS;

const ROTATED: &str = "r0tated-Nordlys-~value";

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn connection(store: &dyn Store) -> Connection {
    status::get(store, &Gln::parse(NORDLYS).unwrap())
        .await
        .unwrap()
        .status
}

// ---------------------------------------------------------------------------------------
// moto

/// moto's endpoint, with the SDK pointed at it (once, before any `aws-sm:` is resolved).
fn moto() -> Option<String> {
    let endpoint = backends::moto_endpoint()?;
    static SET: Once = Once::new();
    SET.call_once(|| std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint));
    Some(endpoint)
}

/// One Secrets Manager call on moto (AWS JSON 1.1; moto does not check signatures).
async fn sm(endpoint: &str, action: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", format!("secretsmanager.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=ucc-local/20260101/eu-north-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn create_secret(endpoint: &str, name: &str, value: &str) -> String {
    let v = sm(
        endpoint,
        "CreateSecret",
        json!({"Name": name, "SecretString": value}),
    )
    .await;
    v["ARN"].as_str().unwrap().to_owned()
}

async fn put_secret_value(endpoint: &str, name: &str, value: &str) {
    sm(
        endpoint,
        "PutSecretValue",
        json!({"SecretId": name, "SecretString": value}),
    )
    .await;
}

#[tokio::test]
async fn aws_sm_names_arns_and_json_keys_resolve_from_moto() {
    let Some(endpoint) = moto() else { return };
    let name = unique("ucc-test/plain");
    let arn = create_secret(&endpoint, &name, SECRET).await;
    let json_name = unique("ucc-test/json");
    create_secret(
        &endpoint,
        &json_name,
        &json!({"clientSecret": SECRET, "other": "x"}).to_string(),
    )
    .await;

    for reference in [
        format!("aws-sm:{name}"),
        format!("aws-sm:{arn}"),
        format!("aws-sm:{json_name}#clientSecret"),
    ] {
        let got = secrets::resolve(&reference).await;
        assert_eq!(
            got.map(|s| s.expose().to_owned()),
            Ok(SECRET.to_owned()),
            "{reference}"
        );
    }

    // Cached for 5 minutes: a new value is not fetched until the entry is invalidated.
    let reference = format!("aws-sm:{name}");
    put_secret_value(&endpoint, &name, ROTATED).await;
    let got = secrets::resolve(&reference).await.unwrap();
    assert_eq!(got.expose(), SECRET, "served from the cache");
    secrets::invalidate(&reference);
    let got = secrets::resolve(&reference).await.unwrap();
    assert_eq!(got.expose(), ROTATED, "fetched again after invalidate");

    // Refusals name the reference, never a value, and are not transient.
    for (reference, expect) in [
        (
            format!("aws-sm:{}", unique("ucc-test/missing")),
            "ResourceNotFoundException",
        ),
        (format!("aws-sm:{json_name}#nope"), "no key"),
        (format!("aws-sm:{name}#clientSecret"), "not a JSON object"),
    ] {
        let e = secrets::resolve(&reference).await.unwrap_err();
        assert!(
            matches!(e, SecretError::Refused { .. }),
            "{reference}: {e:?}"
        );
        assert!(!e.is_transient());
        let msg = e.to_string();
        assert!(msg.contains(&reference) && msg.contains(expect), "{msg}");
        assert!(!msg.contains(SECRET) && !msg.contains(ROTATED), "{msg}");
    }
}

/// The acceptance test: a tenant whose `clientSecretRef` is `aws-sm:…` gets tokens with the
/// value from moto, and a rotated value is used without a restart.
#[tokio::test]
async fn a_rotated_aws_sm_secret_is_used_without_a_restart() {
    let Some(endpoint) = moto() else { return };
    let name = unique("ucc-test/nordlys");
    create_secret(&endpoint, &name, SECRET).await;
    let (_dir, store) = backends::embedded();
    let env = Env::with_secret_ref(store.clone(), &format!("aws-sm:{name}")).await;
    rotation_without_restart(&env, store.as_ref(), || async {
        put_secret_value(&endpoint, &name, ROTATED).await;
    })
    .await;
}

/// Delivers once with [`SECRET`], rotates the secret in its store (`rotate`) and in Entra
/// while the old value is still cached, lets the issued token lapse, and delivers again.
async fn rotation_without_restart<F, Fut>(env: &Env, store: &dyn Store, rotate: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let h = env
        .send(&session("7001", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Delivered), "{h:?}");
    assert_eq!(
        env.standin.token_requests(),
        1,
        "the value from the store was accepted"
    );

    rotate().await;
    env.standin.set_client_secret(ROTATED);
    env.standin.expire_tokens();

    let h = env
        .send(&session("7002", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(
        matches!(h.outcome, SessionOutcome::Delivered),
        "the rotated secret was picked up at once: {h:?}"
    );
    assert_eq!(rec(store, "7002").await.state, DeliveryState::Delivered);
    assert_eq!(connection(store).await, Connection::Ok, "never authBlocked");
    // The first token request (cached old value) was refused, the second (re-resolved)
    // accepted; exactly one retry.
    let tokens: Vec<u16> = env
        .standin
        .requests()
        .iter()
        .filter(|r| r.path.contains("token"))
        .map(|r| r.status)
        .collect();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    assert!(
        tokens[0] == 200 && tokens[1] >= 400 && tokens[2] == 200,
        "{tokens:?}"
    );
    assert_eq!(env.standin.secret_sent_elsewhere(), 0);

    // A secret that is wrong in the store too: one re-resolve, same value, no second
    // request, and the tenant is blocked as before.
    env.standin.set_client_secret("yet-another-value");
    env.standin.expire_tokens();
    let before = env.standin.token_requests();
    let h = env
        .send(&session("7003", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Pending { .. }), "{h:?}");
    assert_eq!(env.standin.token_requests(), before + 1);
    assert_eq!(connection(store).await, Connection::AuthBlocked);
}

// ---------------------------------------------------------------------------------------
// Key Vault stand-in

const IDENTITY_HEADER: &str = "ucc-test-identity-header";
const MI_TOKEN: &str = "ucc-test-kv-bearer";

#[derive(Clone, Default)]
struct Vault {
    secrets: Arc<Mutex<HashMap<String, String>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

async fn identity(
    State(v): State<Vault>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    let ok = headers
        .get("x-identity-header")
        .and_then(|h| h.to_str().ok())
        == Some(IDENTITY_HEADER)
        && q.get("resource").map(String::as_str) == Some("https://vault.azure.net")
        && q.get("api-version").map(String::as_str) == Some("2019-08-01");
    if !ok {
        v.refused.lock().unwrap().push(format!("identity {q:?}"));
        return Err(StatusCode::BAD_REQUEST);
    }
    let expires_on = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    Ok(Json(json!({
        "access_token": MI_TOKEN, "expires_on": expires_on.to_string(),
        "resource": "https://vault.azure.net", "token_type": "Bearer"
    })))
}

async fn vault_secret(
    State(v): State<Vault>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let bearer = headers.get("authorization").and_then(|h| h.to_str().ok());
    if bearer != Some(&format!("Bearer {MI_TOKEN}"))
        || q.get("api-version").map(String::as_str) != Some("7.4")
    {
        v.refused.lock().unwrap().push(format!("secret {name}"));
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "Unauthorized", "message": "no"}})),
        );
    }
    match v.secrets.lock().unwrap().get(&name) {
        Some(value) => (StatusCode::OK, Json(json!({"value": value, "id": name}))),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "SecretNotFound", "message": "missing"}})),
        ),
    }
}

/// The shared stand-in (one per test binary: the identity endpoint is process-wide).
async fn vault() -> (Vault, String) {
    static VAULT: tokio::sync::OnceCell<(Vault, String)> = tokio::sync::OnceCell::const_new();
    VAULT
        .get_or_init(|| async {
            let v = Vault::default();
            let app = Router::new()
                .route("/msi/token", get(identity))
                .route("/secrets/{name}", get(vault_secret))
                .with_state(v.clone());
            // Its own runtime thread: each #[tokio::test] has a runtime of its own, which ends
            // with its test, and the stand-in serves them all.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                        axum::serve(listener, app).await.unwrap();
                    });
            });
            std::env::set_var("IDENTITY_ENDPOINT", format!("http://{addr}/msi/token"));
            std::env::set_var("IDENTITY_HEADER", IDENTITY_HEADER);
            (v, format!("http://{addr}"))
        })
        .await
        .clone()
}

#[tokio::test]
async fn keyvault_references_resolve_with_the_managed_identity() {
    let (v, base) = vault().await;
    let name = unique("kv-plain");
    v.secrets
        .lock()
        .unwrap()
        .insert(name.clone(), SECRET.into());
    let reference = format!("keyvault:{base}/secrets/{name}");
    let got = secrets::resolve(&reference).await.unwrap();
    assert_eq!(got.expose(), SECRET);

    // Cached; fetched again after invalidate.
    v.secrets
        .lock()
        .unwrap()
        .insert(name.clone(), ROTATED.into());
    assert_eq!(secrets::resolve(&reference).await.unwrap().expose(), SECRET);
    secrets::invalidate(&reference);
    assert_eq!(
        secrets::resolve(&reference).await.unwrap().expose(),
        ROTATED
    );
    assert!(
        v.refused.lock().unwrap().is_empty(),
        "{:?}",
        v.refused.lock().unwrap()
    );

    let missing = format!("keyvault:{base}/secrets/{}", unique("kv-missing"));
    let e = secrets::resolve(&missing).await.unwrap_err();
    assert!(matches!(e, SecretError::Refused { .. }), "{e:?}");
    assert!(
        e.to_string().contains("404") && e.to_string().contains(&missing),
        "{e}"
    );

    // Plain http only to loopback.
    let e = secrets::resolve("keyvault:http://kv.vault.azure.net/secrets/x")
        .await
        .unwrap_err();
    assert!(matches!(e, SecretError::Invalid { .. }), "{e:?}");
}

#[tokio::test]
async fn a_rotated_keyvault_secret_is_used_without_a_restart() {
    let (v, base) = vault().await;
    let name = unique("kv-nordlys");
    v.secrets
        .lock()
        .unwrap()
        .insert(name.clone(), SECRET.into());
    let (_dir, store) = backends::embedded();
    let env = Env::with_secret_ref(store.clone(), &format!("keyvault:{base}/secrets/{name}")).await;
    rotation_without_restart(&env, store.as_ref(), || async {
        v.secrets
            .lock()
            .unwrap()
            .insert(name.clone(), ROTATED.into());
    })
    .await;
}
