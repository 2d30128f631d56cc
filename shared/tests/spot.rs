//! SPEC §13: ENTSO-E A44 parsing, delivery days, and spot-indexed pricing (pure: prices are
//! given as a `SpotPrices` map, as the store's `fetch` builds it).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use ucc_shared::delivery::meter_series::{build_meter_series, cut_energy, Resolution};
use ucc_shared::pricing::{
    parse_tariff, price_session, price_session_with_spot, InvoiceSettings, PricingError, Tariff,
};
use ucc_shared::session::SessionCompleted;
use ucc_shared::spot::{self, parse_a44, Area, SpotMissing, SpotPrices};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

const EXAMPLE: &str = include_str!("../../examples/nordlys/spot/a44-2026-10-25.xml");

fn a44(series: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<Publication_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3">
  <mRID>doc-1</mRID><revisionNumber>1</revisionNumber><type>A44</type>
  <createdDateTime>2026-01-04T12:00:00Z</createdDateTime>
  {series}
</Publication_MarketDocument>"#
    )
}

fn series(
    eic: &str,
    curve: &str,
    start: &str,
    end: &str,
    res: &str,
    points: &[(u32, &str)],
) -> String {
    let pts: String = points
        .iter()
        .map(|(p, a)| {
            format!("<Point><position>{p}</position><price.amount>{a}</price.amount></Point>")
        })
        .collect();
    format!(
        r#"<TimeSeries><mRID>1</mRID><in_Domain.mRID codingScheme="A01">{eic}</in_Domain.mRID>
<out_Domain.mRID codingScheme="A01">{eic}</out_Domain.mRID><currency_Unit.name>EUR</currency_Unit.name>
<price_Measure_Unit.name>MWH</price_Measure_Unit.name><curveType>{curve}</curveType>
<Period><timeInterval><start>{start}</start><end>{end}</end></timeInterval><resolution>{res}</resolution>{pts}</Period></TimeSeries>"#
    )
}

#[test]
fn a03_repeats_omitted_positions_also_after_the_last_point() -> Res<()> {
    let x = a44(&series(
        "10YNO-1--------2",
        "A03",
        "2026-01-04T23:00Z",
        "2026-01-05T01:00Z",
        "PT15M",
        &[(1, "10.5"), (3, "-3.25"), (4, "7")],
    ));
    let d = parse_a44(&x)?;
    let got: Vec<(String, Decimal)> = d
        .intervals
        .iter()
        .map(|i| (i.start.format("%H:%M").to_string(), i.eur_mwh))
        .collect();
    let want = [
        ("23:00", dec!(10.5)),
        ("23:15", dec!(10.5)),
        ("23:30", dec!(-3.25)),
        ("23:45", dec!(7)),
        ("00:00", dec!(7)),
        ("00:15", dec!(7)),
        ("00:30", dec!(7)),
        ("00:45", dec!(7)),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(a, b)| (a.to_string(), *b))
            .collect::<Vec<_>>()
    );
    assert!(d.intervals.iter().all(|i| i.area == Area::No1));
    Ok(())
}

#[test]
fn pt60m_positions_become_four_quarters_with_exact_decimals() -> Res<()> {
    let x = a44(&series(
        "10Y1001A1001A46L",
        "A01",
        "2026-01-04T23:00Z",
        "2026-01-05T01:00Z",
        "PT60M",
        &[(1, "45.678"), (2, "-0.01")],
    ));
    let d = parse_a44(&x)?;
    assert_eq!(d.intervals.len(), 8);
    assert_eq!(d.intervals[3].eur_mwh.to_string(), "45.678");
    assert_eq!(d.intervals[4].eur_mwh, dec!(-0.01));
    assert_eq!(d.intervals[4].start, at("2026-01-05T00:00:00Z"));
    assert!(d
        .intervals
        .iter()
        .all(|i| i.area == Area::Se3 && i.resolution == "PT60M"));
    Ok(())
}

#[test]
fn the_dst_example_document_has_100_quarters_for_no1_and_se3() -> Res<()> {
    let d = parse_a44(EXAMPLE)?;
    for area in [Area::No1, Area::Se3] {
        let n = d.intervals.iter().filter(|i| i.area == area).count();
        assert_eq!(n, 100, "{area}");
    }
    assert_eq!(spot::day_quarters(day("2026-10-25")).len(), 100);
    assert_eq!(spot::day_quarters(day("2026-03-29")).len(), 92);
    assert_eq!(spot::day_quarters(day("2026-10-26")).len(), 96);
    Ok(())
}

#[test]
fn malformed_documents_are_refused_naming_the_element() {
    let cases = [
        (
            a44(&series(
                "10YNO-1--------2",
                "A03",
                "2026-01-04T23:00Z",
                "2026-01-05T00:00Z",
                "PT15M",
                &[(1, "abc")],
            )),
            "TimeSeries[1]/Period[1]/Point[1]/price.amount",
        ),
        (
            a44(&series(
                "10YXX-1--------2",
                "A03",
                "2026-01-04T23:00Z",
                "2026-01-05T00:00Z",
                "PT15M",
                &[(1, "1")],
            )),
            "TimeSeries[1]/in_Domain.mRID",
        ),
        (
            a44(&series(
                "10YNO-1--------2",
                "A03",
                "2026-01-04T23:00Z",
                "2026-01-05T00:00Z",
                "PT30M",
                &[(1, "1")],
            )),
            "TimeSeries[1]/Period[1]/resolution",
        ),
        (
            a44(&series(
                "10YNO-1--------2",
                "A03",
                "2026-01-04T23:00Z",
                "2026-01-05T00:00Z",
                "PT15M",
                &[(5, "1")],
            )),
            "Point[1]/position",
        ),
        (
            a44(&series(
                "10YNO-1--------2",
                "A01",
                "2026-01-04T23:00Z",
                "2026-01-05T00:00Z",
                "PT15M",
                &[(1, "1"), (3, "2")],
            )),
            "TimeSeries[1]/Period[1]/Point",
        ),
        (
            a44(&series(
                "10YNO-1--------2",
                "A03",
                "2026-01-04T23:00Z",
                "2026-01-05T00:00Z",
                "PT15M",
                &[(2, "1")],
            )),
            "TimeSeries[1]/Period[1]/Point",
        ),
        (
            a44(&series(
                "10YNO-1--------2",
                "A03",
                "2026-01-04 23:00",
                "2026-01-05T00:00Z",
                "PT15M",
                &[(1, "1")],
            )),
            "timeInterval/start",
        ),
        (a44(""), "Publication_MarketDocument/TimeSeries"),
        (
            "<Acknowledgement_MarketDocument/>".to_owned(),
            "Acknowledgement_MarketDocument",
        ),
        (
            "<Publication_MarketDocument><mRID>x</mRID><type>A44</type".to_owned(),
            "document",
        ),
    ];
    for (xml, element) in cases {
        match parse_a44(&xml) {
            Ok(d) => panic!("accepted, expected a refusal naming {element}: {d:?}"),
            Err(e) => assert!(
                e.to_string().contains(element),
                "{e} does not name {element}"
            ),
        }
    }
}

fn tariff(markup: &str, extra: Value) -> Res<Tariff> {
    let mut elements = vec![json!({"price_components": [
        {"type": "ENERGY", "price": markup, "step_size": 1, "spot": {"area": "NO1"}}
    ]})];
    if let Value::Array(more) = extra {
        elements.splice(0..0, more);
    }
    Ok(parse_tariff(
        &json!({"id": "SPOT", "currency": "NOK", "elements": elements}),
    )?)
}

fn session(
    start: &str,
    end: &str,
    total_wh: i64,
    readings: &[(&str, i64)],
) -> Res<SessionCompleted> {
    let base = 5_000_000i64;
    let mv: Vec<Value> = readings
        .iter()
        .map(|(t, wh)| json!({"timestamp": t, "energyWh": base + wh}))
        .collect();
    Ok(SessionCompleted::from_value(&json!({
        "customerId": "c", "transactionId": "t1", "authorizedIdTag": "v:1",
        "timestampStart": start, "timestampEnd": end,
        "meterReadStartWh": base, "meterReadEndWh": base + total_wh, "meterValues": mv
    }))?)
}

/// Prices for every quarter of [from, to) from `f(quarter index)`, and NOK rates.
fn prices(from: &str, to: &str, f: impl Fn(usize) -> Decimal, nok: Decimal) -> SpotPrices {
    let mut p = SpotPrices::default();
    for (i, q) in spot::quarters_between(at(from), at(to))
        .into_iter()
        .enumerate()
    {
        p.prices.insert((Area::No1, q), f(i));
        p.rates.insert(("NOK".into(), spot::delivery_day(q)), nok);
    }
    p
}

fn settings() -> InvoiceSettings {
    InvoiceSettings {
        currency: "NOK".into(),
        vat_percent: dec!(25),
        prices_include_vat: false,
        time_zone: chrono_tz::Europe::Oslo,
    }
}

#[test]
fn a_session_over_midnight_and_the_fall_back_hour_is_priced_per_quarter() -> Res<()> {
    // 2026-10-24 23:50 CEST .. 2026-10-25 02:20 CET (the repeated hour inside), 10 kWh evenly.
    let s = session("2026-10-24T21:50:00Z", "2026-10-25T01:20:00Z", 10_000, &[])?;
    let t = tariff("0.10", Value::Null)?;
    // negative prices in the repeated hour (00:00Z-01:00Z is 02:00-03:00 CEST)
    let p = prices(
        "2026-10-24T21:45:00Z",
        "2026-10-25T01:30:00Z",
        |i| {
            if (9..13).contains(&i) {
                dec!(-20.5)
            } else {
                dec!(40) + Decimal::from(i)
            }
        },
        dec!(11.7250),
    );
    let q = price_session_with_spot(&s, &t, &settings(), &p)?;
    let periods = &q.ocpi.periods;
    // 21:50-22:00Z, thirteen whole quarters, 01:15-01:20Z: cut at every quarter-hour
    assert_eq!(periods.len(), 15);
    // every period inside one quarter-hour, carrying its price
    for per in periods {
        let l = per
            .line(ucc_shared::pricing::Dimension::Energy)
            .ok_or("energy line")?;
        let quote = l.spot.ok_or("spot quote")?;
        assert_eq!(spot::quarter_of(per.start), quote.interval_start);
        assert!(per.end <= quote.interval_start + TimeDelta::minutes(15));
    }
    let kwh: Decimal = periods
        .iter()
        .filter_map(|p| p.line(ucc_shared::pricing::Dimension::Energy))
        .map(|l| l.volume)
        .sum();
    assert_eq!(kwh, dec!(10));
    assert!(q.ocpi.periods.iter().any(|p| p
        .line(ucc_shared::pricing::Dimension::Energy)
        .and_then(|l| l.spot)
        .is_some_and(|s| s.eur_mwh < Decimal::ZERO)));
    Ok(())
}

#[test]
fn conversion_is_exact_eur_mwh_times_rate_over_1000() -> Res<()> {
    // one quarter, 1 kWh: cost = 1 × (0.12 + 45.67 × 11.7250 / 1000) exactly
    let s = session("2026-01-05T10:00:00Z", "2026-01-05T10:15:00Z", 1000, &[])?;
    let t = tariff("0.12", Value::Null)?;
    let p = prices(
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:15:00Z",
        |_| dec!(45.67),
        dec!(11.7250),
    );
    let q = price_session_with_spot(&s, &t, &settings(), &p)?;
    assert_eq!(
        q.ocpi.total_energy_cost.excl_vat,
        dec!(0.12) + dec!(0.535480750)
    );
    assert_eq!(q.invoice.total_cost_excl_vat, dec!(0.66));
    Ok(())
}

#[test]
fn a_missing_price_or_rate_names_the_first_missing_interval_and_prices_nothing() -> Res<()> {
    let s = session("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z", 4000, &[])?;
    let t = tariff("0.12", Value::Null)?;
    let mut p = prices(
        "2026-01-05T10:00:00Z",
        "2026-01-05T11:00:00Z",
        |_| dec!(50),
        dec!(11.7),
    );
    p.prices.remove(&(Area::No1, at("2026-01-05T10:30:00Z")));
    match price_session_with_spot(&s, &t, &settings(), &p) {
        Err(PricingError::SpotMissing(SpotMissing::Price { area, start })) => {
            assert_eq!((area, start), (Area::No1, at("2026-01-05T10:30:00Z")));
        }
        other => panic!("expected a missing price, got {other:?}"),
    }
    let mut p = prices(
        "2026-01-05T10:00:00Z",
        "2026-01-05T11:00:00Z",
        |_| dec!(50),
        dec!(11.7),
    );
    p.rates.clear();
    assert!(matches!(
        price_session_with_spot(&s, &t, &settings(), &p),
        Err(PricingError::SpotMissing(SpotMissing::Rate { .. }))
    ));
    // without prices at all, the plain entry point refuses instead of billing the markup alone
    assert!(matches!(
        price_session(&s, &t, &settings()),
        Err(PricingError::SpotMissing(_))
    ));
    Ok(())
}

#[test]
fn spot_tariffs_are_validated_naming_the_field() {
    let bad = [
        (
            json!({"type": "TIME", "price": 1, "step_size": 1, "spot": {"area": "NO1"}}),
            "spot",
        ),
        (
            json!({"type": "ENERGY", "price": 1, "step_size": 1, "spot": {"area": "NO9"}}),
            "spot.area",
        ),
        (
            json!({"type": "ENERGY", "price": 1, "step_size": 1, "spot": {"zone": "NO1"}}),
            "spot",
        ),
    ];
    for (c, field) in bad {
        let e = parse_tariff(
            &json!({"id": "x", "currency": "NOK", "elements": [{"price_components": [c]}]}),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains(field), "{e} should name {field}");
    }
}

#[test]
fn the_cut_is_shared_with_the_type_a_series() -> Res<()> {
    let s = session(
        "2026-10-25T00:07:00Z",
        "2026-10-25T02:52:30Z",
        17_333,
        &[("2026-10-25T01:01:00Z", 9_001)],
    )?;
    let series = build_meter_series(&s, "ap", Resolution::PT15M);
    let cut = cut_energy(&s, Resolution::PT15M);
    let a: Vec<Decimal> = series.values.iter().map(|v| v.quantity).collect();
    let b: Vec<Decimal> = cut.intervals.iter().map(|i| i.2).collect();
    assert_eq!(a, b);
    Ok(())
}

/// Independent model: energy per quarter by linear interpolation on the readings, done here
/// in whole Wh with integer arithmetic; price per quarter from its own table.
fn model_cost(
    start: i64,
    end: i64,
    points: &[(i64, i64)],
    price_of: &dyn Fn(i64) -> Decimal,
    markup: Decimal,
    rate: Decimal,
) -> Decimal {
    // cumulative Wh at t (seconds), linear between points, rounded half away from zero
    let at = |t: i64| -> Decimal {
        let i = points.partition_point(|(pt, _)| *pt <= t);
        let (t0, e0) = points[i.saturating_sub(1)];
        let Some(&(t1, e1)) = points.get(i) else {
            return Decimal::from(e0);
        };
        let exact = Decimal::from(e0)
            + Decimal::from(e1 - e0) * Decimal::from(t - t0) / Decimal::from(t1 - t0);
        exact.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    };
    let mut cuts = vec![start];
    let mut q = (start / 900 + 1) * 900;
    while q < end {
        cuts.push(q);
        q += 900;
    }
    cuts.push(end);
    let mut total = Decimal::ZERO;
    for w in cuts.windows(2) {
        let e0 = at(w[0]);
        let e1 = if w[1] == end {
            Decimal::from(points.last().map_or(0, |p| p.1))
        } else {
            at(w[1])
        };
        let kwh = (e1 - e0) / Decimal::ONE_THOUSAND;
        let quarter = w[0] - w[0].rem_euclid(900);
        total += kwh * (markup + price_of(quarter) * rate / Decimal::ONE_THOUSAND);
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn the_invoice_equals_an_independent_recomputation(
        start_off in 0i64..(3 * 86_400),
        dur in 60i64..(30 * 3600),
        wh in 0i64..80_000,
        splits in proptest::collection::vec((1u32..1000, 0u32..1000), 0..6),
        markup_cents in 0i64..50,
        seed in 0i64..1000,
    ) {
        let t0 = at("2026-10-23T20:00:00Z").timestamp() + start_off;
        let t1 = t0 + dur;
        // readings strictly inside, sorted, non-decreasing energy
        let mut inner: Vec<(i64, i64)> = splits.iter().map(|(a, b)| (t0 + dur * i64::from(*a) / 1000, wh * i64::from(*b) / 1000)).filter(|(t, _)| *t > t0 && *t < t1).collect();
        inner.sort();
        inner.dedup_by_key(|p| p.0);
        let mut high = 0;
        for p in &mut inner { if p.1 < high { p.1 = high; } high = p.1; }
        let iso = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default().to_rfc3339();
        let readings: Vec<(String, i64)> = inner.iter().map(|(t, e)| (iso(*t), *e)).collect();
        let rr: Vec<(&str, i64)> = readings.iter().map(|(t, e)| (t.as_str(), *e)).collect();
        let s = session(&iso(t0), &iso(t1), wh, &rr).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let markup = Decimal::new(markup_cents, 2);
        let t = parse_tariff(&json!({"id": "S", "currency": "NOK", "elements": [{"price_components": [
            {"type": "ENERGY", "price": markup.to_string(), "step_size": 0, "spot": {"area": "NO1"}}]}]}))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let price_of = move |q: i64| Decimal::new(((q / 900 * 7919 + seed) % 20_000) - 3_000, 2);
        let rate = dec!(11.7250);
        let mut p = SpotPrices::default();
        for q in spot::quarters_between(at(&iso(t0)), at(&iso(t1))) {
            p.prices.insert((Area::No1, q), price_of(q.timestamp()));
            p.rates.insert(("NOK".into(), spot::delivery_day(q)), rate);
        }
        let quote = price_session_with_spot(&s, &t, &settings(), &p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut pts = vec![(t0, 0)];
        pts.extend(inner.iter().copied());
        pts.push((t1, wh));
        let want = model_cost(t0, t1, &pts, &price_of, markup, rate);
        prop_assert_eq!(quote.ocpi.total_energy_kwh, Decimal::new(wh, 3));
        prop_assert_eq!(quote.ocpi.total_cost.excl_vat, want);
        let inv = want.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        prop_assert_eq!(quote.invoice.total_cost_excl_vat, inv);
    }
}
