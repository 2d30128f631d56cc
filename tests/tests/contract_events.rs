//! Contract events end to end through the handler, on both store backends.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{json, Value};
use ucc_shared::context::Ctx;
use ucc_shared::contract::driver::{DriverRecord, TokenKind};
use ucc_shared::contract::handler::{driver_key, token_key};
use ucc_shared::contract::tokens::owner_of;
use ucc_shared::contract::{self, InboundMessage, Outcome, ParkReason};
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_shared::{log, parked, registry};
use ucc_tests::fixtures::*;

async fn send(ctx: &Ctx, v: &Value) -> Outcome {
    send_raw(ctx, v.to_string().as_bytes()).await
}

async fn send_raw(ctx: &Ctx, body: &[u8]) -> Outcome {
    contract::handle(ctx, &InboundMessage::from_body(body.to_vec()))
        .await
        .unwrap_or_else(|e| panic!("unexpected transient failure: {e}"))
        .outcome
}

async fn driver(store: &dyn Store, ap: &str) -> Option<DriverRecord> {
    let gln = Gln::parse(NORDLYS).ok()?;
    let item = store.get(&driver_key(&gln, ap)).await.ok()??;
    serde_json::from_str(&item.doc).ok()
}

fn parked_reason(o: &Outcome) -> Option<ParkReason> {
    match o {
        Outcome::Parked { reason, .. } => Some(*reason),
        _ => None,
    }
}

ucc_tests::store_tests!(
    activation_with_rfid_creates_an_active_driver,
    activation_without_rfid_gets_a_unique_virtual_token,
    site_comes_from_private_site_then_product_then_default,
    update_replaces_rfid_and_termination_keeps_the_record,
    update_for_unknown_accounting_point_creates_the_driver,
    duplicate_and_stale_change_nothing_current,
    reactivation_reactivates_driver_and_token,
    ignored_events_change_nothing_but_are_logged,
    every_reason_code_parks_with_its_raw_message,
    redelivered_bad_message_parks_once,
    replay_after_creating_the_tenant_applies_the_event,
    replay_after_fixing_the_pattern_applies_the_event,
    every_message_is_logged_with_payload,
    a_token_is_owned_by_its_newest_holder_and_a_legacy_entry_is_the_fallback,
);

async fn activation_with_rfid_creates_an_active_driver(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let o = send(
        &ctx,
        &activation("707057500012345678", "e1", Some("04A2B3C4D5E6F7")),
    )
    .await;
    assert_eq!(o, Outcome::Applied);
    let d = driver(store.as_ref(), "707057500012345678")
        .await
        .expect("driver stored");
    assert!(d.state.active);
    assert_eq!(
        d.state.site_id,
        Some(1001),
        "default site when no PrivateSiteId/product site"
    );
    assert_eq!(d.state.tokens.len(), 1);
    assert_eq!(d.state.tokens[0].value, "04A2B3C4D5E6F7");
    assert_eq!(d.state.tokens[0].kind, TokenKind::Rfid);
    assert!(d.state.tokens[0].active);
}

async fn activation_without_rfid_gets_a_unique_virtual_token(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let mut tokens = std::collections::HashSet::new();
    for i in 0..5 {
        let ap = format!("AP{i:05}");
        assert_eq!(
            send(&ctx, &activation(&ap, &format!("e{i}"), None)).await,
            Outcome::Applied
        );
        let d = driver(store.as_ref(), &ap).await.expect("driver stored");
        let t = &d.state.tokens[0];
        assert_eq!(t.kind, TokenKind::Virtual);
        assert!(
            t.value.starts_with("v:") && t.value.len() == 18,
            "{}",
            t.value
        );
        assert!(t.active);
        let gln = Gln::parse(NORDLYS).expect("valid");
        let owner = store
            .get(&token_key(&gln, &t.value))
            .await
            .expect("store")
            .expect("token indexed");
        assert!(owner.doc.contains(&ap));
        let owner = owner_of(store.as_ref(), &gln, &t.value)
            .await
            .expect("store");
        assert_eq!(
            owner.map(|o| (o.external_id, o.kind)),
            Some((ap.clone(), TokenKind::Virtual))
        );
        tokens.insert(t.value.clone());
    }
    assert_eq!(tokens.len(), 5);
}

async fn site_comes_from_private_site_then_product_then_default(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let mut e = activation("SITEA0001", "s1", None);
    e["Payload"]["Contract"]["AccountingPoint"]["Details"]["PrivateSiteId"] = json!("1042");
    send(&ctx, &e).await;
    let mut e = activation("SITEB0001", "s2", None);
    e["Payload"]["Contract"]["ProductCode"] = json!("LADEABO-BORETTSLAG");
    send(&ctx, &e).await;
    send(&ctx, &activation("SITEC0001", "s3", None)).await;
    let sites: Vec<Option<i64>> = [
        driver(store.as_ref(), "SITEA0001").await,
        driver(store.as_ref(), "SITEB0001").await,
        driver(store.as_ref(), "SITEC0001").await,
    ]
    .iter()
    .map(|d| d.as_ref().and_then(|d| d.state.site_id))
    .collect();
    assert_eq!(sites, vec![Some(1042), Some(1042), Some(1001)]);
}

async fn update_replaces_rfid_and_termination_keeps_the_record(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let ap = "707057500012345678";
    send(&ctx, &activation(ap, "a", Some("AAAA1111"))).await;
    let upd = event(
        NORDLYS,
        "ContractUpdated",
        "b",
        "2026-11-20T09:00:00Z",
        ap,
        json!({"Rfid": "BBBB2222", "PrivateSiteId": 7}),
    );
    assert_eq!(send(&ctx, &upd).await, Outcome::Applied);
    let d = driver(store.as_ref(), ap).await.expect("driver");
    let flags: Vec<(&str, bool)> = d
        .state
        .tokens
        .iter()
        .map(|t| (t.value.as_str(), t.active))
        .collect();
    assert_eq!(flags, vec![("AAAA1111", false), ("BBBB2222", true)]);
    assert_eq!(d.state.site_id, Some(7));
    let term = event(
        NORDLYS,
        "ContractTerminated",
        "c",
        "2026-11-20T10:00:00Z",
        ap,
        Value::Null,
    );
    assert_eq!(send(&ctx, &term).await, Outcome::Applied);
    let d = driver(store.as_ref(), ap)
        .await
        .expect("record stays after termination");
    assert!(!d.state.active);
    assert!(d.state.tokens.iter().all(|t| !t.active));
    // Old tokens still resolve to the driver so in-flight sessions settle.
    let gln = Gln::parse(NORDLYS).expect("valid");
    let owner = owner_of(store.as_ref(), &gln, "AAAA1111")
        .await
        .expect("store");
    assert_eq!(owner.map(|o| o.external_id).as_deref(), Some(ap));
}

/// Tokens indexed by an older version (one `token → driver` item, no holder entries) still
/// resolve; once any driver publishes a holder entry for the token, holders decide.
async fn a_token_is_owned_by_its_newest_holder_and_a_legacy_entry_is_the_fallback(
    store: Arc<dyn Store>,
) {
    use ucc_shared::contract::tokens::{holder_key, Holder, TokenOwner};
    use ucc_shared::store::{Condition, Item};
    let ctx = ctx_with_tenant(store.clone()).await;
    let gln = Gln::parse(NORDLYS).expect("valid");
    let owner = |t: &'static str| {
        let store = store.clone();
        let gln = gln.clone();
        async move {
            owner_of(store.as_ref(), &gln, t)
                .await
                .expect("store")
                .map(|o| o.external_id)
        }
    };
    let legacy = TokenOwner {
        external_id: "OLDAP0001".into(),
        kind: TokenKind::Rfid,
    };
    store
        .put(
            Item::new(
                token_key(&gln, "CARD#1"),
                serde_json::to_string(&legacy).expect("json"),
                1,
            ),
            Condition::Always,
        )
        .await
        .expect("store");
    assert_eq!(owner("CARD#1").await.as_deref(), Some("OLDAP0001"));
    assert_eq!(
        owner("CARD").await,
        None,
        "a prefix of a token is not that token"
    );

    let gives = |id: &str, time: &str, ap: &str| {
        event(
            NORDLYS,
            "ContractUpdated",
            id,
            time,
            ap,
            json!({"Rfid": "CARD#1"}),
        )
    };
    send(&ctx, &gives("n1", "2026-11-20T09:00:00Z", "NEWAP0001")).await;
    assert_eq!(owner("CARD#1").await.as_deref(), Some("NEWAP0001"));
    // A late, older event for another driver does not take the card.
    send(&ctx, &gives("o1", "2026-11-20T08:00:00Z", "NEWAP0002")).await;
    assert_eq!(owner("CARD#1").await.as_deref(), Some("NEWAP0001"));
    // A newer one does; the entry says which event gave it.
    send(&ctx, &gives("n2", "2026-11-20T10:00:00Z", "NEWAP0002")).await;
    assert_eq!(owner("CARD#1").await.as_deref(), Some("NEWAP0002"));
    let item = store
        .get(&holder_key(&gln, "CARD#1", "NEWAP0002"))
        .await
        .expect("store")
        .expect("holder entry");
    assert_eq!(item.key.sk, "434152442331#NEWAP0002");
    let h: Holder = serde_json::from_str(&item.doc).expect("holder doc");
    assert_eq!(
        (h.external_id.as_str(), h.kind, h.since.event_id.as_str()),
        ("NEWAP0002", TokenKind::Rfid, "n2")
    );
    // A duplicate of the older event changes nothing.
    send(&ctx, &gives("o1", "2026-11-20T08:00:00Z", "NEWAP0002")).await;
    assert_eq!(owner("CARD#1").await.as_deref(), Some("NEWAP0002"));
}

async fn update_for_unknown_accounting_point_creates_the_driver(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let upd = event(
        NORDLYS,
        "ContractUpdated",
        "u1",
        "2026-11-20T09:00:00Z",
        "NEWAP0001",
        json!({}),
    );
    assert_eq!(send(&ctx, &upd).await, Outcome::Applied);
    let d = driver(store.as_ref(), "NEWAP0001").await.expect("created");
    assert!(d.state.active);
    assert_eq!(d.state.tokens[0].kind, TokenKind::Virtual);
}

async fn duplicate_and_stale_change_nothing_current(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let ap = "DUPAP0001";
    let act = activation(ap, "a", Some("AAAA1111"));
    assert_eq!(send(&ctx, &act).await, Outcome::Applied);
    assert_eq!(send(&ctx, &act).await, Outcome::Duplicate);
    let term = event(
        NORDLYS,
        "ContractTerminated",
        "t",
        "2026-11-20T12:00:00Z",
        ap,
        Value::Null,
    );
    send(&ctx, &term).await;
    let before = driver(store.as_ref(), ap).await.expect("driver").state;
    let late = event(
        NORDLYS,
        "ContractUpdated",
        "late",
        "2026-11-20T10:00:00Z",
        ap,
        json!({"Rfid": "AAAA1111"}),
    );
    assert_eq!(send(&ctx, &late).await, Outcome::Stale);
    let after = driver(store.as_ref(), ap).await.expect("driver").state;
    assert_eq!(before.active, after.active);
    let flags = |s: &ucc_shared::contract::driver::DriverState| -> Vec<(String, bool)> {
        s.tokens
            .iter()
            .map(|t| (t.value.clone(), t.active))
            .collect()
    };
    assert_eq!(flags(&before), flags(&after));
    assert_eq!(
        after.tokens[0]
            .received
            .as_ref()
            .map(|r| r.event_id.as_str()),
        Some("late"),
        "the late update is the newest event that gave the driver its card"
    );
    assert_eq!(
        before.last_event, after.last_event,
        "last applied event stays the newest"
    );
}

async fn reactivation_reactivates_driver_and_token(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let ap = "REACT0001";
    send(&ctx, &activation(ap, "a", None)).await;
    send(
        &ctx,
        &event(
            NORDLYS,
            "ContractTerminated",
            "b",
            "2026-11-20T09:00:00Z",
            ap,
            Value::Null,
        ),
    )
    .await;
    send(
        &ctx,
        &event(
            NORDLYS,
            "ContractActivated",
            "c",
            "2026-11-20T10:00:00Z",
            ap,
            json!({}),
        ),
    )
    .await;
    let d = driver(store.as_ref(), ap).await.expect("driver");
    assert!(d.state.active);
    assert_eq!(
        d.state.tokens.len(),
        1,
        "the virtual token is reused, not regenerated"
    );
    assert!(d.state.tokens[0].active);
}

async fn ignored_events_change_nothing_but_are_logged(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let mut tp = activation("IGN000001", "tp", None);
    tp["Header"]["EventName"] = json!("TPContractCreated");
    assert!(matches!(send(&ctx, &tp).await, Outcome::Ignored { .. }));
    let mut other = activation("IGN000002", "ot", None);
    other["Header"]["ServiceType"] = json!("Electricity");
    assert!(matches!(send(&ctx, &other).await, Outcome::Ignored { .. }));
    assert!(driver(store.as_ref(), "IGN000001").await.is_none());
    assert!(driver(store.as_ref(), "IGN000002").await.is_none());
    let gln = Gln::parse(NORDLYS).expect("valid");
    let (logs, _) = log::list(store.as_ref(), Some(&gln), 10, None)
        .await
        .expect("logs");
    assert_eq!(
        logs.iter()
            .filter(|l| l.outcome.as_deref() == Some("ignored"))
            .count(),
        2
    );
}

async fn every_reason_code_parks_with_its_raw_message(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let gln = Gln::parse(NORDLYS).expect("valid");
    let cases: Vec<(Vec<u8>, ParkReason, bool)> = vec![
        (b"{not json".to_vec(), ParkReason::InvalidJson, false),
        (
            json!({"Header": {"ServiceType": "ChargingAgreement"}})
                .to_string()
                .into_bytes(),
            ParkReason::SchemaViolation,
            false,
        ),
        (
            {
                let mut e = activation("APOK00001", "g", None);
                e["Header"]["TenantID"] = json!("7080010002489");
                e.to_string().into_bytes()
            },
            ParkReason::InvalidGln,
            false,
        ),
        (
            event(
                "9436465792104",
                "ContractActivated",
                "u",
                "2026-11-20T08:00:00Z",
                "APOK00001",
                json!({}),
            )
            .to_string()
            .into_bytes(),
            ParkReason::UnknownTenant,
            false,
        ),
        (
            activation("AP-WITH-DASH", "ap", None)
                .to_string()
                .into_bytes(),
            ParkReason::InvalidAccountingPoint,
            true,
        ),
        (
            event(
                NORDLYS,
                "ContractActivated",
                "p",
                "2026-11-20T08:00:00Z",
                "APOK00002",
                json!({"PrivateSiteId": "12a"}),
            )
            .to_string()
            .into_bytes(),
            ParkReason::InvalidPrivateSiteId,
            true,
        ),
        (
            event(
                NORDLYS,
                "ContractActivated",
                "r",
                "2026-11-20T08:00:00Z",
                "APOK00003",
                json!({"Rfid": ""}),
            )
            .to_string()
            .into_bytes(),
            ParkReason::InvalidRfid,
            true,
        ),
    ];
    for (body, reason, routed) in cases {
        let o = send_raw(&ctx, &body).await;
        assert_eq!(
            parked_reason(&o),
            Some(reason),
            "{}",
            String::from_utf8_lossy(&body)
        );
        let Outcome::Parked { id, .. } = o else {
            unreachable!()
        };
        let p = parked::get(store.as_ref(), &id)
            .await
            .expect("store")
            .expect("parked entry");
        assert_eq!(p.reason, reason);
        assert_eq!(p.raw_body().expect("replayable"), body);
        assert!(!p.description.is_empty());
        assert_eq!(
            p.tenant.is_some(),
            routed,
            "{reason}: parked under the tenant iff it is known"
        );
    }
    let mine = parked::list(store.as_ref(), Some(&gln))
        .await
        .expect("list");
    assert_eq!(mine.len(), 3);
    let unrouted = parked::list(store.as_ref(), None).await.expect("list");
    assert_eq!(unrouted.len(), 4);
}

async fn redelivered_bad_message_parks_once(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    for _ in 0..3 {
        send_raw(&ctx, b"garbage").await;
    }
    assert_eq!(
        parked::list(store.as_ref(), None)
            .await
            .expect("list")
            .len(),
        1
    );
}

async fn replay_after_creating_the_tenant_applies_the_event(store: Arc<dyn Store>) {
    let ctx = Ctx::new(store.clone());
    let body = event(
        FJORD,
        "ContractActivated",
        "x1",
        "2026-11-20T08:00:00Z",
        "FJORD0001",
        json!({}),
    );
    let Outcome::Parked { id, reason, .. } = send(&ctx, &body).await else {
        panic!("expected parked")
    };
    assert_eq!(reason, ParkReason::UnknownTenant);
    put_tenant(store.as_ref(), &tenant_json(FJORD, "emb-cust-fjord")).await;
    let handled = contract::replay(&ctx, &id)
        .await
        .expect("no transient error")
        .expect("replayable");
    assert_eq!(handled.outcome, Outcome::Applied);
    assert!(
        parked::get(store.as_ref(), &id)
            .await
            .expect("store")
            .is_none(),
        "entry removed once it succeeded"
    );
}

async fn replay_after_fixing_the_pattern_applies_the_event(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    let Outcome::Parked { id, .. } = send(&ctx, &activation("AP-7070-57", "x2", None)).await else {
        panic!("expected parked")
    };
    let mut t = tenant_json(NORDLYS, "emb-cust-0042");
    t["accountingPointPattern"] = json!("^[A-Z0-9-]{5,18}$");
    put_tenant(store.as_ref(), &t).await;
    ctx.forget_tenant(&Gln::parse(NORDLYS).expect("valid"));
    let handled = contract::replay(&ctx, &id)
        .await
        .expect("no transient error")
        .expect("replayable");
    assert_eq!(handled.outcome, Outcome::Applied);
    assert!(driver(store.as_ref(), "AP-7070-57").await.is_some());
}

async fn every_message_is_logged_with_payload(store: Arc<dyn Store>) {
    let ctx = ctx_with_tenant(store.clone()).await;
    send(&ctx, &activation("LOGAP0001", "l1", None)).await;
    send(&ctx, &activation("LOGAP0001", "l1", None)).await;
    send(
        &ctx,
        &event(
            NORDLYS,
            "ContractActivated",
            "l2",
            "2026-11-20T08:00:00Z",
            "LOGAP0002",
            json!({"PrivateSiteId": 12.5}),
        ),
    )
    .await;
    let gln = Gln::parse(NORDLYS).expect("valid");
    let (logs, _) = log::list(store.as_ref(), Some(&gln), 10, None)
        .await
        .expect("logs");
    let outcomes: Vec<&str> = logs.iter().filter_map(|l| l.outcome.as_deref()).collect();
    assert_eq!(
        outcomes,
        vec!["parked", "duplicate", "applied"],
        "newest first"
    );
    assert!(logs
        .iter()
        .all(|l| l.action == "ContractActivated" && l.response_code == 200));
    assert_eq!(logs[2].reference_id.as_deref(), Some("LOGAP0001"));
    assert!(logs[2].request_payload.contains("LOGAP0001"));
}

/// A store whose backend is down: every request fails as unavailable.
async fn unreachable_store() -> Arc<dyn Store> {
    Arc::new(ucc_shared::store::dynamodb::DynamoStore::local(
        "http://127.0.0.1:9",
        "nowhere",
    ))
}

#[tokio::test]
async fn store_outage_is_a_retry_not_an_outcome() {
    let ctx = Ctx::new(unreachable_store().await);
    let r = contract::handle(
        &ctx,
        &InboundMessage::from_body(activation("OUT000001", "o", None).to_string()),
    )
    .await;
    assert!(
        r.is_err(),
        "a transient failure must make the platform redeliver"
    );
}

#[tokio::test]
async fn tenant_isolation_with_colliding_ids() {
    for b in ucc_tests::backends::backends().await {
        let store = b.store.clone();
        put_tenant(store.as_ref(), &tenant_json(NORDLYS, "cust-a")).await;
        put_tenant(store.as_ref(), &tenant_json(SVEA, "cust-b")).await;
        let ctx = Ctx::new(store.clone());
        let ap = "707057500012345678";
        // Tenant B already has a driver with the same accounting point and RFID.
        let b_event = event(
            SVEA,
            "ContractActivated",
            "b-1",
            "2026-11-20T08:00:00Z",
            ap,
            json!({"Rfid": "SHARED-RFID"}),
        );
        send(&ctx, &b_event).await;
        let b_gln = Gln::parse(SVEA).expect("valid");
        let b_before = store
            .get(&driver_key(&b_gln, ap))
            .await
            .expect("store")
            .expect("B driver");

        // Record every key tenant A's events touch.
        let recording = Arc::new(RecordingStore::new(store.clone()));
        let ctx_a = Ctx::new(recording.clone());
        send(
            &ctx_a,
            &event(
                NORDLYS,
                "ContractActivated",
                "a-1",
                "2026-11-20T08:00:00Z",
                ap,
                json!({"Rfid": "SHARED-RFID"}),
            ),
        )
        .await;
        send(
            &ctx_a,
            &event(
                NORDLYS,
                "ContractTerminated",
                "a-2",
                "2026-11-20T09:00:00Z",
                ap,
                Value::Null,
            ),
        )
        .await;
        let touched = recording.keys();
        assert!(!touched.is_empty());
        for k in &touched {
            assert!(
                k.starts_with(&format!("T#{NORDLYS}#")),
                "[{}] event for A touched {k}",
                b.name
            );
        }
        let b_after = store
            .get(&driver_key(&b_gln, ap))
            .await
            .expect("store")
            .expect("B driver");
        assert_eq!(
            b_before, b_after,
            "[{}] tenant B's driver unchanged",
            b.name
        );
        let b_owner = owner_of(store.as_ref(), &b_gln, "SHARED-RFID")
            .await
            .expect("store")
            .expect("B token");
        assert_eq!(b_owner.external_id, ap);
        let a_registry = registry::get(store.as_ref(), &Gln::parse(NORDLYS).expect("valid"))
            .await
            .expect("store");
        assert!(a_registry.is_some());
    }
}

#[tokio::test]
async fn happy_path_costs_three_store_requests_cold_and_two_warm() {
    use ucc_shared::store::counting::CountingStore;
    for b in ucc_tests::backends::backends().await {
        put_tenant(b.store.as_ref(), &tenant_json(NORDLYS, "cust-a")).await;
        let counting = Arc::new(CountingStore::new(b.store.clone()));
        let ctx = Ctx::new(counting.clone());
        send(&ctx, &activation("COUNT0001", "c1", Some("RFID-1"))).await;
        let cold = counting.counts();
        assert_eq!(
            (cold.get, cold.transact, cold.total()),
            (2, 1, 3),
            "[{}] {cold:?}",
            b.name
        );
        counting.reset();
        send(&ctx, &activation("COUNT0002", "c2", None)).await;
        let warm = counting.counts();
        assert_eq!(
            (warm.get, warm.transact, warm.total()),
            (1, 1, 2),
            "[{}] {warm:?}",
            b.name
        );
        println!(
            "store requests per contract event [{}]: cold {} (tenant config read), warm {}",
            b.name,
            cold.total(),
            warm.total()
        );
    }
}

/// Records the partition key of every request, to prove what a handler touches.
struct RecordingStore {
    inner: Arc<dyn Store>,
    seen: std::sync::Mutex<Vec<String>>,
}

impl RecordingStore {
    fn new(inner: Arc<dyn Store>) -> Self {
        RecordingStore {
            inner,
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }
    fn note(&self, pk: &str) {
        if let Ok(mut s) = self.seen.lock() {
            s.push(pk.to_owned());
        }
    }
    fn keys(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Store for RecordingStore {
    async fn get(
        &self,
        key: &ucc_shared::store::Key,
    ) -> Result<Option<ucc_shared::store::Item>, ucc_shared::store::StoreError> {
        self.note(&key.pk);
        self.inner.get(key).await
    }
    async fn put(
        &self,
        item: ucc_shared::store::Item,
        c: ucc_shared::store::Condition,
    ) -> Result<(), ucc_shared::store::StoreError> {
        self.note(&item.key.pk);
        self.inner.put(item, c).await
    }
    async fn delete(
        &self,
        key: &ucc_shared::store::Key,
        c: ucc_shared::store::Condition,
    ) -> Result<(), ucc_shared::store::StoreError> {
        self.note(&key.pk);
        self.inner.delete(key, c).await
    }
    async fn transact(
        &self,
        ops: Vec<ucc_shared::store::WriteOp>,
    ) -> Result<(), ucc_shared::store::StoreError> {
        for op in &ops {
            self.note(&op.key().pk);
        }
        self.inner.transact(ops).await
    }
    async fn query(
        &self,
        q: &ucc_shared::store::Query,
    ) -> Result<ucc_shared::store::Page, ucc_shared::store::StoreError> {
        self.note(&q.pk);
        self.inner.query(q).await
    }
    async fn query_index(
        &self,
        q: &ucc_shared::store::IndexQuery,
    ) -> Result<ucc_shared::store::Page, ucc_shared::store::StoreError> {
        self.note(&q.partition);
        self.inner.query_index(q).await
    }
}
