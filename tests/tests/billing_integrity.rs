//! SPEC §6 "Billing integrity rules", one named test per rule, each over real HTTP against
//! the UC/Entra stand-in on every store backend. Each test is the regression test of a path
//! an independent review found to a wrong, doubled or falsely "delivered" bill. The token
//! rule (newest holder by EventTime; a correction bills the original owner) lives in
//! `token_ownership.rs` and `token_ownership_property.rs`; the whole lifecycle under random
//! faults in `delivery_lifecycle_property.rs`.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use ucc_shared::contract::{self, InboundMessage, Outcome};
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::delivery::record::{DeliveryRecord, DeliveryState, PayloadKind};
use ucc_shared::delivery::redrive;
use ucc_shared::delivery::status::{self, BlockSource, Connection};
use ucc_shared::delivery::{credit, sweep, Deliverer, MAX_CALLS_PER_ATTEMPT};
use ucc_shared::gln::Gln;
use ucc_shared::log;
use ucc_shared::parked;
use ucc_shared::store::Store;
use ucc_standins::uc::{Fault, Route};
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{put_tenant, NORDLYS, SVEA};

fn gln(g: &str) -> Gln {
    Gln::parse(g).unwrap()
}

/// The ids UC accepted, in order.
fn accepted(env: &Env) -> Vec<String> {
    env.standin
        .accepted_transactions()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap().to_owned())
        .collect()
}

ucc_tests::store_tests!(
    correction_is_never_posted_while_its_credit_is_rejected,
    correction_waits_for_a_pending_credit_then_follows_it,
    gross_price_tenant_with_component_vat_is_refused,
    pricing_warnings_are_kept_on_the_record_and_logged,
    empty_customer_id_is_parked_not_retried,
    over_long_transaction_id_is_parked_on_every_store,
    oversized_meter_series_is_parked_not_retried,
    parked_body_that_escapes_past_the_item_limit_is_kept_truncated,
    blocked_tenant_backlog_never_starves_another_tenant,
    one_failing_record_does_not_stop_the_sweep,
    uc_401_block_stays_reported_until_uc_accepts_a_call,
    first_attempt_without_time_left_is_left_for_the_timer,
    details_counts_are_exact_and_free_on_the_happy_path,
);

async fn correct_after_credit_fault(env: &Env, tx: &str, fault: Fault) -> credit::CreditResult {
    let first = env.send(&session(tx, COSTED_CUSTOMER, RFID, None)).await;
    assert_eq!(first.outcome, SessionOutcome::Delivered);
    env.standin.push_fault(Route::PostTransaction, fault);
    credit::correct(&env.d, None, tx, Some("wrong tariff".into()))
        .await
        .unwrap()
}

/// Rule: `<root>-R<n>` is posted only after `<root>-C<n>` is delivered; a rejected credit
/// holds the correction (visible, with its reason) until the credit is re-driven.
async fn correction_is_never_posted_while_its_credit_is_rejected(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let r = correct_after_credit_fault(&env, "9300", Fault::Status(400)).await;
    assert_eq!(
        env.standin.post_attempts("9300-R1"),
        0,
        "the re-priced line went to UC although its credit was rejected: billed twice"
    );
    assert_eq!(r.credit.outcome.name(), "rejected");
    let held = rec(store.as_ref(), "9300-R1").await;
    assert_eq!(held.state, DeliveryState::Held);
    let reason = held.last_result.clone().unwrap_or_default();
    assert!(
        reason.contains("9300-C1") && reason.contains("rejected"),
        "{reason}"
    );
    assert_eq!(
        r.correction.as_ref().map(|h| h.outcome.name()),
        Some("held")
    );
    // Sweeps leave it alone: nothing is due.
    let s = env.sweep_after(Duration::from_secs(3600)).await;
    assert_eq!((s.due, s.delivered), (0, 0));
    assert_eq!(env.standin.post_attempts("9300-R1"), 0);
    // The held correction is in the operator's lists and explained in the log.
    let (entries, _) = log::list(store.as_ref(), Some(&gln(NORDLYS)), 50, None)
        .await
        .unwrap();
    assert!(entries
        .iter()
        .any(|e| e.reference_id.as_deref() == Some("9300-R1")
            && e.outcome.as_deref() == Some("held")));
    // The operator fixes the cause and re-drives the credit: both lines go, in order.
    let (c, v) = credit::find(&env.d, None, "9300-C1").await.unwrap();
    let done = redrive::redrive(&env.d, c, v).await.unwrap();
    assert_eq!(done.record.state, DeliveryState::Delivered);
    assert_eq!(
        done.correction.map(|r| r.state),
        Some(DeliveryState::Delivered)
    );
    assert_eq!(accepted(&env), vec!["9300", "9300-C1", "9300-R1"]);
    assert_eq!(env.standin.duplicate_posts(), 0);
}

/// Rule: while the credit is pending, the correction waits; the sweep that delivers the
/// credit posts the correction after it, never before.
async fn correction_waits_for_a_pending_credit_then_follows_it(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let r = correct_after_credit_fault(&env, "9301", Fault::Status(503)).await;
    assert_eq!(r.credit.outcome.name(), "pending");
    assert_eq!(
        env.standin.post_attempts("9301-R1"),
        0,
        "the re-priced line went out while its credit was still pending"
    );
    let waiting = rec(store.as_ref(), "9301-R1").await;
    assert_eq!(waiting.state, DeliveryState::Pending);
    assert_eq!(waiting.waits_for.as_deref(), Some("9301-C1"));
    // However often the timer runs before the credit is due, the correction stays back.
    for _ in 0..3 {
        env.sweep_after(Duration::from_secs(1)).await;
        assert_eq!(env.standin.post_attempts("9301-R1"), 0);
    }
    env.sweep_after(Duration::from_secs(3600)).await;
    env.sweep_after(Duration::from_secs(1)).await;
    assert_eq!(accepted(&env), vec!["9301", "9301-C1", "9301-R1"]);
    assert_eq!(
        rec(store.as_ref(), "9301-R1").await.state,
        DeliveryState::Delivered
    );
    assert_eq!(env.standin.duplicate_posts(), 0);
}

/// Rule: `pricesIncludeVat` with a component `vat` is refused, naming the field.
async fn gross_price_tenant_with_component_vat_is_refused(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let mut t = costed_tenant(&env.standin, "env:UNUSED");
    t["pricesIncludeVat"] = json!(true);
    t["tariffs"][0]["elements"][0]["price_components"][0]["vat"] = json!("25");
    let e = ucc_shared::tenant::TenantConfig::from_value(&t).unwrap_err();
    assert_eq!(e.field, "tariffs[0].elements[0].price_components[0].vat");
}

/// Rule: pricing warnings are kept on the delivery record and shown in its log.
async fn pricing_warnings_are_kept_on_the_record_and_logged(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let secret_ref = format!("file:{}", env.secret_file.display());
    let mut t = costed_tenant(&env.standin, &secret_ref);
    // The site's tariff ended before the session: priced with it anyway, with a warning.
    t["tariffs"][0]["end_date_time"] = json!("2026-01-01T00:00:00Z");
    t["siteTariffs"] = json!({"1042": "TARIFF-STD"});
    put_tenant(store.as_ref(), &t).await;
    let d = env.other_instance();
    let h = ucc_shared::delivery::intake::handle(
        &d,
        &InboundMessage::from_body(session("9303", COSTED_CUSTOMER, RFID, Some(1042)).to_string()),
    )
    .await
    .unwrap();
    assert_eq!(h.outcome, SessionOutcome::Delivered);
    let r = rec(store.as_ref(), "9303").await;
    assert!(
        r.warnings.iter().any(|w| w.contains("not active")),
        "{:?}",
        r.warnings
    );
    let (entries, _) = log::list(store.as_ref(), Some(&gln(NORDLYS)), 50, None)
        .await
        .unwrap();
    assert!(entries
        .iter()
        .any(|e| e.reference_id.as_deref() == Some("9303")
            && e.reason
                .as_deref()
                .is_some_and(|r| r.contains("not active"))));
}

/// Rule: an empty `customerId` is parked, never looked up (DynamoDB refuses an empty key,
/// which used to become a retry until the platform's DLQ).
async fn empty_customer_id_is_parked_not_retried(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let mut s = session("9304", "", RFID, None);
    s["customerId"] = json!("");
    let h = ucc_shared::delivery::intake::handle(&env.d, &InboundMessage::from_body(s.to_string()))
        .await
        .expect("a deterministic failure is no transient error");
    assert_eq!(h.outcome.name(), "parked");
}

/// Rule: ids over the limit are parked on every backend alike (the embedded store used to
/// take a 1,100-character id that DynamoDB refuses).
async fn over_long_transaction_id_is_parked_on_every_store(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let long = "9".repeat(1100);
    let h = ucc_shared::delivery::intake::handle(
        &env.d,
        &InboundMessage::from_body(session(&long, COSTED_CUSTOMER, RFID, None).to_string()),
    )
    .await
    .expect("a deterministic failure is no transient error");
    assert_eq!(h.outcome.name(), "parked", "{h:?}");
    assert!(env.standin.accepted_transactions().is_empty());
    let tag = "T".repeat(65);
    let h = ucc_shared::delivery::intake::handle(
        &env.d,
        &InboundMessage::from_body(session("9305", COSTED_CUSTOMER, &tag, None).to_string()),
    )
    .await
    .unwrap();
    assert_eq!(h.outcome.name(), "parked");
}

/// Rule: anything whose stored form would exceed the item limit is parked (here a year-long
/// Type A session: 8,784 hourly values), never retried.
async fn oversized_meter_series_is_parked_not_retried(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let mut s = session("7300", METER_CUSTOMER, SV_RFID, None);
    s["timestampStart"] = json!("2025-11-20T00:00:00Z");
    s["timestampEnd"] = json!("2026-11-20T00:00:00Z");
    s["meterValues"] = json!([]);
    let h = ucc_shared::delivery::intake::handle(&env.d, &InboundMessage::from_body(s.to_string()))
        .await
        .expect("a deterministic failure is no transient error");
    assert_eq!(h.outcome.name(), "parked", "{h:?}");
    assert!(h.outcome.reason().is_some());
    assert!(env.standin.accepted_meter_series().is_empty());
}

/// Rule: a parked payload is kept truncated when its stored (escaped) form would not fit.
async fn parked_body_that_escapes_past_the_item_limit_is_kept_truncated(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    // 250 KB of quotes: under the parked-body limit raw, about 500 KB once JSON-escaped.
    let body = "\"".repeat(250 * 1024);
    let h = contract::handle(&env.d.ctx, &InboundMessage::from_body(body))
        .await
        .expect("parking is no transient failure");
    let Outcome::Parked { id, .. } = &h.outcome else {
        panic!("not parked: {h:?}")
    };
    let p = parked::get(store.as_ref(), id)
        .await
        .unwrap()
        .expect("kept");
    assert!(p.body_truncated);
    assert!(p.body.len() < 250 * 1024);
}

/// Rule: one tenant's backlog, blocked or not, never starves another. Nordlys (first in
/// the directory) has 600 due deliveries and UC refuses its calls; Svea's one session is
/// delivered by the same run.
async fn blocked_tenant_backlog_never_starves_another_tenant(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let now = env.d.ctx.now();
    for i in 0..600 {
        let mut r = DeliveryRecord::new_pending(
            gln(NORDLYS),
            format!("backlog-{i:04}"),
            PayloadKind::InvoiceLine,
            json!({}),
            AP.into(),
            now,
        );
        r.next_attempt_at = Some(now);
        store
            .put(
                r.to_item(1).unwrap(),
                ucc_shared::store::Condition::NotExists,
            )
            .await
            .unwrap();
    }
    // UC refuses Nordlys's calls (401 with fresh tokens): the tenant is blocked.
    env.standin
        .set_unauthorized_routes(&[Route::PostTransaction, Route::GetTransaction]);
    env.send(&session("9309", COSTED_CUSTOMER, RFID, None))
        .await;
    // Svea's session waits for the timer (its first attempt met a 503).
    env.standin
        .push_fault(Route::PostMeterValues, Fault::Status(503));
    env.send(&session("7301", METER_CUSTOMER, SV_RFID, None))
        .await;
    let r = env.sweep_after(Duration::from_secs(3600)).await;
    assert_eq!(r.tenants_blocked, vec![NORDLYS.to_owned()]);
    assert_eq!(
        rec_of(store.as_ref(), SVEA, "7301").await.state,
        DeliveryState::Delivered,
        "Svea's delivery waited behind another tenant's blocked backlog: {r:?}"
    );
}

/// Rule: nothing in one record can stop a sweep serving the others. A tenant listed in
/// the directory whose configuration is gone (a half-finished removal) has a due delivery;
/// it sorts first, and attempting it fails every time.
async fn one_failing_record_does_not_stop_the_sweep(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let ghost = gln("1234567890128");
    let mut t = ucc_tests::fixtures::tenant_json(ghost.as_str(), "ghost-customer");
    t["gln"] = json!(ghost.as_str());
    put_tenant(store.as_ref(), &t).await;
    store
        .delete(
            &ucc_shared::store::Key::new(format!("T#{ghost}#CFG"), "CFG"),
            ucc_shared::store::Condition::Always,
        )
        .await
        .unwrap();
    let now = env.d.ctx.now();
    let mut broken = DeliveryRecord::new_pending(
        ghost.clone(),
        "0000-broken".into(),
        PayloadKind::InvoiceLine,
        json!({}),
        AP.into(),
        now,
    );
    broken.next_attempt_at = Some(now);
    store
        .put(
            broken.to_item(1).unwrap(),
            ucc_shared::store::Condition::NotExists,
        )
        .await
        .unwrap();
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(503));
    env.send(&session("9306", COSTED_CUSTOMER, RFID, None))
        .await;
    env.clock.advance(Duration::from_secs(3600));
    let r = match sweep::sweep(&env.d).await {
        Ok(r) => r,
        Err(e) => panic!("one record's failure stopped the whole run: {e}"),
    };
    assert_eq!(
        rec(store.as_ref(), "9306").await.state,
        DeliveryState::Delivered,
        "{r:?}"
    );
    assert!(
        r.errors.iter().any(|e| e.contains(ghost.as_str())),
        "the failure is reported: {r:?}"
    );
}

/// Rule: a tenant blocked by UC answering 401 counts as blocked in every run's report until
/// UC accepts a call again (a token from Entra proves nothing then).
async fn uc_401_block_stays_reported_until_uc_accepts_a_call(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin
        .set_unauthorized_routes(&[Route::PostTransaction, Route::GetTransaction]);
    env.send(&session("9307", COSTED_CUSTOMER, RFID, None))
        .await;
    let st = status::get(store.as_ref(), &gln(NORDLYS)).await.unwrap();
    assert_eq!(
        (st.status, st.source),
        (Connection::AuthBlocked, Some(BlockSource::Uc))
    );
    for _ in 0..3 {
        let r = env.sweep_after(Duration::from_secs(60)).await;
        assert_eq!(
            r.tenants_blocked,
            vec![NORDLYS.to_owned()],
            "a UC-side block vanished from the report: {r:?}"
        );
        assert!(r.tenants_unblocked.is_empty(), "{r:?}");
        let st = status::get(store.as_ref(), &gln(NORDLYS)).await.unwrap();
        assert_eq!(st.status, Connection::AuthBlocked);
    }
    env.standin.set_unauthorized_routes(&[]);
    let r = env.sweep_after(Duration::from_secs(60)).await;
    assert_eq!(r.tenants_unblocked, vec![NORDLYS.to_owned()], "{r:?}");
    assert_eq!(
        rec(store.as_ref(), "9307").await.state,
        DeliveryState::Delivered
    );
    let st = status::get(store.as_ref(), &gln(NORDLYS)).await.unwrap();
    assert_eq!(st.status, Connection::Ok);
}

/// Rule: a first attempt that cannot finish in the invocation's remaining time is left
/// pending for the timer instead of being cut off.
async fn first_attempt_without_time_left_is_left_for_the_timer(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.d
        .set_deadline(Some(Instant::now() + Duration::from_secs(1)));
    let h = env
        .send(&session("9308", COSTED_CUSTOMER, RFID, None))
        .await;
    assert_eq!(h.outcome.name(), "pending");
    assert_eq!(env.standin.post_attempts("9308"), 0);
    let r = rec(store.as_ref(), "9308").await;
    assert!(
        r.lease_until.is_none(),
        "not leased: the timer may take it at once"
    );
    // Nor does the sweep start one.
    let s = env.sweep_after(Duration::from_secs(1)).await;
    assert_eq!(s.delivered, 0);
    env.d.set_deadline(None);
    let s = env.sweep_after(Duration::from_secs(1)).await;
    assert_eq!(s.delivered, 1);
}

/// Rule: a lease outlasts the longest attempt the client can make.
#[tokio::test]
async fn lease_outlasts_the_longest_attempt() {
    let (_dir, store) = ucc_tests::backends::embedded();
    for secs in [2u64, 10, 15, 60] {
        let timeout = Duration::from_secs(secs);
        let d = Deliverer::new(
            Arc::new(ucc_shared::context::Ctx::new(store.clone())),
            timeout,
        )
        .unwrap();
        assert!(
            d.policy.lease > timeout * MAX_CALLS_PER_ATTEMPT,
            "lease {:?} is shorter than {MAX_CALLS_PER_ATTEMPT} calls of {timeout:?}",
            d.policy.lease
        );
    }
}

/// Details' counts (kept by the writes, read in one query) follow every state exactly, never
/// count a redelivered parked message twice, and a session delivered at once writes none.
async fn details_counts_are_exact_and_free_on_the_happy_path(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let g = gln(NORDLYS);
    let counts = || async { ucc_shared::counts::read(store.as_ref(), &g).await.unwrap() };
    let counter_items = || async {
        store
            .query(&ucc_shared::store::Query::prefix(
                format!("T#{NORDLYS}#COUNT"),
                "",
            ))
            .await
            .unwrap()
            .items
            .len()
    };
    env.send(&session("9400", COSTED_CUSTOMER, RFID, None))
        .await;
    assert_eq!(
        counter_items().await,
        0,
        "a delivered session wrote a counter"
    );
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(503));
    env.send(&session("9401", COSTED_CUSTOMER, RFID, None))
        .await;
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(400));
    env.send(&session("9402", COSTED_CUSTOMER, RFID, None))
        .await;
    let mut bad = session("9403", COSTED_CUSTOMER, RFID, None);
    bad["meterReadEndWh"] = json!(1);
    env.send(&bad).await;
    env.send(&bad).await; // redelivered: parked once
    let c = counts().await;
    assert_eq!(
        (c.pending, c.rejected, c.held, c.parked),
        (1, 1, 0, 1),
        "{c:?}"
    );
    env.sweep_after(Duration::from_secs(3600)).await;
    let (r, v) = credit::find(&env.d, None, "9402").await.unwrap();
    redrive::redrive(&env.d, r, v).await.unwrap();
    let c = counts().await;
    assert_eq!(
        (c.pending, c.rejected, c.held, c.parked),
        (0, 0, 0, 1),
        "{c:?}"
    );
    // A correction whose credit UC rejects: one rejected, one held; re-driven: none.
    correct_after_credit_fault(&env, "9404", Fault::Status(400)).await;
    let c = counts().await;
    assert_eq!((c.pending, c.rejected, c.held), (0, 1, 1), "{c:?}");
    let (r, v) = credit::find(&env.d, None, "9404-C1").await.unwrap();
    redrive::redrive(&env.d, r, v).await.unwrap();
    let c = counts().await;
    assert_eq!((c.pending, c.rejected, c.held), (0, 0, 0), "{c:?}");
}
