//! Sessions and CDRs are read from their text through the borrowing `Doc`; everywhere else a
//! `serde_json::Value` is read. A household's bill must not depend on which: for generated
//! texts (repeated keys, nulls, escapes, numbers in every JSON spelling, wrong types,
//! missing fields) both readers accept the same documents with the same values, and refuse
//! the rest with the same message.

use proptest::prelude::*;
use serde_json::Value;
use ucc_shared::pricing::cdr::{parse_cdr, parse_cdr_json};
use ucc_shared::session::SessionCompleted;

/// A JSON value text for a field, often valid for it, often not.
fn field_value(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(valid).prop_map(str::to_owned),
        1 => proptest::sample::select(&[
            "null", "true", "0", "-0", "1e3", "1E-2", "12.50", "-7", "99999999999999999999",
            "\"\"", "\"  \"", "\"\\u0041\\n\"", "\"12.5\"", "\"2026-11-20T16:42:10\"",
            "\"2026-11-20T16:42:10+01:00\"", "[]", "{}", "[1, \"a\"]", "{\"a\": 1}",
        ][..]).prop_map(str::to_owned),
    ]
}

/// An object text from (key, value) pairs, some keys repeated or dropped.
fn object(fields: Vec<(&'static str, &'static [&'static str])>) -> impl Strategy<Value = String> {
    let n = fields.len();
    let values: Vec<_> = fields.iter().map(|(_, valid)| field_value(valid)).collect();
    (
        values,
        proptest::collection::vec(0..n + 2, 0..3),
        any::<u64>(),
    )
        .prop_map(move |(vals, repeats, drop_mask)| {
            let mut parts = Vec::new();
            for (i, ((k, _), v)) in fields.iter().zip(&vals).enumerate() {
                if drop_mask >> i & 1 == 1 && drop_mask % 5 == 0 {
                    continue;
                }
                parts.push(format!("\"{k}\": {v}"));
            }
            // Repeated keys: serde_json's Value keeps the last; so must Doc.
            for r in repeats {
                if let (Some((k, _)), Some(v)) = (fields.get(r), vals.get((r + 1) % n)) {
                    parts.push(format!("\"{k}\": {v}"));
                }
            }
            format!("{{{}}}", parts.join(", "))
        })
}

const TIMES: &[&str] = &[
    "\"2026-11-20T16:00:00Z\"",
    "\"2026-11-20T18:30:00Z\"",
    "\"2026-11-20T21:03:55Z\"",
    "\"2026-11-20T17:00:00+01:00\"",
];

fn session_text() -> impl Strategy<Value = String> {
    let meter_value = object(vec![
        ("timestamp", TIMES),
        ("energyWh", &["1523400", "1530000", "1546150", "1530000.5"]),
    ]);
    let dims = object(vec![
        (
            "type",
            &["\"ENERGY\"", "\"TIME\"", "\"PARKING_TIME\"", "\"POWER\""],
        ),
        ("volume", &["1", "2.5", "0.125", "\"3\""]),
    ]);
    let period = (
        object(vec![("start_date_time", TIMES)]),
        proptest::collection::vec(dims, 0..3),
    )
        .prop_map(|(o, d)| {
            format!(
                "{}, \"dimensions\": [{}]}}",
                o.trim_end_matches('}'),
                d.join(", ")
            )
            .replacen("{, ", "{", 1)
        });
    (
        object(vec![
            ("customerId", &["\"emb-cust-0042\"", "\"c\\u0031\""]),
            ("transactionId", &["88812345", "\"88812345\"", "\"T-1\""]),
            ("authorizedIdTag", &["\"v:7K2M9QXR4T8B3N5P\""]),
            ("chargerId", &["\"EMB-0001234\""]),
            ("siteId", &["1042", "\"1042\""]),
            ("socketId", &["1"]),
            ("timestampStart", &["\"2026-11-20T16:00:00Z\""]),
            ("timestampEnd", &["\"2026-11-20T21:03:55Z\""]),
            ("meterReadStartWh", &["1523400", "1523400.0"]),
            ("meterReadEndWh", &["1546150", "\"1546150\""]),
        ]),
        proptest::option::of(proptest::collection::vec(meter_value, 0..4)),
        proptest::option::of(proptest::collection::vec(period, 0..3)),
    )
        .prop_map(|(o, mvs, periods)| {
            let mut extra = String::new();
            if let Some(m) = mvs {
                extra.push_str(&format!(", \"meterValues\": [{}]", m.join(", ")));
            }
            if let Some(p) = periods {
                extra.push_str(&format!(", \"chargingPeriods\": [{}]", p.join(", ")));
            }
            let body = o.trim_end_matches('}').to_owned();
            let sep = if body.trim_end() == "{" {
                extra.trim_start_matches(", ").to_owned()
            } else {
                extra
            };
            format!("{body}{sep}}}")
        })
}

fn cdr_text() -> impl Strategy<Value = String> {
    session_text()
        .prop_map(|s| {
            // The same shapes under the CDR's names.
            s.replace("timestampStart", "start_date_time")
                .replace("timestampEnd", "end_date_time")
                .replace("chargingPeriods", "charging_periods")
                .replace("customerId", "currency")
                .replace("chargerId", "id")
                // Mostly a valid location (so that CDRs are accepted too), sometimes not.
                .replace(
                    "\"siteId\": 1042",
                    "\"cdr_location\": {\"country\": \"NOR\"}",
                )
                .replace("siteId", "cdr_location")
        })
        .prop_map(|c| {
            // A CDR needs its periods; give those that have none one valid period.
            if c.contains("charging_periods") {
                return c;
            }
            let period = "\"charging_periods\": [{\"start_date_time\": \"2026-11-20T16:00:00Z\", \
                      \"dimensions\": [{\"type\": \"ENERGY\", \"volume\": 1}]}]";
            let body = c.trim_end_matches('}').trim_end();
            if body == "{" {
                format!("{{{period}}}")
            } else {
                format!("{body}, {period}}}")
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sessions_read_the_same_through_doc_and_value(text in session_text()) {
        let via_doc = SessionCompleted::from_json(text.as_bytes()).map_err(|e| e.to_string());
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                let via_value = SessionCompleted::from_value(&v).map_err(|e| e.to_string());
                prop_assert_eq!(via_doc, via_value, "{}", text);
            }
            Err(_) => prop_assert!(via_doc.is_err(), "{}", text),
        }
    }

    #[test]
    fn cdrs_read_the_same_through_doc_and_value(text in cdr_text()) {
        let via_doc = parse_cdr_json(text.as_bytes()).map_err(|e| e.to_string());
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                let via_value = parse_cdr(&v).map_err(|e| e.to_string());
                prop_assert_eq!(via_doc, via_value, "{}", text);
            }
            Err(_) => prop_assert!(via_doc.is_err(), "{}", text),
        }
    }
}

#[test]
fn the_generators_reach_both_accepted_and_refused_documents() {
    // Without this, a generator that only made broken texts would make the properties above
    // pass vacuously.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..400 {
        let Ok(tree) = session_text().new_tree(&mut runner) else {
            continue;
        };
        match SessionCompleted::from_json(tree.current().as_bytes()) {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        ok > 20 && refused > 20,
        "sessions: accepted {ok}, refused {refused}"
    );
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..400 {
        let Ok(tree) = cdr_text().new_tree(&mut runner) else {
            continue;
        };
        match parse_cdr_json(tree.current().as_bytes()) {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        ok > 20 && refused > 20,
        "CDRs: accepted {ok}, refused {refused}"
    );
}
