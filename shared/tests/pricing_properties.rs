//! Properties of the engine on generated sessions (meter values derived and split).

mod support;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use ucc_shared::pricing::{parse_tariff, price_session, InvoiceSettings, Tariff};
use ucc_shared::session::SessionCompleted;

const TIMES: &[&str] = &["00:00", "06:00", "07:30", "17:00", "20:00", "22:00"];
const DAYS: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
const PRICES: &[&str] = &["0", "0.25", "1", "2.40", "3.333"];
const ALL_STEPS: &[u64] = &[0, 1, 60, 300, 900];
const VATS: &[Option<&str>] = &[None, Some("0"), Some("25")];

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

fn num(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// Elements over `dims`; `kwh_and_power` allows restrictions that depend on energy volume.
fn tariff_strategy(
    dims: &'static [&'static str],
    kwh_and_power: bool,
    limits: bool,
    steps: &'static [u64],
) -> impl Strategy<Value = Value> {
    let element = (
        prop::sample::subsequence(dims, 1..=dims.len().min(3)),
        prop::sample::select(PRICES),
        prop::sample::select(VATS),
        prop::sample::select(steps),
        prop::option::weighted(
            0.4,
            (prop::sample::select(TIMES), prop::sample::select(TIMES)),
        ),
        prop::option::weighted(0.2, prop::sample::subsequence(DAYS, 1..=6)),
        prop::option::weighted(0.3, (1u32..20, 1u32..300)),
    )
        .prop_map(move |(ds, price, vat, step, time, days, thresholds)| {
            let comps: Vec<Value> = ds
                .iter()
                .map(|d| {
                    let mut c = json!({"type": d, "price": num(price), "step_size": step});
                    if let Some(v) = vat {
                        c["vat"] = num(v);
                    }
                    c
                })
                .collect();
            let mut r = serde_json::Map::new();
            if let Some((s, e)) = time {
                r.insert("start_time".into(), json!(s));
                r.insert("end_time".into(), json!(e));
            }
            if let Some(d) = days {
                r.insert("day_of_week".into(), json!(d));
            }
            if let Some((kwh, minutes)) = thresholds {
                r.insert("max_duration".into(), json!(minutes * 60));
                if kwh_and_power {
                    r.insert("min_kwh".into(), json!(kwh));
                    r.insert("max_power".into(), json!(kwh * 2));
                }
            }
            json!({"price_components": comps, "restrictions": r})
        });
    (
        prop::collection::vec(element, 1..=4),
        prop::option::of((0u32..5, 5u32..50)),
    )
        .prop_map(move |(elements, lim)| {
            let mut t = json!({"id": "P", "currency": "NOK", "elements": elements});
            if let (true, Some((lo, hi))) = (limits, lim) {
                t["min_price"] = json!({"excl_vat": lo});
                t["max_price"] = json!({"excl_vat": hi, "incl_vat": hi + 3});
            }
            t
        })
}

#[derive(Debug, Clone)]
struct GenSession {
    start: DateTime<Utc>,
    /// (seconds since previous point, Wh added)
    steps: Vec<(u32, u32)>,
}

fn session_strategy() -> impl Strategy<Value = GenSession> {
    (
        prop_oneof![
            support::minutes_after((2026, 1, 1, 0), 365 * 24 * 60),
            support::minutes_after((2026, 3, 28, 12), 2 * 24 * 60),
            support::minutes_after((2026, 10, 24, 12), 2 * 24 * 60),
        ],
        prop::collection::vec(
            (
                (3u32..720).prop_map(|k| k * 20),
                prop_oneof![Just(0u32), 0u32..20_000],
            ),
            1..=8,
        ),
    )
        .prop_map(|(start, steps)| GenSession { start, steps })
}

fn to_event(g: &GenSession, extra_wh_at_end: u32) -> Value {
    let base = 5_000_000u64;
    let mut t = g.start;
    let mut wh = base;
    let mut mvs = Vec::new();
    for (i, (secs, add)) in g.steps.iter().enumerate() {
        t += Duration::seconds(i64::from(*secs));
        wh += u64::from(*add);
        if i + 1 == g.steps.len() {
            wh += u64::from(extra_wh_at_end);
        } else {
            mvs.push(json!({"timestamp": t.to_rfc3339(), "energyWh": wh}));
        }
    }
    json!({
        "customerId": "c", "transactionId": "1", "authorizedIdTag": "v:1",
        "timestampStart": g.start.to_rfc3339(), "timestampEnd": t.to_rfc3339(),
        "meterReadStartWh": base, "meterReadEndWh": wh, "meterValues": mvs
    })
}

fn settings(incl: bool) -> InvoiceSettings {
    InvoiceSettings {
        prices_include_vat: incl,
        ..InvoiceSettings::default()
    }
}

fn parse(t: &Value) -> Result<Tariff, TestCaseError> {
    parse_tariff(t).map_err(|e| TestCaseError::fail(e.to_string()))
}

fn sess(v: &Value) -> Result<SessionCompleted, TestCaseError> {
    SessionCompleted::from_value(v).map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn invoice_incl_is_excl_plus_vat(
        t in tariff_strategy(&["ENERGY", "TIME", "PARKING_TIME", "FLAT"], true, true, ALL_STEPS),
        g in session_strategy(),
        incl in any::<bool>(),
        vat in prop::sample::select(&["0", "12", "25", "25.5"][..]),
    ) {
        let tariff = parse(&t)?;
        let s = sess(&to_event(&g, 0))?;
        let mut st = settings(incl);
        st.vat_percent = vat.parse().unwrap_or_default();
        let priced = price_session(&s, &tariff, &st);
        if incl && ucc_shared::pricing::component_vat_path(&tariff).is_some() {
            // Gross prices plus a component VAT would charge VAT twice: always refused.
            prop_assert!(
                matches!(priced, Err(ucc_shared::pricing::PricingError::VatTwice { .. })),
                "{:?}",
                priced
            );
            return Ok(());
        }
        let q = priced.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = &q.invoice;
        prop_assert_eq!(i.total_cost_excl_vat + i.total_vat, i.total_cost_incl_vat);
        prop_assert!(i.total_cost_excl_vat.scale() <= 2 && i.total_vat.scale() <= 2);
        prop_assert!(i.total_vat >= Decimal::ZERO);
    }

    #[test]
    fn period_costs_sum_to_the_pre_clamp_total(
        t in tariff_strategy(&["ENERGY", "TIME", "PARKING_TIME", "FLAT"], true, true, ALL_STEPS),
        g in session_strategy(),
    ) {
        let q = price_session(&sess(&to_event(&g, 0))?, &parse(&t)?, &settings(false)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let sum = q.ocpi.periods.iter().fold(ucc_shared::pricing::Amount::ZERO, |a, p| a + p.cost());
        // Equal up to the last of rust_decimal's 28 digits (sums taken in different orders).
        let r20 = |a: ucc_shared::pricing::Amount| (a.excl_vat.round_dp(20), a.incl_vat.round_dp(20));
        prop_assert_eq!(r20(sum), r20(q.ocpi.total_cost_before_limits));
        let r = &q.ocpi;
        prop_assert_eq!(r20(r.total_energy_cost + r.total_time_cost + r.total_parking_cost + r.total_fixed_cost), r20(r.total_cost_before_limits));
    }

    #[test]
    fn energy_only_tariffs_are_monotone_in_energy(
        // Step sizes are left out on purpose: the rounded-up extra is billed at the *last*
        // period's price, so more energy in a cheaper earlier piece can shrink an extra billed
        // at a dearer price. That follows from OCPI's step rule, not from the engine.
        t in tariff_strategy(&["ENERGY"], false, false, &[0, 1]),
        g in session_strategy(),
        extra in 1u32..50_000,
    ) {
        let tariff = parse(&t)?;
        let a = price_session(&sess(&to_event(&g, 0))?, &tariff, &settings(false)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = price_session(&sess(&to_event(&g, extra))?, &tariff, &settings(false)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(b.ocpi.total_cost.excl_vat >= a.ocpi.total_cost.excl_vat, "{} < {}", b.ocpi.total_cost.excl_vat, a.ocpi.total_cost.excl_vat);
    }

    #[test]
    fn splitting_where_nothing_changes_keeps_the_total(
        t in tariff_strategy(&["ENERGY", "TIME", "PARKING_TIME", "FLAT"], true, true, ALL_STEPS),
        g in session_strategy(),
        which in any::<prop::sample::Index>(),
        parts in prop::sample::select(&[2u32, 4, 5][..]),
    ) {
        // (compared to 8 decimals: a kWh cut found by interpolation may move by a nanosecond)
        // An extra meter reading exactly on the straight line between two readings changes no
        // rate and no restriction outcome (power stays the interval average), so the priced
        // total must not move.
        let tariff = parse(&t)?;
        let base = to_event(&g, 0);
        let whole = price_session(&sess(&base)?, &tariff, &settings(false)).map_err(|e| TestCaseError::fail(e.to_string()))?;

        let i = which.index(g.steps.len());
        let mut t0 = g.start;
        let mut wh0 = Decimal::from(5_000_000u64);
        for (secs, add) in &g.steps[..i] {
            t0 += Duration::seconds(i64::from(*secs));
            wh0 += Decimal::from(*add);
        }
        let (secs, add) = g.steps[i];
        // interval lengths are multiples of 20 s, so the cut lands on a whole second
        let secs_part = i64::from(secs) / i64::from(parts);
        let at = t0 + Duration::seconds(secs_part);
        let wh = wh0 + Decimal::from(add) / Decimal::from(parts);
        let mut split = base.clone();
        if let Some(mv) = split["meterValues"].as_array_mut() {
            mv.push(json!({"timestamp": at.to_rfc3339(), "energyWh": num(&wh.to_string())}));
            mv.sort_by_key(|v| v["timestamp"].as_str().unwrap_or_default().to_owned());
        }
        let parted = price_session(&sess(&split)?, &tariff, &settings(false)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let d = |x: Decimal| x.round_dp(8);
        prop_assert_eq!(d(whole.ocpi.total_cost.excl_vat), d(parted.ocpi.total_cost.excl_vat));
        prop_assert_eq!(d(whole.ocpi.total_cost.incl_vat), d(parted.ocpi.total_cost.incl_vat));
    }
}
