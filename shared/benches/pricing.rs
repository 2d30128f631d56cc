//! Pricing throughput, JSON parsing of the session included (the work a session-completed
//! handler does per event). Reproduce: `cargo bench -p ucc-shared --bench pricing`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use ucc_shared::pricing::{
    parse_tariff, price_session, price_session_with_spot, InvoiceSettings, Tariff,
};
use ucc_shared::session::SessionCompleted;

fn tariff(v: Value) -> Tariff {
    match parse_tariff(&v) {
        Ok(t) => t,
        Err(e) => panic!("bench tariff: {e}"),
    }
}

fn simple_tariff() -> Tariff {
    tariff(
        json!({"id": "S", "currency": "NOK", "elements": [{"price_components": [
            {"type": "FLAT", "price": 5, "vat": 25, "step_size": 0},
            {"type": "ENERGY", "price": "2.35", "vat": 25, "step_size": 1}
        ]}]}),
    )
}

fn time_of_day_tariff() -> Tariff {
    tariff(time_of_day_tariff_json())
}

fn single_period_session() -> Vec<u8> {
    json!({
        "customerId": "emb-cust-0042", "transactionId": 88812345, "chargerId": "EMB-0001234",
        "socketId": 1, "siteId": 1042, "authorizedIdTag": "v:7K2M9QXR4T8B3N5P",
        "timestampStart": "2026-11-20T16:42:10Z", "timestampEnd": "2026-11-20T21:03:55Z",
        "meterReadStartWh": 1523400, "meterReadEndWh": 1546150
    })
    .to_string()
    .into_bytes()
}

fn twelve_period_session() -> Vec<u8> {
    let periods: Vec<Value> = (0..12)
        .map(|h| {
            json!({"start_date_time": format!("2026-11-20T{:02}:00:00Z", 10 + h),
                   "dimensions": [{"type": "ENERGY", "volume": "3.125"}, {"type": "TIME", "volume": 1}]})
        })
        .collect();
    json!({
        "customerId": "emb-cust-0042", "transactionId": "88812346", "siteId": 1042,
        "authorizedIdTag": "v:7K2M9QXR4T8B3N5P",
        "timestampStart": "2026-11-20T10:00:00Z", "timestampEnd": "2026-11-20T22:00:00Z",
        "meterReadStartWh": 1000000, "meterReadEndWh": 1037500,
        "chargingPeriods": periods
    })
    .to_string()
    .into_bytes()
}

fn meter_value_session() -> Vec<u8> {
    // 24 h from 12:00Z with a reading every 15 min (96 intervals), charging in the evening
    // and night, parked in the morning.
    let mut wh = 2_000_000u64;
    let mut mvs = Vec::new();
    for i in 1..96u64 {
        if i < 60 {
            wh += 700 + (i % 7) * 50;
        }
        let minutes = 12 * 60 + i * 15;
        mvs.push(json!({"timestamp": format!("2026-11-{:02}T{:02}:{:02}:00Z", 20 + minutes / 1440, (minutes % 1440) / 60, minutes % 60), "energyWh": wh}));
    }
    json!({
        "customerId": "emb-cust-0042", "transactionId": "88812347", "siteId": 1042,
        "authorizedIdTag": "v:7K2M9QXR4T8B3N5P",
        "timestampStart": "2026-11-20T12:00:00Z", "timestampEnd": "2026-11-21T12:00:00Z",
        "meterReadStartWh": 2000000, "meterReadEndWh": wh,
        "meterValues": mvs
    })
    .to_string()
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let settings = InvoiceSettings::default();
    let cases = [
        ("single_period", single_period_session(), simple_tariff()),
        (
            "12_periods_time_of_day",
            twelve_period_session(),
            time_of_day_tariff(),
        ),
        (
            "96_meter_values_split",
            meter_value_session(),
            time_of_day_tariff(),
        ),
    ];
    let mut g = c.benchmark_group("price_session");
    g.throughput(Throughput::Elements(1));
    for (name, body, t) in &cases {
        // fail loudly if a case does not price, instead of timing an error path
        let s = SessionCompleted::from_json(body).map_err(|e| e.to_string());
        let q = s.and_then(|s| price_session(&s, t, &settings).map_err(|e| e.to_string()));
        match q {
            Ok(q) => eprintln!(
                "{name}: {} periods, {} NOK",
                q.ocpi.periods.len(),
                q.invoice.total_cost_incl_vat
            ),
            Err(e) => panic!("{name}: {e}"),
        }
        g.bench_function(*name, |b| {
            b.iter(|| {
                let s = SessionCompleted::from_json(black_box(body));
                s.map(|s| price_session(&s, t, &settings).map(|q| q.invoice.total_cost_incl_vat))
            })
        });
    }
    g.finish();

    // SPEC §13: the same 24-hour, 96-meter-value session on a spot-indexed tariff (NO1 +
    // 0.12 NOK/kWh markup): 96 quarter-hour periods, each with its own price. The prices
    // are pre-fetched (as `spot::store::fetch` hands them to pricing), so this times the
    // pricing itself: sessions/s per core = 1 / the time per iteration.
    let spot_tariff = tariff(json!({"id": "SPOT", "currency": "NOK", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.12", "step_size": 1, "spot": {"area": "NO1"}}]}
    ]}));
    let body = meter_value_session();
    let mut prices = ucc_shared::spot::SpotPrices::default();
    let (from, to) = (
        chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z").map(|t| t.to_utc()),
        chrono::DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z").map(|t| t.to_utc()),
    );
    let (Ok(from), Ok(to)) = (from, to) else {
        panic!("bench times")
    };
    for (i, q) in ucc_shared::spot::quarters_between(from, to)
        .into_iter()
        .enumerate()
    {
        let eur_mwh =
            rust_decimal::Decimal::new(i64::try_from(i).unwrap_or(0) * 137 % 9000 - 500, 2);
        prices
            .prices
            .insert((ucc_shared::spot::Area::No1, q), eur_mwh);
        prices.rates.insert(
            ("NOK".into(), ucc_shared::spot::delivery_day(q)),
            rust_decimal::Decimal::new(117250, 4),
        );
    }
    let check = SessionCompleted::from_json(&body)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            price_session_with_spot(&s, &spot_tariff, &settings, &prices).map_err(|e| e.to_string())
        });
    match check {
        Ok(q) => eprintln!(
            "spot_96_meter_values: {} periods, {} NOK",
            q.ocpi.periods.len(),
            q.invoice.total_cost_incl_vat
        ),
        Err(e) => panic!("spot_96_meter_values: {e}"),
    }
    let mut g = c.benchmark_group("price_session_spot");
    g.throughput(Throughput::Elements(1));
    g.bench_function("spot_96_meter_values_24h", |b| {
        b.iter(|| {
            let s = SessionCompleted::from_json(black_box(&body));
            s.map(|s| {
                price_session_with_spot(&s, &spot_tariff, &settings, &prices)
                    .map(|q| q.invoice.total_cost_incl_vat)
            })
        })
    });
    g.finish();

    // The same 12 periods as an OCPI CDR, priced by our engine and by the generic reference
    // pricer (`ocpi-tariffs`, a dev-dependency) for comparison; both include JSON parsing.
    let tod = time_of_day_tariff_json();
    let cdr = twelve_period_cdr();
    let tod_text = tod.to_string();
    let cdr_text = cdr.to_string();
    let mut g = c.benchmark_group("price_cdr_12_periods");
    g.throughput(Throughput::Elements(1));
    // Tariff parsing is included on both sides: the reference API parses it per call.
    g.bench_function("ucc_engine", |b| {
        b.iter(|| {
            let t: Value = serde_json::from_str(black_box(&tod_text)).ok()?;
            let t = ucc_shared::pricing::parse_tariff(&t).ok()?;
            let v: Value = serde_json::from_str(black_box(&cdr_text)).ok()?;
            let c = ucc_shared::pricing::parse_cdr(&v).ok()?;
            Some(ucc_shared::pricing::price_cdr(&c, &t, chrono_tz::Europe::Oslo).total_cost)
        })
    });
    g.bench_function("ocpi_tariffs_0_48", |b| {
        b.iter(|| {
            use ocpi_tariffs::{cdr as ocdr, price, tariff as otariff, Version};
            let t = otariff::parse_with_version(black_box(&tod_text), Version::V221).ok()?;
            let c = ocdr::parse_with_version(black_box(&cdr_text), Version::V221).ok()?;
            let r = ocdr::price(
                &c.cdr,
                price::TariffSource::Override(vec![t.tariff]),
                chrono_tz::Europe::Oslo,
            )
            .ok()?;
            let (r, _) = r.into_parts();
            r.total_cost.calculated.map(|p| p.excl_vat)
        })
    });
    g.finish();
}

fn time_of_day_tariff_json() -> Value {
    json!({"id": "TOD", "currency": "NOK", "country_code": "NO", "party_id": "UCC",
        "last_updated": "2026-01-01T00:00:00Z", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 1.10, "vat": 25, "step_size": 1}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
        {"price_components": [{"type": "ENERGY", "price": 3.20, "vat": 25, "step_size": 1}],
         "restrictions": {"start_time": "16:00", "end_time": "20:00", "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
        {"price_components": [{"type": "ENERGY", "price": 2.00, "vat": 25, "step_size": 1}],
         "restrictions": {"max_kwh": 40}},
        {"price_components": [{"type": "ENERGY", "price": 2.50, "vat": 25, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 30, "vat": 25, "step_size": 300},
                              {"type": "FLAT", "price": 5, "vat": 25, "step_size": 0}]}
    ]})
}

fn twelve_period_cdr() -> Value {
    let periods: Vec<Value> = (0..12)
        .map(|h| {
            json!({"start_date_time": format!("2026-11-20T{:02}:00:00Z", 10 + h),
                   "dimensions": [{"type": "ENERGY", "volume": 3.125}, {"type": "TIME", "volume": 1}]})
        })
        .collect();
    json!({
        "country_code": "NO", "party_id": "UCC", "id": "CDR-1", "currency": "NOK",
        "start_date_time": "2026-11-20T10:00:00Z", "end_date_time": "2026-11-20T22:00:00Z",
        "cdr_location": {"country": "NOR"}, "charging_periods": periods,
        "total_cost": {"excl_vat": 0}, "total_energy": 37.5, "total_time": 12,
        "last_updated": "2026-11-20T22:00:00Z"
    })
}

criterion_group!(benches, bench);
criterion_main!(benches);
