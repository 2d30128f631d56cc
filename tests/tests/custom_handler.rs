//! The Azure Functions custom-handler contract over real HTTP on loopback: invocation bodies
//! shaped exactly as the Functions host sends them (SPEC §8), and the answers it expects.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};
use ucc_shared::context::Ctx;
use ucc_shared::store::Store;
use ucc_tests::fixtures::*;

async fn serve(store: Arc<dyn Store>) -> SocketAddr {
    put_tenant(store.as_ref(), &tenant_json(NORDLYS, "emb-cust-0042")).await;
    let app = ucc_functions::azure::router(
        ucc_functions::env::deliverer(Arc::new(Ctx::new(store))).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// What the host posts for a Service Bus trigger: the body as a JSON string (or object, or
/// base64) and metadata whose scalar values are JSON-encoded.
fn invocation(data: Value) -> Value {
    json!({
        "Data": { "message": data },
        "Metadata": {
            "MessageId": "\"3f2a9c1e0b7d4e55\"",
            "DeliveryCount": "1",
            "EnqueuedTimeUtc": "\"2026-11-20T08:15:03.5Z\"",
            "UserProperties": { "ServiceType": "\"ChargingAgreement\"", "EventName": "\"ContractActivated\"" },
            "ApplicationProperties": { "ServiceType": "\"ChargingAgreement\"" },
            "sys": { "MethodName": "contract-events", "UtcNow": "2026-11-20T08:15:04Z" }
        }
    })
}

async fn post_to(addr: SocketAddr, function: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/{function}"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(addr: SocketAddr, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/contract-events"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

ucc_tests::store_tests!(
    body_as_string_object_or_base64_is_processed_alike,
    duplicates_and_permanent_failures_complete_the_message,
    store_sweep_removes_expired_entries,
);

async fn body_as_string_object_or_base64_is_processed_alike(store: Arc<dyn Store>) {
    let addr = serve(store).await;
    let e1 = activation("HOSTAP0001", "h1", None);
    let e2 = activation("HOSTAP0002", "h2", None);
    let e3 = activation("HOSTAP0003", "h3", None);
    let b64 = base64::engine::general_purpose::STANDARD.encode(e3.to_string());
    for data in [json!(e1.to_string()), e2.clone(), json!(b64)] {
        let (status, answer) = post(addr, &invocation(data)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["ReturnValue"]["outcome"], "applied", "{answer}");
        assert!(answer["Outputs"].is_object());
        assert!(answer["Logs"].is_array());
    }
}

async fn duplicates_and_permanent_failures_complete_the_message(store: Arc<dyn Store>) {
    let addr = serve(store.clone()).await;
    let e = activation("HOSTAP0009", "h9", None).to_string();
    assert_eq!(post(addr, &invocation(json!(e))).await.0, 200);
    let (status, dup) = post(addr, &invocation(json!(e))).await;
    assert_eq!(
        (status, dup["ReturnValue"]["outcome"].as_str()),
        (200, Some("duplicate"))
    );
    let (status, parked) = post(addr, &invocation(json!("{\"Header\": 12"))).await;
    assert_eq!(
        status, 200,
        "a parked message must be completed, not redelivered"
    );
    assert_eq!(parked["ReturnValue"]["reason"], "invalidJson");
    // The parked entry keeps the broker properties for support.
    let list = ucc_shared::parked::list(store.as_ref(), None)
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].properties["MessageId"], "3f2a9c1e0b7d4e55");
    assert_eq!(list[0].properties["DeliveryCount"], 1);
    assert_eq!(
        list[0].properties["UserProperties"]["ServiceType"],
        "ChargingAgreement"
    );
}

/// The `store-sweep` timer: expired entries (an expired log entry) go for good where the
/// store has no TTL of its own, and are invisible everywhere before that.
async fn store_sweep_removes_expired_entries(store: Arc<dyn Store>) {
    sweep_an_expired_entry(store).await;
}

/// Returns how many entries the first sweep removed.
async fn sweep_an_expired_entry(store: Arc<dyn Store>) -> u64 {
    use ucc_shared::store::{Condition, Item, Key};
    let addr = serve(store.clone()).await;
    let pk = "T#7080010002488#LOG";
    let now = ucc_shared::store::now_unix();
    store
        .put(
            Item::new(Key::new(pk, "old"), "{}".into(), 1).with_ttl(now),
            Condition::Always,
        )
        .await
        .expect("put");
    store
        .put(
            Item::new(Key::new(pk, "new"), "{}".into(), 1).with_ttl(now + 3600),
            Condition::Always,
        )
        .await
        .expect("put");
    let timer = json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}});
    let (status, first) = post_to(addr, "store-sweep", &timer).await;
    assert_eq!(status, 200, "{first}");
    let (_, second) = post_to(addr, "store-sweep", &timer).await;
    let removed = |v: &Value| v["ReturnValue"]["removed"].as_u64();
    // Azure Tables removes it now; DynamoDB and the embedded store have TTLs of their own.
    assert!(matches!(removed(&first), Some(0 | 1)), "{first}");
    assert_eq!(removed(&second), Some(0), "swept twice: {second}");
    assert_eq!(store.get(&Key::new(pk, "old")).await.expect("get"), None);
    assert!(store
        .get(&Key::new(pk, "new"))
        .await
        .expect("get")
        .is_some());
    // The key is free again.
    store
        .put(
            Item::new(Key::new(pk, "old"), "{}".into(), 1),
            Condition::NotExists,
        )
        .await
        .expect("an expired key counts as absent");
    removed(&first).unwrap_or(0)
}

/// On Azure Tables, which has no TTL, the sweep is what removes the expired entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_sweep_on_azure_tables_removes_exactly_the_expired_entry() {
    let Some(store) = ucc_tests::backends::azuretable().await else {
        return;
    };
    assert_eq!(sweep_an_expired_entry(store).await, 1);
}

#[tokio::test]
async fn transient_store_failure_answers_non_2xx_so_the_host_redelivers() {
    let store: Arc<dyn Store> = Arc::new(ucc_shared::store::dynamodb::DynamoStore::local(
        "http://127.0.0.1:9",
        "down",
    ));
    let app = ucc_functions::azure::router(
        ucc_functions::env::deliverer(Arc::new(Ctx::new(store))).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (status, _) = post(
        addr,
        &invocation(json!(activation("HOSTAP0010", "h10", None).to_string())),
    )
    .await;
    assert!(!(200..300).contains(&status), "got {status}");
}

#[tokio::test]
async fn lambda_sqs_batch_reports_only_failed_records() {
    let (_dir, store) = ucc_tests::backends::embedded();
    let ctx = ctx_with_tenant(store).await;
    let record = |id: &str, body: String| {
        json!({"messageId": id, "receiptHandle": "rh", "body": body, "attributes": {}, "messageAttributes": {},
               "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-north-1:123456789012:contract-events", "awsRegion": "eu-north-1"})
    };
    let batch = json!({"Records": [
        record("m-1", activation("SQSAP0001", "s1", None).to_string()),
        record("m-2", "not json".into()),
    ]});
    let answer = ucc_functions::lambda::contract_events(&ctx, batch)
        .await
        .expect("batch handled");
    assert_eq!(
        answer["batchItemFailures"],
        json!([]),
        "parked is done, not a failure"
    );

    let down: Arc<dyn Store> = Arc::new(ucc_shared::store::dynamodb::DynamoStore::local(
        "http://127.0.0.1:9",
        "down",
    ));
    let ctx_down = Ctx::new(down);
    let batch =
        json!({"Records": [record("m-3", activation("SQSAP0002", "s2", None).to_string())]});
    let answer = ucc_functions::lambda::contract_events(&ctx_down, batch)
        .await
        .expect("batch answered");
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-3"}])
    );
}

#[tokio::test]
async fn lambda_bare_body_is_one_message() {
    let (_dir, store) = ucc_tests::backends::embedded();
    let ctx = ctx_with_tenant(store).await;
    let answer =
        ucc_functions::lambda::contract_events(&ctx, activation("BAREAP001", "b1", Some("RF-1")))
            .await
            .expect("handled");
    assert_eq!(answer["outcome"], "applied");
}

/// The other routes of the function app, in the host's invocation format, against the
/// UC/Entra stand-in: a session-completed message is priced and delivered; the timers answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_completed_and_timer_routes() {
    use ucc_tests::delivery_env::{session, Env, COSTED_CUSTOMER, RFID};
    let (_dir, store) = ucc_tests::backends::embedded();
    let env = Env::new(store).await;
    let app = ucc_functions::azure::router(env.d.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let body = session("77770001", COSTED_CUSTOMER, RFID, None).to_string();
    let answer: Value = client
        .post(format!("http://{addr}/session-completed"))
        .json(&invocation(json!(body)))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["ReturnValue"]["outcome"], "delivered", "{answer}");
    assert!(env.standin.transaction("77770001").is_some());
    // Timer invocations carry only schedule metadata.
    let timer = json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "IsPastDue": false}}, "Metadata": {}});
    for route in ["delivery-retry", "reconciliation"] {
        let resp = client
            .post(format!("http://{addr}/{route}"))
            .json(&timer)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{route}");
        let v: Value = resp.json().await.expect("json");
        assert!(v["ReturnValue"].is_object(), "{route}: {v}");
    }
}
