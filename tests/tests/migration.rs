//! Type A → B migration (SPEC §12) on every store backend, over real HTTP to the UC stand-in:
//! a session's mode comes from its `timestampEnd` against the cutover whatever the order,
//! repetition or processing time; shadow amounts equal Type B pricing; cancel; refusals;
//! credits of meter-value sessions refused.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use ucc_shared::delivery::credit;
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::delivery::record::PayloadKind;
use ucc_shared::gln::Gln;
use ucc_shared::migration::{self, MigrationError};
use ucc_shared::registry;
use ucc_shared::store::Store;
use ucc_shared::tenant::Mode;
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{NORDLYS, SVEA};
use ucc_tests::property::Backend;

fn svea() -> Gln {
    Gln::parse(SVEA).unwrap()
}

/// Session times are whole seconds: a cutover the sessions can end exactly at.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A Svea session ending at `end`: 4 hours, `wh` Wh, two meter values inside.
fn session_ending(tx: &str, end: DateTime<Utc>, wh: i64) -> Value {
    let start = end - chrono::Duration::hours(4);
    json!({
        "customerId": METER_CUSTOMER, "transactionId": tx, "chargerId": "EMB-1", "socketId": 1,
        "authorizedIdTag": SV_RFID,
        "timestampStart": ts(start), "timestampEnd": ts(end),
        "meterReadStartWh": 1_000_000, "meterReadEndWh": 1_000_000 + wh,
        "meterValues": [
            { "timestamp": ts(start + chrono::Duration::hours(1)), "energyWh": 1_000_000 + wh / 4 },
            { "timestamp": ts(start + chrono::Duration::hours(3)), "energyWh": 1_000_000 + wh * 3 / 4 }
        ]
    })
}

/// Svea Kraft (Type A) given what Type B needs: currency, VAT, time zone, tariffs.
async fn make_svea_priceable(env: &Env, tariff: Value) {
    let (mut cfg, v) = registry::get_versioned(env.store.as_ref(), &svea())
        .await
        .unwrap()
        .unwrap();
    cfg.currency = Some("NOK".into());
    cfg.vat_percent = Some("25".parse().unwrap());
    cfg.time_zone = Some("Europe/Oslo".into());
    cfg.tariffs = vec![tariff];
    cfg.validate().unwrap();
    registry::put_if_version(env.store.as_ref(), &cfg, v)
        .await
        .unwrap();
    env.d.ctx.forget_tenant(&svea());
}

async fn schedule(env: &Env, cutover: DateTime<Utc>) {
    migration::schedule_stored(
        env.store.as_ref(),
        &svea(),
        Mode::CostedTransaction,
        cutover,
        env.d.ctx.now(),
    )
    .await
    .unwrap();
    env.d.ctx.forget_tenant(&svea());
}

fn invoice_ids(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .standin
        .accepted_transactions()
        .iter()
        .filter_map(|t| t["transactionId"].as_str().map(str::to_owned))
        .collect();
    v.sort();
    v
}

fn series_ids(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .standin
        .accepted_meter_series()
        .iter()
        .filter_map(|t| t["TransactionId"].as_str().map(str::to_owned))
        .collect();
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Sessions just before, exactly at and after the cutover, delivered out of order, twice,
/// on two instances, and again (plus a late one) after the cutover has passed: each goes
/// by its end time, once.
async fn sessions_go_by_their_end_time_against_the_cutover(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    make_svea_priceable(&env, tariff()).await;
    let cut = whole_seconds(env.d.ctx.now() + chrono::Duration::days(2));
    schedule(&env, cut).await;
    let before = session_ending("SV-BEFORE", cut - chrono::Duration::seconds(1), 12_345);
    let at = session_ending("SV-AT", cut, 8_000);
    let after = session_ending("SV-AFTER", cut + chrono::Duration::hours(3), 20_500);
    let late = session_ending("SV-LATE", cut - chrono::Duration::hours(5), 4_321);
    let other = env.other_instance();
    // Out of order, each twice, the second time on another instance.
    for s in [&after, &before, &at] {
        assert_eq!(env.send(s).await.outcome, SessionOutcome::Delivered);
        let again = ucc_shared::delivery::intake::handle(
            &other,
            &ucc_shared::contract::InboundMessage::from_body(s.to_string()),
        )
        .await
        .unwrap();
        assert_eq!(again.outcome.name(), "duplicate");
    }
    // The cutover passes; redeliveries and a late session still go by their end time.
    env.clock.advance(Duration::from_secs(3 * 24 * 3600));
    env.d.ctx.forget_tenant(&svea());
    for s in [&at, &before, &after] {
        assert_eq!(env.send(s).await.outcome.name(), "duplicate");
    }
    assert_eq!(env.send(&late).await.outcome, SessionOutcome::Delivered);
    assert_eq!(invoice_ids(&env), strings(&["SV-AFTER", "SV-AT"]));
    assert_eq!(series_ids(&env), strings(&["SV-BEFORE", "SV-LATE"]));
    for (tx, kind, shadow) in [
        ("SV-BEFORE", PayloadKind::MeterValues, true),
        ("SV-LATE", PayloadKind::MeterValues, true),
        ("SV-AT", PayloadKind::InvoiceLine, false),
        ("SV-AFTER", PayloadKind::InvoiceLine, false),
    ] {
        let r = rec_of(env.store.as_ref(), SVEA, tx).await;
        assert_eq!(r.kind, kind, "{tx}");
        assert_eq!(r.shadow.is_some(), shadow, "{tx}");
    }
    // After the cutover the tenant reads costedTransaction with migratedAt.
    let stored = registry::get(env.store.as_ref(), &svea())
        .await
        .unwrap()
        .unwrap();
    let now = migration::as_of(&stored, env.d.ctx.now());
    assert_eq!(now.mode, Mode::CostedTransaction);
    assert_eq!(now.migrated_at, Some(cut));
    let details = ucc_shared::details::details_view(
        env.store.as_ref(),
        &stored,
        false,
        None,
        env.d.ctx.now(),
    )
    .await
    .unwrap();
    assert_eq!(details["mode"], "costedTransaction");
    assert_eq!(details["migration"]["state"], "done");
    // The report: the two Type A sessions, in end-time order, from one range query.
    let shadows = migration::shadows(env.store.as_ref(), &svea(), None)
        .await
        .unwrap();
    let ids: Vec<&str> = shadows.iter().map(|s| s.transaction_id.as_str()).collect();
    assert_eq!(ids, ["SV-LATE", "SV-BEFORE"]);
    let since = migration::shadows(
        env.store.as_ref(),
        &svea(),
        Some(cut - chrono::Duration::hours(1)),
    )
    .await
    .unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].transaction_id, "SV-BEFORE");
    // Shadow amounts are never sent: the meter series has no price, UC no invoice line.
    for m in env.standin.accepted_meter_series() {
        let text = m.to_string();
        assert!(
            !text.contains("totalCost") && !text.contains("currency"),
            "{text}"
        );
    }
    assert!(env.standin.transaction("SV-BEFORE").is_none());
}

/// A cancelled migration: later sessions, wherever they end, stay Type A.
async fn cancel_restores_type_a_for_later_sessions(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    make_svea_priceable(&env, tariff()).await;
    let cut = whole_seconds(env.d.ctx.now() + chrono::Duration::days(2));
    schedule(&env, cut).await;
    migration::cancel_stored(env.store.as_ref(), &svea(), env.d.ctx.now())
        .await
        .unwrap();
    env.d.ctx.forget_tenant(&svea());
    let s = session_ending("SV-X", cut + chrono::Duration::hours(1), 5_000);
    assert_eq!(env.send(&s).await.outcome, SessionOutcome::Delivered);
    assert_eq!(series_ids(&env), strings(&["SV-X"]));
    assert!(invoice_ids(&env).is_empty());
    let r = rec_of(env.store.as_ref(), SVEA, "SV-X").await;
    assert!(r.shadow.is_none(), "no migration, no shadow");
    let cfg = registry::get(env.store.as_ref(), &svea())
        .await
        .unwrap()
        .unwrap();
    assert!(cfg.migration.is_none());
    assert_eq!(cfg.mode, Mode::MeterValue);
}

fn refused_field(r: Result<ucc_shared::tenant::TenantConfig, MigrationError>) -> String {
    match r {
        Err(MigrationError::Refused(e)) => {
            assert_eq!(e.to_string().lines().count(), 1, "{e}");
            e.field
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Each refusal names what is wrong and changes nothing in the store.
async fn refusals_name_the_problem_and_store_nothing(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    let now = env.d.ctx.now();
    let future = now + chrono::Duration::days(2);
    let st = env.store.as_ref();
    let costed = Gln::parse(NORDLYS).unwrap();
    let m = Mode::CostedTransaction;
    // Not Type A.
    let f = refused_field(migration::schedule_stored(st, &costed, m, future, now).await);
    assert_eq!(f, "mode");
    // Svea as the environment has it: no tariffs, currency or VAT for Type B.
    let f = refused_field(migration::schedule_stored(st, &svea(), m, future, now).await);
    assert_eq!(f, "tariffs");
    let untouched = registry::get(st, &svea()).await.unwrap().unwrap();
    assert!(untouched.migration.is_none());
    make_svea_priceable(&env, tariff()).await;
    // The cutover in the past.
    let past = now - chrono::Duration::hours(1);
    let f = refused_field(migration::schedule_stored(st, &svea(), m, past, now).await);
    assert_eq!(f, "cutover");
    // Nothing to cancel.
    let f = refused_field(migration::cancel_stored(st, &svea(), now).await);
    assert_eq!(f, "migration");
    // A cancel after the cutover.
    schedule(&env, future).await;
    env.clock.advance(Duration::from_secs(3 * 24 * 3600));
    let later = env.d.ctx.now();
    let r = migration::cancel_stored(st, &svea(), later).await;
    assert!(
        matches!(&r, Err(MigrationError::Refused(e)) if e.message.contains("has passed")),
        "{r:?}"
    );
    let kept = registry::get(st, &svea()).await.unwrap().unwrap();
    assert_eq!(kept.migration.map(|m| m.cutover), Some(future));
    // Unknown tenant.
    let nobody = Gln::parse("9436465792104").unwrap();
    assert!(matches!(
        migration::schedule_stored(st, &nobody, m, future, now).await,
        Err(MigrationError::UnknownTenant(_))
    ));
}

/// A credit of a session delivered as meter values is refused saying so; a session of the
/// same tenant delivered as a costed transaction credits as before.
async fn credits_after_the_switch(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    make_svea_priceable(&env, tariff()).await;
    let cut = whole_seconds(env.d.ctx.now() + chrono::Duration::days(2));
    schedule(&env, cut).await;
    let a = session_ending("SV-A", cut - chrono::Duration::hours(2), 7_000);
    let b = session_ending("SV-B", cut + chrono::Duration::hours(2), 9_000);
    env.send(&a).await;
    env.send(&b).await;
    env.clock.advance(Duration::from_secs(3 * 24 * 3600));
    let e = credit::credit(&env.d, None, "SV-A", None)
        .await
        .expect_err("a meter-value session is not credited");
    assert!(matches!(e, credit::CreditError::MeterValues(_)));
    let msg = e.to_string();
    assert!(
        msg.contains("delivered as meter values") && msg.contains("Utility Cloud"),
        "{msg}"
    );
    let r = credit::credit(&env.d, None, "SV-B", None).await.unwrap();
    assert_eq!(r.credit.outcome, SessionOutcome::Delivered);
    assert_eq!(
        env.standin.transaction("SV-B-C1").unwrap()["creditReferenceTransactionId"],
        "SV-B"
    );
}

ucc_tests::store_tests!(
    sessions_go_by_their_end_time_against_the_cutover,
    cancel_restores_type_a_for_later_sessions,
    refusals_name_the_problem_and_store_nothing,
    credits_after_the_switch,
);

/// A tariff with a night rate, a step size, a flat fee and a minimum price, from the
/// generated figures (prices in øre).
fn generated_tariff(day: u32, night: u32, flat: u32, step: u32, min: u32) -> Value {
    let nok = |ore: u32| format!("{}.{:02}", ore / 100, ore % 100);
    json!({
        "country_code": "NO", "party_id": "EMB", "id": "TARIFF-GEN", "currency": "NOK",
        "min_price": { "excl_vat": nok(min) },
        "elements": [
            { "price_components": [{ "type": "ENERGY", "price": nok(night), "step_size": step }],
              "restrictions": { "start_time": "22:00", "end_time": "06:00" } },
            { "price_components": [{ "type": "ENERGY", "price": nok(day), "step_size": step },
                                   { "type": "FLAT", "price": nok(flat) }] }
        ],
        "last_updated": "2026-01-01T00:00:00Z"
    })
}

#[derive(Debug, Clone)]
struct Case {
    day: u32,
    night: u32,
    flat: u32,
    step: u32,
    min: u32,
    /// Minutes before the cutover the session ends.
    ends_before_min: i64,
    wh: i64,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        1u32..600,
        1u32..600,
        0u32..2000,
        prop::sample::select(vec![1u32, 100, 1000]),
        0u32..3000,
        1i64..(3 * 24 * 60),
        1i64..120_000,
    )
        .prop_map(|(day, night, flat, step, min, ends_before_min, wh)| Case {
            day,
            night,
            flat,
            step,
            min,
            ends_before_min,
            wh,
        })
}

/// The shadow of a meter-value session equals what Type B pricing of the same session
/// gives (`pricing::price_session` with the tenant's settings), and the report row carries
/// it; UC gets only the meter series.
async fn shadow_equals_type_b_pricing(store: Arc<dyn Store>, c: Case) -> Result<(), String> {
    let env = Env::new(store).await;
    let t = generated_tariff(c.day, c.night, c.flat, c.step, c.min);
    make_svea_priceable(&env, t.clone()).await;
    let cut = whole_seconds(env.d.ctx.now() + chrono::Duration::days(4));
    schedule(&env, cut).await;
    let s = session_ending(
        "SV-P",
        cut - chrono::Duration::minutes(c.ends_before_min),
        c.wh,
    );
    let h = env.send(&s).await;
    if h.outcome != SessionOutcome::Delivered {
        return Err(format!("{h:?}"));
    }
    let r = rec_of(env.store.as_ref(), SVEA, "SV-P").await;
    let shadow = r.shadow.ok_or("no shadow on the record")?;
    let session =
        ucc_shared::session::SessionCompleted::from_value(&s).map_err(|e| e.to_string())?;
    let tariff = ucc_shared::pricing::parse_tariff(&t).map_err(|e| e.to_string())?;
    let settings = ucc_shared::pricing::InvoiceSettings {
        currency: "NOK".into(),
        vat_percent: "25".parse().map_err(|_| "vat")?,
        prices_include_vat: false,
        time_zone: "Europe/Oslo".parse().map_err(|_| "zone")?,
    };
    let q = ucc_shared::pricing::price_session(&session, &tariff, &settings)
        .map_err(|e| e.to_string())?;
    let want = (
        q.invoice.full_consumption_kwh,
        q.invoice.total_cost_excl_vat,
        q.invoice.total_vat,
        q.invoice.total_cost_incl_vat,
        q.tariff_id.clone(),
    );
    let got = (
        shadow.full_consumption_kwh,
        shadow.total_cost_excl_vat,
        shadow.total_vat,
        shadow.total_cost_incl_vat,
        shadow.tariff_id.clone(),
    );
    if want != got {
        return Err(format!("Type B {want:?} != shadow {got:?}"));
    }
    if shadow.total_cost_excl_vat + shadow.total_vat != shadow.total_cost_incl_vat {
        return Err("incl != excl + VAT".into());
    }
    let report = migration::report_of(
        &migration::shadows(env.store.as_ref(), &svea(), None)
            .await
            .map_err(|e| e.to_string())?,
    );
    let row = report.sessions.first().ok_or("no report row")?;
    if row.amounts.total_cost_incl_vat != format!("{:.2}", q.invoice.total_cost_incl_vat) {
        return Err(format!("report {row:?} vs {:?}", q.invoice));
    }
    if !env.standin.accepted_transactions().is_empty() || r.kind != PayloadKind::MeterValues {
        return Err("the shadow was sent".into());
    }
    Ok(())
}

#[test]
fn shadow_amounts_equal_type_b_pricing_embedded() {
    ucc_tests::property::run(24, Backend::Embedded, cases(), |store, c| {
        shadow_equals_type_b_pricing(store, c)
    });
}

#[test]
fn shadow_amounts_equal_type_b_pricing_dynamodb() {
    ucc_tests::property::run(6, Backend::DynamoDb, cases(), |store, c| {
        shadow_equals_type_b_pricing(store, c)
    });
}

#[test]
fn shadow_amounts_equal_type_b_pricing_azuretable() {
    ucc_tests::property::run(6, Backend::AzureTable, cases(), |store, c| {
        shadow_equals_type_b_pricing(store, c)
    });
}
