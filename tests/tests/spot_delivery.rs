//! SPEC §13 end to end on every store: a session on a spot-indexed tariff waits
//! (`awaitingSpotPrices`) until every price and rate it needs is stored, is then priced and
//! delivered exactly once by the retry timer, and a later conflicting re-import never
//! changes the delivered bill. Real HTTP to the UC stand-in; the clock is moved by hand.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::delivery::record::DeliveryState;
use ucc_shared::delivery::spot_wait::AWAITING_SPOT_PRICES;
use ucc_shared::spot::{ecb, parse_a44, store as spot_store};
use ucc_shared::store::Store;
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{event, put_tenant};

const FJORD: &str = "7080010055552";
const FJORD_AP: &str = "707057500099887766";
const FJORD_RFID: &str = "FJ-77AA-0101";
const TX: &str = "FJ-2026-10-25-001";
const A44: &str = include_str!("../../examples/nordlys/spot/a44-2026-10-25.xml");
const ECB: &str = include_str!("../../examples/nordlys/spot/ecb-2026-10-23.xml");
const SESSION: &str =
    include_str!("../../examples/nordlys/spot/session-eirik-fall-back-night.json");
const RECHECK: Duration = Duration::from_secs(16 * 60);

ucc_tests::store_tests!(
    spot_session_waits_for_prices_then_is_delivered_once_and_stays_billed,
    the_ecb_rate_is_the_latest_dated_strictly_before_the_delivery_day,
    a_migrating_tenant_prices_spot_sessions_by_their_end_time,
    a_stale_instance_cannot_reprice_a_session_already_priced,
);

async fn the_ecb_rate_is_the_latest_dated_strictly_before_the_delivery_day(store: Arc<dyn Store>) {
    let rate = |d: &str, r: &str| ecb::EcbRate {
        date: chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
        currency: "NOK".into(),
        rate: r.parse().unwrap(),
    };
    // Friday and the Monday of the delivery day itself; nothing on the weekend.
    spot_store::put_rates(
        store.as_ref(),
        &[
            rate("2026-10-22", "11.70"),
            rate("2026-10-23", "11.7250"),
            rate("2026-10-26", "11.99"),
        ],
    )
    .await
    .unwrap();
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    let got = |d: &'static str| {
        let store = store.clone();
        async move {
            spot_store::rate_for_day(store.as_ref(), "NOK", day(d))
                .await
                .unwrap()
                .map(|(d, r)| (d.to_string(), r.to_string()))
        }
    };
    let want = |d: &str, r: &str| Some((d.to_owned(), r.to_owned()));
    assert_eq!(got("2026-10-24").await, want("2026-10-23", "11.7250"));
    assert_eq!(
        got("2026-10-26").await,
        want("2026-10-23", "11.7250"),
        "not the same day's rate"
    );
    assert_eq!(got("2026-10-27").await, want("2026-10-26", "11.99"));
    assert_eq!(got("2026-10-23").await, want("2026-10-22", "11.70"));
    assert_eq!(got("2026-10-22").await, None);
    // A rate stored unreadable (a hand edit, a half-migrated item) is an error, never a
    // silent fall back to the day before: that would price the whole day at the wrong rate.
    let broken = ucc_shared::store::Item::new(
        ucc_shared::store::Key::new(spot_store::rate_pk("NOK"), "2026-10-27"),
        "{\"rate\": \"not a number\"}".into(),
        1,
    );
    store
        .put(broken, ucc_shared::store::Condition::Always)
        .await
        .unwrap();
    let err = spot_store::rate_for_day(store.as_ref(), "NOK", day("2026-10-28")).await;
    assert!(
        matches!(&err, Err(e) if e.to_string().contains("2026-10-27")),
        "{err:?}"
    );
    // EUR needs no rate.
    let eur = spot_store::rate_for_day(store.as_ref(), "EUR", day("2020-01-01"))
        .await
        .unwrap();
    assert_eq!(eur.map(|(_, r)| r), Some(rust_decimal::Decimal::ONE));
}

async fn fjord_tenant(env: &Env) {
    fjord_tenant_with(env, |_| {}).await;
}

async fn fjord_tenant_with(env: &Env, change: impl FnOnce(&mut Value)) {
    let mut t: Value = serde_json::from_str(include_str!(
        "../../examples/nordlys/spot/tenant-fjordlys-spot.json"
    ))
    .unwrap();
    t["uc"]["baseUrl"] = json!(env.standin.base_url());
    t["uc"]["tokenUrl"] = json!(env.standin.token_url());
    t["uc"]["clientId"] = json!(env.standin.client_id());
    t["uc"]["clientSecretRef"] = json!(format!("file:{}", env.secret_file.display()));
    change(&mut t);
    put_tenant(env.store.as_ref(), &t).await;
    env.contract(event(
        FJORD,
        "ContractActivated",
        "act-fj",
        "2026-10-20T09:00:00Z",
        FJORD_AP,
        json!({"Rfid": FJORD_RFID}),
    ))
    .await;
}

fn posts_of(env: &Env) -> usize {
    env.standin
        .accepted_transactions()
        .iter()
        .filter(|t| t["transactionId"] == json!(TX))
        .count()
}

async fn spot_session_waits_for_prices_then_is_delivered_once_and_stays_billed(
    store: Arc<dyn Store>,
) {
    let env = Env::new(store.clone()).await;
    fjord_tenant(&env).await;
    let session: Value = serde_json::from_str(SESSION).unwrap();

    // No prices at all: waits, nothing posted, visible with its reason.
    let h = env.send(&session).await;
    assert_eq!(
        h.outcome,
        SessionOutcome::Pending {
            reason: AWAITING_SPOT_PRICES.into()
        }
    );
    let r = rec_of(store.as_ref(), FJORD, TX).await;
    assert_eq!(r.state, DeliveryState::Pending);
    assert_eq!(r.awaiting.as_deref(), Some(AWAITING_SPOT_PRICES));
    assert!(
        r.last_result
            .as_deref()
            .unwrap_or_default()
            .contains("NO1 interval 2026-10-24T23:30Z"),
        "{:?}",
        r.last_result
    );
    assert_eq!(posts_of(&env), 0);

    // The day-ahead prices but no ECB rate yet: half of what it needs, still waits.
    let doc = parse_a44(A44).unwrap();
    spot_store::put_document(store.as_ref(), &doc, chrono::Utc::now())
        .await
        .unwrap();
    env.sweep_after(RECHECK).await;
    let r = rec_of(store.as_ref(), FJORD, TX).await;
    assert_eq!(r.state, DeliveryState::Pending);
    assert_eq!(r.awaiting.as_deref(), Some(AWAITING_SPOT_PRICES));
    assert!(r
        .last_result
        .as_deref()
        .unwrap_or_default()
        .contains("EUR→NOK"));
    assert_eq!(posts_of(&env), 0, "never priced with half the prices");

    // A redelivered event while it waits is a duplicate, not a second record.
    let again = env.send(&session).await;
    assert!(
        matches!(again.outcome, SessionOutcome::Duplicate { .. }),
        "{:?}",
        again.outcome
    );

    // The rates arrive: the next sweep prices and delivers it, once.
    spot_store::put_rates(store.as_ref(), &ecb::parse_ecb(ECB).unwrap())
        .await
        .unwrap();
    env.sweep_after(RECHECK).await;
    let r = rec_of(store.as_ref(), FJORD, TX).await;
    assert_eq!(r.state, DeliveryState::Delivered, "{:?}", r.last_result);
    assert_eq!(r.awaiting, None);
    let got = env.standin.transaction(TX).expect("UC has it");
    // The amounts `ucc price --explain` shows for this session (README): 14.500 kWh over
    // the fall-back night, NO1 quarter-hour prices × 11.7250 NOK/EUR + 0.12 markup.
    assert_eq!(got["fullConsumptionKWh"].to_string(), "14.500");
    assert_eq!(got["totalCostExclVat"].to_string(), "4.97");
    assert_eq!(got["totalVat"].to_string(), "1.24");
    assert_eq!(got["totalCostInclVat"].to_string(), "6.21");
    assert_eq!(got["transactionOwnerId"], json!(FJORD_AP));
    assert_eq!(posts_of(&env), 1);

    // A conflicting re-import (every price gets one more digit) replaces the stored intervals but
    // never changes the delivered bill, and nothing is posted again.
    let bumped = A44.replace("</price.amount>", "7</price.amount>");
    let doc2 = parse_a44(&bumped).unwrap();
    spot_store::put_document(store.as_ref(), &doc2, chrono::Utc::now())
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    let shown = spot_store::day_report(store.as_ref(), ucc_shared::spot::Area::No1, day)
        .await
        .unwrap();
    assert_eq!(
        shown.intervals[0].eur_mwh, "42.107",
        "the re-import replaced the interval"
    );
    env.sweep_after(RECHECK).await;
    env.send(&session).await;
    env.sweep_after(RECHECK).await;
    let after = rec_of(store.as_ref(), FJORD, TX).await;
    assert_eq!(after.payload, r.payload);
    assert_eq!(after.state, DeliveryState::Delivered);
    assert_eq!(posts_of(&env), 1);
    assert_eq!(env.standin.duplicate_posts(), 0);
    assert_eq!(env.standin.schema_violations(), Vec::<String>::new());
}

/// SPEC §12 × §13: a meter-value tenant migrating to a spot-indexed tariff. A session ending
/// after the cutover is billed at spot (its prices are looked up although the stored mode is
/// still meterValue), and one ending before it goes as meter values with its shadow priced
/// at spot too.
async fn a_migrating_tenant_prices_spot_sessions_by_their_end_time(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let session: Value = serde_json::from_str(SESSION).unwrap();
    let end: chrono::DateTime<chrono::Utc> =
        session["timestampEnd"].as_str().unwrap().parse().unwrap();
    let migrating = |cutover: chrono::DateTime<chrono::Utc>| {
        move |t: &mut Value| {
            t["mode"] = json!("meterValue");
            t["meterValueResolution"] = json!("PT15M");
            t["migration"] = json!({
                "to": "costedTransaction",
                "cutover": cutover.to_rfc3339(),
                "scheduledAt": "2026-09-01T00:00:00Z",
            });
        }
    };
    spot_store::put_document(store.as_ref(), &parse_a44(A44).unwrap(), chrono::Utc::now())
        .await
        .unwrap();
    spot_store::put_rates(store.as_ref(), &ecb::parse_ecb(ECB).unwrap())
        .await
        .unwrap();

    // Cutover before the session's end: an invoice line at spot, at once.
    fjord_tenant_with(&env, migrating(end - chrono::TimeDelta::hours(12))).await;
    let h = env.send(&session).await;
    assert_eq!(h.outcome, SessionOutcome::Delivered);
    assert_eq!(posts_of(&env), 1);

    // Cutover after the end (another session id): meter values, with a priced shadow.
    fjord_tenant_with(&env, migrating(end + chrono::TimeDelta::hours(12))).await;
    env.d
        .ctx
        .forget_tenant(&ucc_shared::gln::Gln::parse(FJORD).unwrap());
    let mut second = session.clone();
    second["transactionId"] = json!("FJ-2026-10-25-002");
    let h = env.send(&second).await;
    assert_eq!(h.outcome, SessionOutcome::Delivered);
    let r = rec_of(store.as_ref(), FJORD, "FJ-2026-10-25-002").await;
    let shadow = r
        .shadow
        .expect("a shadow priced with the stored spot prices");
    assert!(
        shadow.total_cost_incl_vat > rust_decimal::Decimal::ZERO,
        "{shadow:?}"
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(env.standin.accepted_meter_series().len(), 1);
}

/// The priced payload is written only over the version that was read: an instance whose
/// lease ran out mid-reprice (so it holds a stale version) cannot overwrite the bill.
async fn a_stale_instance_cannot_reprice_a_session_already_priced(store: Arc<dyn Store>) {
    use ucc_shared::delivery::spot_wait::{reprice, Reprice};
    let env = Env::new(store.clone()).await;
    fjord_tenant(&env).await;
    let session: Value = serde_json::from_str(SESSION).unwrap();
    env.send(&session).await;
    spot_store::put_document(store.as_ref(), &parse_a44(A44).unwrap(), chrono::Utc::now())
        .await
        .unwrap();
    spot_store::put_rates(store.as_ref(), &ecb::parse_ecb(ECB).unwrap())
        .await
        .unwrap();
    let gln = ucc_shared::gln::Gln::parse(FJORD).unwrap();
    let cfg = env.d.ctx.tenant(&gln).await.unwrap().unwrap();
    let (waiting, v) = ucc_shared::delivery::credit::find(&env.d, None, TX)
        .await
        .unwrap();
    let first = reprice(&env.d, &cfg, waiting.clone(), v).await.unwrap();
    let Reprice::Priced { record: priced, .. } = first else {
        panic!("the first instance did not price it");
    };
    let second = reprice(&env.d, &cfg, waiting, v).await.unwrap();
    assert!(
        matches!(second, Reprice::Lost),
        "a stale version priced it again"
    );
    assert_eq!(
        rec_of(store.as_ref(), FJORD, TX).await.payload,
        priced.payload
    );
}
