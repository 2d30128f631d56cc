//! Session delivery end to end: real HTTP to the UC + Entra stand-in (which validates every
//! body against the payload schemas), on the embedded store and on DynamoDB Local. One test
//! per row of the SPEC §6 delivery table, plus exactly-once under concurrency, the
//! ambiguous timeout, an auth-blocked backlog, credits and a scan for leaked secrets.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use ucc_shared::delivery::credit;
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::delivery::record::DeliveryState;
use ucc_shared::delivery::status::{self, Connection};
use ucc_shared::gln::Gln;
use ucc_shared::store::{
    Condition, IndexQuery, Item, Key, Page, Query, Store, StoreError, WriteOp,
};
use ucc_standins::uc::{Fault, Route};
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{event, NORDLYS, SVEA};

fn nordlys() -> Gln {
    Gln::parse(NORDLYS).unwrap()
}

/// Nordlys's connection status as the Details view shows it.
async fn connection(store: &dyn Store) -> Connection {
    status::get(store, &nordlys()).await.unwrap().status
}

fn assert_clean(env: &Env) {
    assert_eq!(
        env.standin.schema_violations(),
        Vec::<String>::new(),
        "every body matched the UC schemas"
    );
    assert_eq!(
        env.standin.duplicate_posts(),
        0,
        "UC never saw a second POST of an accepted id"
    );
}

ucc_tests::store_tests!(
    row_2xx_is_delivered_with_the_spec_amounts,
    row_entra_rejects_the_secret_blocks_the_tenant,
    row_uc_401_twice_blocks_the_tenant,
    concurrent_first_sessions_share_one_token_request,
    row_5xx_is_pending_then_retried_after_a_get,
    row_429_honours_retry_after,
    row_timeout_after_accepting_is_settled_by_get_without_reposting,
    row_connection_error_is_pending_and_needs_no_get,
    row_other_4xx_is_rejected_until_an_operator_redrives_it,
    same_session_five_times_on_four_workers_posts_once,
    bad_secret_for_three_sweeps_then_fixed_drains_in_order,
    type_a_meter_series_sums_exactly,
    revenue_shared_site_without_id_is_delivered_untagged_and_reconciled,
    credits_and_corrections_follow_the_rules,
    a_correction_interrupted_after_its_credit_still_rebills,
    unknown_token_unknown_customer_invalid_session,
    terminated_driver_is_still_settled,
    no_secret_or_bearer_token_is_ever_stored,
    a_crash_at_any_write_never_leaves_a_settled_record_without_its_call_log,
);

async fn row_2xx_is_delivered_with_the_spec_amounts(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let h = env
        .send(&session("88812345", COSTED_CUSTOMER, RFID, Some(1042)))
        .await;
    assert_eq!(h.outcome, SessionOutcome::Delivered);
    let got = env.standin.transaction("88812345").expect("UC has it");
    // Raw text, not json!: the exact decimals (22.750, 45.50) are part of the contract.
    let expected: Value = serde_json::from_str(&format!(
        r#"{{"transactionId":"88812345","transactionOwnerId":"{AP}","siteId":1042,
        "authorizedTag":"{RFID}","authorizedTagName":"Kari sin brikke",
        "timestampStart":"2026-11-20T16:42:10Z","timestampEnd":"2026-11-20T21:03:55Z",
        "fullConsumptionKWh":22.750,"currency":"NOK","vatPercent":25,
        "totalCostInclVat":56.88,"totalCostExclVat":45.50,"totalVat":11.38,
        "creditReferenceTransactionId":null,"revenueShareId":5501}}"#
    ))
    .unwrap();
    assert_eq!(got, expected);
    assert_eq!(
        rec(store.as_ref(), "88812345").await.state,
        DeliveryState::Delivered
    );
    assert_clean(&env);
}

async fn row_entra_rejects_the_secret_blocks_the_tenant(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.set_secret("an-expired-secret");
    let h = env
        .send(&session("9001", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Pending { .. }), "{h:?}");
    let r = rec(store.as_ref(), "9001").await;
    assert!(
        r.waiting_for_auth && r.state == DeliveryState::Pending,
        "nothing is dropped"
    );
    assert_eq!(connection(store.as_ref()).await, Connection::AuthBlocked);
    assert!(env.standin.accepted_transactions().is_empty());
}

async fn row_uc_401_twice_blocks_the_tenant(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin.set_unauthorized(true);
    let h = env
        .send(&session("9002", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Pending { .. }), "{h:?}");
    assert_eq!(
        env.standin.post_attempts("9002"),
        2,
        "one retry with a fresh token, then blocked"
    );
    assert_eq!(env.standin.token_requests(), 2);
    assert_eq!(connection(store.as_ref()).await, Connection::AuthBlocked);
    env.standin.set_unauthorized(false);
    let report = env.sweep_after(Duration::from_secs(60)).await;
    assert_eq!(report.tenants_unblocked, vec![NORDLYS.to_owned()]);
    assert_eq!(
        rec(store.as_ref(), "9002").await.state,
        DeliveryState::Delivered
    );
    assert_eq!(connection(store.as_ref()).await, Connection::Ok);
    assert_clean(&env);
}

async fn concurrent_first_sessions_share_one_token_request(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let d = env.d.clone();
        let msg = ucc_shared::contract::InboundMessage::from_body(
            session(&format!("93{i:02}"), COSTED_CUSTOMER, RFID, None).to_string(),
        );
        tasks.push(tokio::spawn(async move {
            ucc_shared::delivery::intake::handle(&d, &msg).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().outcome, SessionOutcome::Delivered);
    }
    assert_eq!(
        env.standin.token_requests(),
        1,
        "one refresh shared by concurrent callers"
    );
    assert_eq!(env.standin.accepted_transactions().len(), 8);
}

async fn row_5xx_is_pending_then_retried_after_a_get(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(503));
    let h = env
        .send(&session("9003", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Pending { .. }));
    let r = rec(store.as_ref(), "9003").await;
    assert!(r.in_flight, "a 5xx is ambiguous: UC may have stored it");
    let next = r.next_attempt_at.expect("scheduled");
    assert!(next > env.d.ctx.now(), "backoff, not an immediate retry");
    let early = env.sweep_after(Duration::from_secs(1)).await;
    assert_eq!(early.delivered, 0, "not due yet");
    env.sweep_after(Duration::from_secs(3600)).await;
    assert_eq!(
        rec(store.as_ref(), "9003").await.state,
        DeliveryState::Delivered
    );
    let gets: Vec<_> = env
        .standin
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(gets.len(), 1, "GET before the re-POST");
    assert_eq!(gets[0].status, 404);
    assert_clean(&env);
}

async fn row_429_honours_retry_after(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin.push_fault(
        Route::PostTransaction,
        Fault::TooManyRequests {
            retry_after_secs: 900,
        },
    );
    env.send(&session("9004", COSTED_CUSTOMER, RFID, None))
        .await;
    let r = rec(store.as_ref(), "9004").await;
    assert!(!r.in_flight, "429 means UC did not take it");
    let wait = r.next_attempt_at.unwrap() - env.d.ctx.now();
    assert!(
        wait >= chrono::Duration::seconds(900),
        "Retry-After honoured: {wait}"
    );
    assert_eq!(env.sweep_after(Duration::from_secs(600)).await.delivered, 0);
    assert_eq!(env.sweep_after(Duration::from_secs(400)).await.delivered, 1);
    assert!(
        env.standin.requests().iter().all(|r| r.method != "GET"),
        "no GET needed after a 429"
    );
    assert_clean(&env);
}

async fn row_timeout_after_accepting_is_settled_by_get_without_reposting(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin.push_fault(
        Route::PostTransaction,
        Fault::AcceptThenStall(Duration::from_secs(6)),
    );
    let h = env
        .send(&session("9005", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Pending { .. }), "{h:?}");
    assert!(rec(store.as_ref(), "9005").await.in_flight);
    env.sweep_after(Duration::from_secs(3600)).await;
    assert_eq!(
        rec(store.as_ref(), "9005").await.state,
        DeliveryState::Delivered
    );
    assert_eq!(
        env.standin.post_attempts("9005"),
        1,
        "found by GET, never POSTed again"
    );
    assert_eq!(env.standin.accepted_transactions().len(), 1);
    assert_clean(&env);
}

async fn row_connection_error_is_pending_and_needs_no_get(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let secret_ref = format!("file:{}", env.secret_file.display());
    let mut cfg = costed_tenant(&env.standin, &secret_ref);
    cfg["uc"]["baseUrl"] = json!("http://127.0.0.1:9");
    ucc_tests::fixtures::put_tenant(store.as_ref(), &cfg).await;
    env.d.ctx.forget_tenant(&nordlys());
    env.send(&session("9006", COSTED_CUSTOMER, RFID, None))
        .await;
    let r = rec(store.as_ref(), "9006").await;
    assert_eq!((r.state, r.in_flight), (DeliveryState::Pending, false));
    ucc_tests::fixtures::put_tenant(store.as_ref(), &costed_tenant(&env.standin, &secret_ref))
        .await;
    env.d.ctx.forget_tenant(&nordlys());
    env.sweep_after(Duration::from_secs(3600)).await;
    assert_eq!(
        rec(store.as_ref(), "9006").await.state,
        DeliveryState::Delivered
    );
    assert!(env.standin.requests().iter().all(|r| r.method != "GET"));
    assert_clean(&env);
}

async fn row_other_4xx_is_rejected_until_an_operator_redrives_it(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(422));
    let h = env
        .send(&session("9007", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(
        matches!(h.outcome, SessionOutcome::Rejected { .. }),
        "{h:?}"
    );
    let r = rec(store.as_ref(), "9007").await;
    assert_eq!(
        (r.state, r.last_status),
        (DeliveryState::Rejected, Some(422))
    );
    assert_eq!(r.due_at(), None, "not retried automatically");
    assert_eq!(env.sweep_after(Duration::from_secs(86_400)).await.due, 0);
    let (logs, _) = ucc_shared::log::list(store.as_ref(), Some(&nordlys()), 20, None)
        .await
        .unwrap();
    let post = logs
        .iter()
        .find(|l| l.action == "InvoiceLineImport" && l.response_code == 422)
        .expect("logged");
    assert!(
        post.request_payload.contains("\"transactionId\":\"9007\""),
        "full payload logged"
    );
    // The operator fixed the cause: re-drive.
    let (mut r, v) = credit::find(&env.d, Some(&nordlys()), "9007")
        .await
        .unwrap();
    r.state = DeliveryState::Pending;
    r.next_attempt_at = Some(env.d.ctx.now());
    store
        .put(
            r.to_item(v + 1).unwrap(),
            ucc_shared::store::Condition::Version(v),
        )
        .await
        .unwrap();
    ucc_shared::delivery::deliver(&env.d, &r.key())
        .await
        .unwrap();
    assert_eq!(
        rec(store.as_ref(), "9007").await.state,
        DeliveryState::Delivered
    );
}

async fn same_session_five_times_on_four_workers_posts_once(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let workers: Vec<_> = (0..4).map(|_| env.other_instance()).collect();
    let body = session("9008", COSTED_CUSTOMER, RFID, None);
    let mut tasks = Vec::new();
    for i in 0..5 {
        let w = workers[i % 4].clone();
        let msg = ucc_shared::contract::InboundMessage::from_body(body.to_string());
        tasks.push(tokio::spawn(async move {
            ucc_shared::delivery::intake::handle(&w, &msg).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().unwrap().outcome.name());
    }
    outcomes.sort();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "delivered").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "duplicate").count(),
        4,
        "{outcomes:?}"
    );
    assert_eq!(env.standin.post_attempts("9008"), 1);
    assert_eq!(env.standin.accepted_transactions().len(), 1);
    assert_clean(&env);
}

async fn bad_secret_for_three_sweeps_then_fixed_drains_in_order(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.set_secret("wrong");
    for tx in ["9101", "9102", "9103"] {
        env.clock.advance(Duration::from_secs(1));
        env.send(&session(tx, COSTED_CUSTOMER, RFID, None)).await;
    }
    for _ in 0..3 {
        let r = env.sweep_after(Duration::from_secs(60)).await;
        assert_eq!(r.tenants_blocked, vec![NORDLYS.to_owned()]);
        assert_eq!(r.delivered, 0);
        assert_eq!(connection(store.as_ref()).await, Connection::AuthBlocked);
    }
    assert!(env.standin.accepted_transactions().is_empty());
    for tx in ["9101", "9102", "9103"] {
        assert_eq!(
            rec(store.as_ref(), tx).await.state,
            DeliveryState::Pending,
            "nothing dropped"
        );
    }
    env.set_secret(SECRET);
    let r = env.sweep_after(Duration::from_secs(60)).await;
    assert_eq!(r.tenants_unblocked, vec![NORDLYS.to_owned()]);
    assert_eq!(r.delivered, 3);
    let order: Vec<String> = env
        .standin
        .accepted_transactions()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        order,
        vec!["9101", "9102", "9103"],
        "backlog drains in order"
    );
    assert_eq!(connection(store.as_ref()).await, Connection::Ok);
    assert_clean(&env);
}

async fn type_a_meter_series_sums_exactly(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    // Crosses four UTC hours and the Oslo fall-back night (2026-10-25 01:00 UTC).
    let mut s = session("7001", METER_CUSTOMER, SV_RFID, None);
    s["timestampStart"] = json!("2026-10-24T23:41:07Z");
    s["timestampEnd"] = json!("2026-10-25T03:12:59Z");
    s["meterReadStartWh"] = json!(100_000);
    s["meterReadEndWh"] = json!(117_333);
    s["meterValues"] = json!([{ "timestamp": "2026-10-25T00:30:00Z", "energyWh": 104_001 },
                              { "timestamp": "2026-10-25T02:00:00Z", "energyWh": 110_111 }]);
    let h = env.send(&s).await;
    assert_eq!(h.outcome, SessionOutcome::Delivered, "{h:?}");
    let series = env.standin.accepted_meter_series();
    assert_eq!(series.len(), 1);
    let values = series[0]["Values"].as_array().unwrap();
    assert_eq!(values.len(), 5);
    let sum: rust_decimal::Decimal = values
        .iter()
        .map(|v| {
            v["Quantity"]
                .to_string()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum.to_string(), "17.333");
    assert_eq!(series[0]["AccountingPointIdentifier"], SV_AP);
    for forbidden in ["currency", "siteId", "revenueShareId", "totalCostInclVat"] {
        assert!(series[0].get(forbidden).is_none());
    }
    assert_clean(&env);
}

async fn revenue_shared_site_without_id_is_delivered_untagged_and_reconciled(
    store: Arc<dyn Store>,
) {
    let env = Env::new(store.clone()).await;
    let h = env
        .send(&session("9009", COSTED_CUSTOMER, RFID, Some(1043)))
        .await;
    assert_eq!(h.outcome, SessionOutcome::Delivered);
    let t = env.standin.transaction("9009").unwrap();
    assert_eq!(t["siteId"], 1043);
    assert!(t.get("revenueShareId").is_none_or(Value::is_null));
    let entries = ucc_shared::delivery::reconcile::list(store.as_ref(), &nordlys(), None)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].transaction_id.as_str(), entries[0].site_id),
        ("9009", 1043)
    );
}

async fn credits_and_corrections_follow_the_rules(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.send(&session("9010", COSTED_CUSTOMER, RFID, None))
        .await;
    let c = credit::credit(&env.d, None, "9010", Some("wrong tariff".into()))
        .await
        .unwrap();
    assert_eq!(c.credit.outcome, SessionOutcome::Delivered);
    let credited = env
        .standin
        .transaction("9010-C1")
        .expect("credit delivered");
    assert_eq!(credited["creditReferenceTransactionId"], "9010");
    assert_eq!(credited["totalCostInclVat"].to_string(), "-56.88");
    assert_eq!(credited["fullConsumptionKWh"].to_string(), "-22.750");
    assert!(matches!(
        credit::credit(&env.d, None, "9010", None).await,
        Err(credit::CreditError::AlreadyCredited { .. })
    ));
    assert!(matches!(
        credit::credit(&env.d, None, "9010-C1", None).await,
        Err(credit::CreditError::IsCredit(_))
    ));
    // Never delivered: refused.
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(500));
    env.send(&session("9011", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(
        credit::credit(&env.d, None, "9011", None).await,
        Err(credit::CreditError::NotDelivered { .. })
    ));
    // Correction: credit + re-priced line.
    env.send(&session("9012", COSTED_CUSTOMER, RFID, None))
        .await;
    let c = credit::correct(&env.d, None, "9012", None).await.unwrap();
    assert_eq!(c.credit.transaction_id.as_deref(), Some("9012-C1"));
    assert_eq!(
        c.correction
            .as_ref()
            .and_then(|h| h.transaction_id.as_deref()),
        Some("9012-R1")
    );
    assert_eq!(
        env.standin.transaction("9012-R1").unwrap()["totalCostInclVat"].to_string(),
        "56.88"
    );
    // The re-priced line can itself be corrected once: C2 credits R1.
    let c = credit::correct(&env.d, None, "9012-R1", None)
        .await
        .unwrap();
    assert_eq!(c.credit.transaction_id.as_deref(), Some("9012-C2"));
    assert_eq!(
        env.standin.transaction("9012-C2").unwrap()["creditReferenceTransactionId"],
        "9012-R1"
    );
    // Meter-value tenants: corrections belong in UC.
    env.send(&session("7002", METER_CUSTOMER, SV_RFID, None))
        .await;
    assert!(matches!(
        credit::credit(&env.d, None, "7002", None).await,
        Err(credit::CreditError::MeterValues(_))
    ));
    assert_clean(&env);
}

/// The store dies right after the correction's first transaction (the instance crashed or
/// the network went): the credit went out, and the re-priced line must not be lost with
/// it, or the household would get that session for free.
async fn a_correction_interrupted_after_its_credit_still_rebills(store: Arc<dyn Store>) {
    let crashing = Arc::new(CrashingStore::new(store));
    let env = Env::new(crashing.clone()).await;
    env.send(&session("9013", COSTED_CUSTOMER, RFID, None))
        .await;
    crashing.crash_after_transactions(1);
    let interrupted = credit::correct(&env.d, None, "9013", Some("wrong tariff".into())).await;
    assert!(
        matches!(interrupted, Err(credit::CreditError::Store(ref e)) if e.is_transient()),
        "{interrupted:?}"
    );
    crashing.recover();

    // Trying again is refused: the line is credited and the correction already exists.
    assert!(matches!(
        credit::correct(&env.d, None, "9013", None).await,
        Err(credit::CreditError::AlreadyCredited { .. })
    ));
    // The retry timer finishes both, each exactly once.
    let r = env.sweep_after(Duration::from_secs(3600)).await;
    assert_eq!(r.due, 2, "{r:?}");
    assert_eq!(
        env.standin.transaction("9013-C1").expect("credit")["totalCostInclVat"].to_string(),
        "-56.88"
    );
    assert_eq!(
        env.standin.transaction("9013-R1").expect("re-priced line")["totalCostInclVat"].to_string(),
        "56.88"
    );
    for tx in ["9013-C1", "9013-R1"] {
        assert_eq!(
            rec(crashing.as_ref(), tx).await.state,
            DeliveryState::Delivered
        );
    }
    assert_clean(&env);
}

/// A real store that starts failing every transaction (as unavailable) once a given number
/// more have gone through, until `recover`.
struct CrashingStore {
    inner: Arc<dyn Store>,
    /// Transactions still allowed; `usize::MAX` while healthy.
    allowed: std::sync::atomic::AtomicUsize,
}

impl CrashingStore {
    fn new(inner: Arc<dyn Store>) -> Self {
        CrashingStore {
            inner,
            allowed: std::sync::atomic::AtomicUsize::new(usize::MAX),
        }
    }
    fn crash_after_transactions(&self, n: usize) {
        self.allowed.store(n, std::sync::atomic::Ordering::SeqCst);
    }
    fn recover(&self) {
        self.allowed
            .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Store for CrashingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, c: Condition) -> Result<(), StoreError> {
        self.inner.put(item, c).await
    }
    async fn delete(&self, key: &Key, c: Condition) -> Result<(), StoreError> {
        self.inner.delete(key, c).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        // One more transaction used up, unless healthy (MAX) or already crashed (0).
        let spent =
            self.allowed
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                    0 => None,
                    usize::MAX => Some(usize::MAX),
                    n => Some(n - 1),
                });
        if spent.is_err() {
            return Err(StoreError::Unavailable("crashed (test)".into()));
        }
        self.inner.transact(ops).await
    }
    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn query_index(&self, q: &IndexQuery) -> Result<Page, StoreError> {
        self.inner.query_index(q).await
    }
}

async fn unknown_token_unknown_customer_invalid_session(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let h = env
        .send(&session("9020", COSTED_CUSTOMER, "NOT-OUR-TOKEN", None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Ignored { .. }));
    let h = env
        .send(&session("9021", "emb-cust-unknown", RFID, None))
        .await;
    assert!(
        matches!(
            h.outcome,
            SessionOutcome::Parked {
                reason: ucc_shared::contract::ParkReason::UnknownCustomer,
                ..
            }
        ),
        "{h:?}"
    );
    let mut bad = session("9022", COSTED_CUSTOMER, RFID, None);
    bad["meterReadEndWh"] = json!(1);
    let h = env.send(&bad).await;
    assert!(
        matches!(
            h.outcome,
            SessionOutcome::Parked {
                reason: ucc_shared::contract::ParkReason::InvalidSession,
                ..
            }
        ),
        "{h:?}"
    );
    assert!(
        env.standin.accepted_transactions().is_empty(),
        "nothing priced or posted"
    );
}

async fn terminated_driver_is_still_settled(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.contract(event(
        NORDLYS,
        "ContractTerminated",
        "term-1",
        "2026-11-20T22:00:00Z",
        AP,
        Value::Null,
    ))
    .await;
    let h = env
        .send(&session("9030", COSTED_CUSTOMER, RFID, None))
        .await;
    assert_eq!(h.outcome, SessionOutcome::Delivered);
    assert_eq!(
        env.standin.transaction("9030").unwrap()["siteId"],
        1042,
        "driver's site"
    );
}

async fn no_secret_or_bearer_token_is_ever_stored(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.send(&session("9040", COSTED_CUSTOMER, RFID, None))
        .await;
    env.standin.set_unauthorized(true);
    env.send(&session("9041", COSTED_CUSTOMER, RFID, None))
        .await;
    env.standin.set_unauthorized(false);
    env.set_secret("wrong-secret-xyz");
    env.d.tokens.invalidate(&nordlys()).await;
    env.send(&session("9042", COSTED_CUSTOMER, RFID, None))
        .await;
    env.send(&session("7003", METER_CUSTOMER, SV_RFID, None))
        .await;
    let mut docs = String::new();
    for gln in [NORDLYS, SVEA] {
        let g = Gln::parse(gln).unwrap();
        for kind in ["LOG", "TX", "CFG", "STATUS", "DRV", "TOK", "PARK", "RECON"] {
            let mut q = ucc_shared::store::Query::prefix(ucc_shared::keys::tenant(&g, kind), "");
            q.range = ucc_shared::store::SkRange::Between(" ".into(), "\u{10FFFF}".into());
            loop {
                let page = store.query(&q).await.unwrap();
                for i in &page.items {
                    docs.push_str(&i.doc);
                }
                match page.next {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
        }
    }
    assert!(
        docs.contains("InvoiceLineImport") && docs.contains("\"Token\""),
        "the scan saw the logs"
    );
    for needle in [SECRET, "wrong-secret-xyz", "Bearer "] {
        assert!(!docs.contains(needle), "found {needle:?} in the store");
    }
    let issued = env.standin.issued_tokens();
    assert!(!issued.is_empty());
    for token in issued {
        assert!(!docs.contains(&token), "an access token was stored");
    }
    let token_responses = docs.matches("\"access_token\":\"").count();
    assert!(token_responses > 0, "the scan saw logged token responses");
    assert_eq!(
        docs.matches("\"access_token\":\"[REDACTED]\"").count(),
        token_responses,
        "every logged token response has its token redacted"
    );
}

/// Every state change is explained in the logs, wherever the instance dies: each session is
/// handled with the store dying after 0, 1, 2, … writes. Whatever each crash left, a record
/// that has a UC answer recorded (delivered, or an attempt counted) has the log entry of
/// that POST. The call logs are written before the result (plain puts, outside its
/// transaction), so writing them after it would fail here.
async fn a_crash_at_any_write_never_leaves_a_settled_record_without_its_call_log(
    store: Arc<dyn Store>,
) {
    use ucc_shared::contract::handler::InboundMessage;
    use ucc_shared::delivery::{intake, record};
    let crashing = Arc::new(ucc_tests::crashing::CrashingStore::new(store, usize::MAX));
    let env = Env::new(crashing.clone()).await;
    let txs: Vec<String> = (0..6).map(|k| format!("96{k:02}")).collect();
    for (k, tx) in txs.iter().enumerate() {
        crashing.crash_after(k);
        let body = session(tx, COSTED_CUSTOMER, RFID, None).to_string();
        let _ = intake::handle(&env.d, &InboundMessage::from_body(body)).await;
        crashing.crash_after(usize::MAX);
    }
    let mut q = Query::prefix(ucc_shared::keys::tenant(&nordlys(), "LOG"), "");
    q.range = ucc_shared::store::SkRange::Between(" ".into(), "\u{10FFFF}".into());
    let mut logs = Vec::new();
    loop {
        let page = crashing.query(&q).await.unwrap();
        for i in &page.items {
            logs.push(serde_json::from_str::<ucc_shared::log::LogEntry>(&i.doc).unwrap());
        }
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let mut settled = 0;
    for tx in &txs {
        let Some(item) = crashing.get(&record::key(&nordlys(), tx)).await.unwrap() else {
            continue;
        };
        let r = ucc_shared::delivery::record::DeliveryRecord::from_item(&item).unwrap();
        if r.state == DeliveryState::Delivered || r.attempts > 0 {
            settled += 1;
            assert!(
                logs.iter()
                    .any(|l| l.reference_id.as_deref() == Some(tx.as_str())
                        && l.action == "InvoiceLineImport"
                        && (200..300).contains(&l.response_code)),
                "{tx} is {} after {} attempt(s) but its POST is not in the logs",
                r.state.as_str(),
                r.attempts
            );
        }
    }
    // The crash points must reach past the result, or this would check nothing.
    assert!(
        settled >= 2,
        "only {settled} sessions got as far as a recorded attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_costs_five_store_requests_and_one_uc_call() {
    use ucc_shared::store::counting::CountingStore;
    for b in ucc_tests::backends::backends().await {
        let counting = Arc::new(CountingStore::new(b.store.clone()));
        let env = Env::new(counting.clone()).await;
        env.send(&session("9500", COSTED_CUSTOMER, RFID, None))
            .await;
        let tokens_before = env.standin.token_requests();
        counting.reset();
        let requests_before = env.standin.requests().len();
        for tx in ["9501", "9502", "9503"] {
            let h = env.send(&session(tx, COSTED_CUSTOMER, RFID, None)).await;
            assert_eq!(h.outcome, SessionOutcome::Delivered);
        }
        let c = counting.counts();
        let per_session = c.total() as f64 / 3.0;
        let uc_calls = env.standin.requests().len() - requests_before;
        println!(
            "[{}] per delivered session: {per_session} store requests ({c:?} for 3), {} UC calls, {} token requests",
            b.name,
            uc_calls as f64 / 3.0,
            env.standin.token_requests() - tokens_before
        );
        assert_eq!(
            c.total(),
            15,
            "[{}] 5 store requests per session: {c:?}",
            b.name
        );
        // Per session: the token's holders (a query), the driver, the record with its
        // inbound log entry (a transaction), the call's log entry (a put), then the record's
        // result alone (a transaction of one: one conditional write on DynamoDB).
        assert_eq!(
            (c.get, c.query, c.transact, c.put),
            (3, 3, 6, 3),
            "[{}] {c:?}",
            b.name
        );
        // Billed: 2 × 2 for the first transaction, 1 for the due index, 1 for the log
        // entry, 1 for the result and 1 for leaving the index; the same writes laid out as
        // before (log inside the result's transaction, billed twice) would be 10.
        let u = counting.units();
        assert_eq!(
            (u.write / 3, u.write % 3),
            (8, 0),
            "[{}] write units per session: {u:?}",
            b.name
        );
        assert_eq!(uc_calls, 3, "one UC call per session");
        assert_eq!(env.standin.token_requests(), tokens_before, "token reused");
    }
}
