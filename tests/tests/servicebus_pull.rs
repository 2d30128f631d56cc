//! Service Bus intake over the REST API with peek-lock (SPEC §10), against the loopback
//! stand-in, on every store backend: each message is handled by the contract handler and
//! settled by its outcome; nothing is completed twice, lost, or abandoned over and over.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{json, Value};
use ucc_functions::servicebus::{self, PullError, Summary};
use ucc_shared::context::Ctx;
use ucc_shared::contract::driver::DriverRecord;
use ucc_shared::contract::handler::driver_key;
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_standins::servicebus::{Options, ServiceBusStandIn};
use ucc_tests::fixtures::*;
use ucc_tests::property::Backend;
use ucc_tests::servicebus::{config, scenario_events, scenario_tenants, SlowStore};

const DRAIN: Duration = Duration::from_secs(60);

async fn standin(opts: Options) -> Arc<ServiceBusStandIn> {
    Arc::new(ServiceBusStandIn::start(opts).await.expect("stand-in"))
}

/// Pulls until the stand-in holds no message (or the deadline passes).
async fn pull_until_drained(
    ctx: Arc<Ctx>,
    sb: &Arc<ServiceBusStandIn>,
    key: &str,
    loops: usize,
) -> Result<Summary, PullError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(sb, dir.path(), key, loops);
    let watched = sb.clone();
    let stop = async move {
        watched.wait_for(DRAIN, |s| s.remaining().is_empty()).await;
    };
    servicebus::run(ctx, cfg, Some(Instant::now() + DRAIN), stop).await
}

/// (tenant, accounting point) → driver state, for the events' accounting points.
async fn drivers(store: &dyn Store, events: &[Vec<u8>]) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for raw in events {
        let Ok(v) = serde_json::from_slice::<Value>(raw) else {
            continue;
        };
        let (Some(t), Some(ap)) = (
            v["Header"]["TenantID"].as_str(),
            v["Payload"]["Contract"]["AccountingPoint"]["Identification"].as_str(),
        ) else {
            continue;
        };
        let Ok(gln) = Gln::parse(t) else { continue };
        if let Some(item) = store.get(&driver_key(&gln, ap)).await.expect("get driver") {
            let rec: DriverRecord = serde_json::from_str(&item.doc).expect("driver doc");
            let mut state = serde_json::to_value(&rec.state).expect("state");
            // Virtual tokens are random per store; compare where there is one.
            mask_virtual_tokens(&mut state);
            out.insert((t.to_owned(), ap.to_owned()), state);
        }
    }
    out
}

fn mask_virtual_tokens(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("v:") => *s = "v:*".into(),
        Value::Array(a) => a.iter_mut().for_each(mask_virtual_tokens),
        Value::Object(o) => o.values_mut().for_each(mask_virtual_tokens),
        _ => {}
    }
}

fn assert_each_completed_once(sb: &ServiceBusStandIn, ids: &[String]) {
    let mut done = sb.completed();
    done.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(done, want, "every message completed exactly once");
    assert!(sb.remaining().is_empty(), "left: {:?}", sb.remaining());
    assert!(
        sb.dead_letters().is_empty(),
        "dead: {:?}",
        sb.dead_letters()
    );
}

ucc_tests::store_tests!(
    scenario_events_provision_drivers_and_complete_each_message_once,
    bad_messages_are_parked_or_ignored_and_completed_at_first_delivery,
    duplicated_and_shuffled_delivery_ends_in_the_in_order_state,
    a_lock_lost_mid_handler_is_absorbed_by_idempotency,
    a_slow_handler_keeps_its_lock_by_renewing,
    a_wrong_sas_key_completes_nothing_and_loses_nothing,
    broker_500_and_503_are_retried_without_losing_messages,
    transient_failures_abandon_until_the_broker_dead_letters,
);

async fn scenario_events_provision_drivers_and_complete_each_message_once(store: Arc<dyn Store>) {
    scenario_tenants(store.as_ref()).await;
    let sb = standin(Options::default()).await;
    let events = scenario_events();
    assert!(events.len() >= 10, "the scenario has its contract events");
    let ids: Vec<String> = events
        .iter()
        .map(|(name, body)| sb.enqueue(body.clone(), &[("Label", name.as_str())]))
        .collect();
    let summary = pull_until_drained(
        Arc::new(Ctx::new(store.clone())),
        &sb,
        &sb.options().key.clone(),
        4,
    )
    .await
    .expect("pull");
    assert_each_completed_once(&sb, &ids);
    assert_eq!(summary.received, ids.len() as u64);
    assert_eq!(summary.completed_total(), ids.len() as u64);
    assert_eq!((summary.abandoned, summary.lost_locks), (0, 0));
    assert!(
        summary.completed.get("applied").copied().unwrap_or(0) >= 5,
        "{summary:?}"
    );
    let bodies: Vec<Vec<u8>> = events.into_iter().map(|(_, b)| b).collect();
    let got = drivers(store.as_ref(), &bodies).await;
    // The same events handled in file order, directly, on a fresh store.
    let (_dir, reference) = ucc_tests::backends::embedded();
    scenario_tenants(reference.as_ref()).await;
    let ctx = Ctx::new(reference.clone());
    for b in &bodies {
        ucc_shared::contract::handle(
            &ctx,
            &ucc_shared::contract::InboundMessage::from_body(b.clone()),
        )
        .await
        .expect("reference handle");
    }
    let want = drivers(reference.as_ref(), &bodies).await;
    assert!(want.len() >= 4, "the scenario provisions drivers: {want:?}");
    assert_eq!(got, want);
}

async fn bad_messages_are_parked_or_ignored_and_completed_at_first_delivery(store: Arc<dyn Store>) {
    scenario_tenants(store.as_ref()).await;
    let sb = standin(Options::default()).await;
    let bad: Vec<Vec<u8>> = scenario_events()
        .into_iter()
        .filter(|(name, _)| {
            name.contains("filtered")
                || name.contains("malformed")
                || name.contains("unknown-tenant")
        })
        .map(|(_, b)| b)
        .chain([
            b"{not json".to_vec(),
            b"".to_vec(),
            json!({"Header": {}}).to_string().into_bytes(),
        ])
        .collect();
    assert_eq!(bad.len(), 6);
    let ids: Vec<String> = bad.iter().map(|b| sb.enqueue(b.clone(), &[])).collect();
    let summary = pull_until_drained(Arc::new(Ctx::new(store)), &sb, &sb.options().key.clone(), 2)
        .await
        .expect("pull");
    assert_each_completed_once(&sb, &ids);
    // Each was received once: never abandoned, never redelivered.
    assert_eq!(summary.received, ids.len() as u64, "{summary:?}");
    assert_eq!(summary.abandoned, 0);
    let final_outcomes: u64 = ["parked", "ignored"]
        .iter()
        .map(|k| summary.completed.get(*k).copied().unwrap_or(0))
        .sum();
    assert_eq!(final_outcomes, ids.len() as u64, "{summary:?}");
}

/// Deterministic shuffle (xorshift).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

async fn duplicated_and_shuffled_delivery_ends_in_the_in_order_state(store: Arc<dyn Store>) {
    scenario_tenants(store.as_ref()).await;
    let bodies: Vec<Vec<u8>> = scenario_events().into_iter().map(|(_, b)| b).collect();
    let mut deliveries: Vec<Vec<u8>> = bodies
        .iter()
        .flat_map(|b| [b.clone(), b.clone(), b.clone()])
        .collect();
    shuffle(&mut deliveries, 0x5eed_1234);
    let sb = standin(Options::default()).await;
    let ids: Vec<String> = deliveries
        .iter()
        .map(|b| sb.enqueue(b.clone(), &[]))
        .collect();
    let summary = pull_until_drained(
        Arc::new(Ctx::new(store.clone())),
        &sb,
        &sb.options().key.clone(),
        4,
    )
    .await
    .expect("pull");
    assert_each_completed_once(&sb, &ids);
    assert!(
        summary.completed.get("duplicate").copied().unwrap_or(0) > 0,
        "{summary:?}"
    );
    let (_dir, reference) = ucc_tests::backends::embedded();
    scenario_tenants(reference.as_ref()).await;
    let ctx = Ctx::new(reference.clone());
    for b in &bodies {
        ucc_shared::contract::handle(
            &ctx,
            &ucc_shared::contract::InboundMessage::from_body(b.clone()),
        )
        .await
        .expect("reference handle");
    }
    assert_eq!(
        drivers(store.as_ref(), &bodies).await,
        drivers(reference.as_ref(), &bodies).await
    );
}

async fn a_lock_lost_mid_handler_is_absorbed_by_idempotency(store: Arc<dyn Store>) {
    ctx_with_tenant(store.clone()).await;
    let sb = standin(Options {
        lock_duration: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    sb.refuse_renewals(true);
    let body = activation("SBLOCKAP0001", "sb-lock-1", Some("04AABBCCDDEEFF")).to_string();
    let id = sb.enqueue(body.clone(), &[]);
    let slow: Arc<dyn Store> = Arc::new(SlowStore {
        inner: store.clone(),
        delay: Duration::from_millis(2500),
    });
    // One loop: the applied write outlives the lock, its settle finds the lock gone, the
    // redelivery (delivery count 2) is a duplicate and is completed.
    let summary = pull_until_drained(Arc::new(Ctx::new(slow)), &sb, &sb.options().key.clone(), 1)
        .await
        .expect("pull");
    assert_eq!(
        sb.completed(),
        vec![id],
        "completed exactly once in the end"
    );
    assert_eq!(
        summary.lost_locks, 1,
        "the first settle found its lock gone: {summary:?}"
    );
    assert_eq!(summary.received, 2, "{summary:?}");
    assert_eq!(
        summary.completed,
        BTreeMap::from([("duplicate".to_owned(), 1)]),
        "the redelivery was a duplicate: {summary:?}"
    );
    let d = drivers(store.as_ref(), &[body.into_bytes()]).await;
    assert_eq!(d.len(), 1);
}

async fn a_slow_handler_keeps_its_lock_by_renewing(store: Arc<dyn Store>) {
    ctx_with_tenant(store.clone()).await;
    let sb = standin(Options {
        lock_duration: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let id = sb.enqueue(
        activation("SBRENEWAP001", "sb-renew-1", None).to_string(),
        &[],
    );
    let slow: Arc<dyn Store> = Arc::new(SlowStore {
        inner: store,
        delay: Duration::from_millis(3500),
    });
    let summary = pull_until_drained(Arc::new(Ctx::new(slow)), &sb, &sb.options().key.clone(), 1)
        .await
        .expect("pull");
    assert_eq!(sb.completed(), vec![id]);
    assert!(summary.renewals >= 1 && sb.renewals() >= 1, "{summary:?}");
    assert_eq!(
        (summary.received, summary.lost_locks),
        (1, 0),
        "{summary:?}"
    );
    assert_eq!(summary.completed.get("applied"), Some(&1));
}

/// Enqueues `n` activations of distinct accounting points; their message ids.
fn enqueue_activations(
    sb: &ServiceBusStandIn,
    ap_prefix: &str,
    event_prefix: &str,
    n: usize,
) -> Vec<String> {
    (0..n)
        .map(|i| {
            sb.enqueue(
                activation(
                    &format!("{ap_prefix}{i:05}"),
                    &format!("{event_prefix}-{i}"),
                    None,
                )
                .to_string(),
                &[],
            )
        })
        .collect()
}

async fn a_wrong_sas_key_completes_nothing_and_loses_nothing(store: Arc<dyn Store>) {
    ctx_with_tenant(store.clone()).await;
    let sb = standin(Options::default()).await;
    let ids = enqueue_activations(&sb, "SBKEYAP", "sb-key", 3);
    let err = pull_until_drained(Arc::new(Ctx::new(store)), &sb, "d3Jvbmcga2V5", 4)
        .await
        .expect_err("a wrong key stops the pull");
    assert!(matches!(err, PullError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(sb.unauthorized() >= 1);
    assert!(sb.completed().is_empty());
    assert_eq!(sb.remaining(), ids, "all messages still there");
    assert!(ids.iter().all(|i| sb.delivery_count(i) == Some(0)));
}

async fn broker_500_and_503_are_retried_without_losing_messages(store: Arc<dyn Store>) {
    ctx_with_tenant(store.clone()).await;
    let sb = standin(Options::default()).await;
    let ids = enqueue_activations(&sb, "SB5XXAP", "sb-5xx", 6);
    sb.fail_next(4, 503);
    sb.fail_next(3, 500);
    let summary = pull_until_drained(Arc::new(Ctx::new(store)), &sb, &sb.options().key.clone(), 2)
        .await
        .expect("pull");
    assert_each_completed_once(&sb, &ids);
    assert!(summary.retried_calls >= 7, "{summary:?}");
    assert_eq!(summary.completed.get("applied"), Some(&6), "{summary:?}");
}

async fn transient_failures_abandon_until_the_broker_dead_letters(store: Arc<dyn Store>) {
    ctx_with_tenant(store.clone()).await;
    let sb = standin(Options {
        max_delivery_count: 3,
        ..Options::default()
    })
    .await;
    let id = sb.enqueue(
        activation("SBDLQAP00001", "sb-dlq-1", None).to_string(),
        &[],
    );
    // Every write fails as if the store were down: a transient failure each time.
    let down: Arc<dyn Store> = Arc::new(ucc_tests::crashing::CrashingStore::new(store.clone(), 0));
    let summary = pull_until_drained(Arc::new(Ctx::new(down)), &sb, &sb.options().key.clone(), 1)
        .await
        .expect("pull");
    assert_eq!((summary.received, summary.abandoned), (3, 3), "{summary:?}");
    assert_eq!(summary.completed_total(), 0);
    assert!(sb.completed().is_empty());
    let dead = sb.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].message_id.as_str(), dead[0].delivery_count),
        (id.as_str(), 3)
    );
    assert!(drivers(
        store.as_ref(),
        &[activation("SBDLQAP00001", "sb-dlq-1", None)
            .to_string()
            .into_bytes()]
    )
    .await
    .is_empty());
}

/// Entra client credentials: the token is fetched once (scope
/// `https://servicebus.azure.net/.default`) and sent as `Bearer` on every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_client_credentials_are_fetched_once_and_sent_as_bearer() {
    use axum::routing::post;
    let requests = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = requests.clone();
    let app = axum::Router::new().route(
        "/{tenant}/oauth2/v2.0/token",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "sb-entra-token"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sb = standin(Options {
        bearer: Some("sb-entra-token".into()),
        ..Options::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "entra-client-secret").unwrap();
    let vars = std::collections::HashMap::from([
        ("UCC_SERVICEBUS_ENDPOINT", sb.endpoint()),
        ("UCC_SERVICEBUS_ENTITY", sb.options().entity.clone()),
        ("UCC_SERVICEBUS_TENANT_ID", "contoso-tenant".to_owned()),
        ("UCC_SERVICEBUS_CLIENT_ID", "ucc-client".to_owned()),
        (
            "UCC_SERVICEBUS_CLIENT_SECRET_REF",
            format!("file:{}", secret.display()),
        ),
        ("UCC_SERVICEBUS_AUTHORITY_HOST", authority),
        ("UCC_SERVICEBUS_RECEIVE_TIMEOUT", "1".to_owned()),
    ]);
    let cfg = servicebus::Config::from_lookup(|n| vars.get(n).cloned()).unwrap();
    let (_d, store) = ucc_tests::backends::embedded();
    let ctx = Arc::new(ctx_with_tenant(store).await);
    let ids = enqueue_activations(&sb, "SBENTRA", "sb-entra", 3);
    let watched = sb.clone();
    let summary = servicebus::run(ctx, cfg, Some(Instant::now() + DRAIN), async move {
        watched.wait_for(DRAIN, |s| s.remaining().is_empty()).await;
    })
    .await
    .unwrap();
    assert_each_completed_once(&sb, &ids);
    assert_eq!(summary.completed.get("applied"), Some(&3));
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "one token for the whole run");
    assert!(requests[0].contains("grant_type=client_credentials"));
    assert!(
        requests[0].contains("scope=https%3A%2F%2Fservicebus.azure.net%2F.default"),
        "{}",
        requests[0]
    );
    assert_eq!(sb.unauthorized(), 0);
}

// ---- the ordering property over the pull path -------------------------------------------

#[derive(Debug, Clone)]
struct Ev {
    name: &'static str,
    minute: i64,
    rfid: Option<&'static str>,
}

fn scenario() -> impl Strategy<Value = (Vec<Vec<(Ev, u8)>>, u64)> {
    let ev = (
        prop::sample::select(vec![
            "ContractActivated",
            "ContractUpdated",
            "ContractTerminated",
        ]),
        0i64..10,
        prop::option::of(prop::sample::select(vec!["RFID-A", "RFID-B"])),
    )
        .prop_map(|(name, minute, rfid)| Ev { name, minute, rfid });
    (
        prop::collection::vec(prop::collection::vec((ev, 1u8..=3), 1..5), 1..4),
        any::<u64>(),
    )
}

fn body(ap: usize, i: usize, e: &Ev) -> Vec<u8> {
    let mut details = json!({});
    if let Some(r) = e.rfid {
        details["Rfid"] = json!(r);
    }
    event(
        NORDLYS,
        e.name,
        &format!("{:02}-{i}-{ap}", (i * 7919) % 97),
        &format!("2026-11-20T08:{:02}:00Z", e.minute),
        &format!("SBPROPAP{ap:04}"),
        details,
    )
    .to_string()
    .into_bytes()
}

async fn pull_equals_in_order(
    store: Arc<dyn Store>,
    histories: Vec<Vec<(Ev, u8)>>,
    seed: u64,
) -> Result<(), String> {
    ctx_with_tenant(store.clone()).await;
    let sb = standin(Options::default()).await;
    let mut distinct = Vec::new();
    let mut deliveries = Vec::new();
    for (a, h) in histories.iter().enumerate() {
        for (i, (e, copies)) in h.iter().enumerate() {
            let b = body(a, i, e);
            distinct.push(b.clone());
            deliveries.extend(std::iter::repeat_n(b, usize::from(*copies)));
        }
    }
    shuffle(&mut deliveries, seed);
    let ids: Vec<String> = deliveries
        .iter()
        .map(|b| sb.enqueue(b.clone(), &[]))
        .collect();
    pull_until_drained(
        Arc::new(Ctx::new(store.clone())),
        &sb,
        &sb.options().key.clone(),
        4,
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut done = sb.completed();
    done.sort();
    let mut want_ids = ids;
    want_ids.sort();
    if done != want_ids {
        return Err(format!("completed {done:?}, enqueued {want_ids:?}"));
    }
    let (_dir, reference) = ucc_tests::backends::embedded();
    ctx_with_tenant(reference.clone()).await;
    let ctx = Ctx::new(reference.clone());
    let mut in_order: Vec<(String, String, Vec<u8>)> = distinct
        .iter()
        .map(|b| {
            let v: Value = serde_json::from_slice(b).unwrap_or_default();
            (
                v["Header"]["EventTime"].as_str().unwrap_or("").to_owned(),
                v["Header"]["EventID"].as_str().unwrap_or("").to_owned(),
                b.clone(),
            )
        })
        .collect();
    in_order.sort();
    for (_, _, b) in &in_order {
        ucc_shared::contract::handle(
            &ctx,
            &ucc_shared::contract::InboundMessage::from_body(b.clone()),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let got = drivers(store.as_ref(), &distinct).await;
    let want = drivers(reference.as_ref(), &distinct).await;
    if got != want {
        return Err(format!("pulled {got:#?}\n!= in order {want:#?}"));
    }
    Ok(())
}

#[test]
fn pulled_shuffled_duplicated_events_equal_in_order_application_embedded() {
    ucc_tests::property::run(8, Backend::Embedded, scenario(), |store, (h, seed)| {
        pull_equals_in_order(store, h, seed)
    });
}

#[test]
fn pulled_shuffled_duplicated_events_equal_in_order_application_dynamodb() {
    ucc_tests::property::run(3, Backend::DynamoDb, scenario(), |store, (h, seed)| {
        pull_equals_in_order(store, h, seed)
    });
}

#[test]
fn pulled_shuffled_duplicated_events_equal_in_order_application_azuretable() {
    ucc_tests::property::run(3, Backend::AzureTable, scenario(), |store, (h, seed)| {
        pull_equals_in_order(store, h, seed)
    });
}
