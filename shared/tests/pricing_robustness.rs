//! Hostile input never panics: valid documents with one value replaced by arbitrary JSON go
//! through parsing and, when accepted, through pricing.

use proptest::prelude::*;
use serde_json::{json, Value};
use ucc_shared::pricing::{parse_cdr, parse_tariff, price_cdr, price_session, InvoiceSettings};
use ucc_shared::session::SessionCompleted;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(
            &[
                "-1",
                "0",
                "1e30",
                "1e-30",
                "99999999999999999999999999999",
                "0.0000000000000000000000000001",
                "25",
                "300"
            ][..]
        )
        .prop_map(|s| serde_json::from_str(s).unwrap_or(Value::Null)),
        prop::sample::select(
            &[
                "",
                "25:00",
                "00:00",
                "2024-02-30",
                "MONDAY",
                "ENERGY",
                "FLAT",
                "x",
                "2026-03-29T02:30:00+02:00",
                "9999-12-31T23:59:59Z",
                "-262143-01-01T00:00:00Z"
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every (pointer) location in a document.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(o) => o
            .iter()
            .for_each(|(k, c)| pointers(c, format!("{at}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn mutate(doc: &Value, which: prop::sample::Index, with: Value) -> Value {
    let mut ps = Vec::new();
    pointers(doc, String::new(), &mut ps);
    let mut d = doc.clone();
    let p = &ps[which.index(ps.len())];
    if p.is_empty() {
        return with;
    }
    if let Some(slot) = d.pointer_mut(p) {
        *slot = with;
    }
    d
}

fn tariff_doc() -> Value {
    json!({"id": "T", "currency": "NOK", "min_price": {"excl_vat": 1, "incl_vat": 1.25}, "max_price": {"excl_vat": 100},
    "start_date_time": "2020-01-01T00:00:00Z",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 2, "vat": 25, "step_size": 100}, {"type": "FLAT", "price": 1, "step_size": 0}],
         "restrictions": {"start_time": "22:00", "end_time": "06:00", "day_of_week": ["MONDAY"], "min_kwh": 1, "max_kwh": 50,
                          "min_power": 1, "max_power": 50, "min_current": 1, "max_current": 60, "min_duration": 60, "max_duration": 7200,
                          "start_date": "2020-01-01", "end_date": "2030-01-01"}},
        {"price_components": [{"type": "TIME", "price": 1, "step_size": 60}, {"type": "PARKING_TIME", "price": 3, "step_size": 300}]}
    ]})
}

fn session_doc() -> Value {
    json!({"customerId": "c", "transactionId": "t", "authorizedIdTag": "v:1", "siteId": 1,
        "timestampStart": "2026-03-28T22:00:00Z", "timestampEnd": "2026-03-29T05:00:00Z",
        "meterReadStartWh": 1000, "meterReadEndWh": 30000,
        "meterValues": [{"timestamp": "2026-03-29T01:00:00Z", "energyWh": 9000}, {"timestamp": "2026-03-29T03:00:00Z", "energyWh": 9000}]})
}

fn cdr_doc() -> Value {
    json!({"start_date_time": "2026-10-24T22:00:00Z", "end_date_time": "2026-10-25T05:00:00Z", "cdr_location": {"country": "NOR"},
    "charging_periods": [
        {"start_date_time": "2026-10-24T22:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 3}, {"type": "MAX_CURRENT", "volume": 16}]},
        {"start_date_time": "2026-10-25T01:00:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 4}]}
    ]})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_documents_never_panic(
        wt in any::<prop::sample::Index>(), vt in arb_json(),
        ws in any::<prop::sample::Index>(), vs in arb_json(),
        wc in any::<prop::sample::Index>(), vc in arb_json(),
    ) {
        let t = mutate(&tariff_doc(), wt, vt);
        let s = mutate(&session_doc(), ws, vs);
        let c = mutate(&cdr_doc(), wc, vc);
        let tariff = parse_tariff(&t).or_else(|_| parse_tariff(&tariff_doc()));
        prop_assert!(tariff.is_ok());
        if let Ok(tariff) = tariff {
            if let Ok(session) = SessionCompleted::from_value(&s) {
                let _ = price_session(&session, &tariff, &InvoiceSettings::default());
            }
            if let Ok(cdr) = parse_cdr(&c) {
                let _ = price_cdr(&cdr, &tariff, chrono_tz::Europe::Oslo);
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = parse_tariff(&v);
        let _ = parse_cdr(&v);
        let _ = SessionCompleted::from_value(&v);
        let _ = SessionCompleted::from_json(v.to_string().as_bytes());
    }
}
