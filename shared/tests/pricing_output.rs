//! `ucc price` prints these exact bytes (SPEC §5; scripts and UC reconciliations diff them).
//! The golden texts were captured from the `serde_json::Value` renderer before output was
//! serialised straight from typed structs, so a reordered key, a number that became a string
//! or a lost `null` fails here.

use serde_json::json;
use ucc_shared::pricing::{output, parse_tariff, price_session, InvoiceSettings};
use ucc_shared::session::SessionCompleted;

type R = Result<(), Box<dyn std::error::Error>>;

fn quote() -> Result<ucc_shared::pricing::SessionQuote, Box<dyn std::error::Error>> {
    // Energy and parking priced with steps, charging time free (no TIME component), a FLAT
    // fee, a min_price that lifts the total (a warning), meter values across the night window.
    let tariff = parse_tariff(&json!({"id": "G", "currency": "NOK",
        "min_price": {"excl_vat": 500, "incl_vat": 625},
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": "1.10", "vat": 25, "step_size": 1}],
             "restrictions": {"start_time": "22:00", "end_time": "06:00"}},
            {"price_components": [{"type": "ENERGY", "price": "2.5", "vat": 25, "step_size": 100},
                                  {"type": "PARKING_TIME", "price": 30, "vat": 25, "step_size": 300},
                                  {"type": "FLAT", "price": 5, "step_size": 0}]}]}))?;
    let session = SessionCompleted::from_json(
        json!({"customerId": "c-1", "transactionId": 7, "authorizedIdTag": "T1",
            "timestampStart": "2026-11-20T20:10:00Z", "timestampEnd": "2026-11-21T01:00:07Z",
            "meterReadStartWh": 1000, "meterReadEndWh": 23456.5,
            "meterValues": [{"timestamp": "2026-11-20T21:00:00Z", "energyWh": 9000},
                            {"timestamp": "2026-11-20T23:30:00Z", "energyWh": 23456.5}]})
        .to_string()
        .as_bytes(),
    )?;
    Ok(price_session(
        &session,
        &tariff,
        &InvoiceSettings::default(),
    )?)
}

#[test]
fn result_json_bytes_are_unchanged() -> R {
    let q = quote()?;
    let golden = include_str!("golden/price_result.json").trim_end();
    let got = output::result_json(&q.ocpi).to_string();
    assert_eq!(got, golden);
    // `ucc price --cdrs` serialises the typed result itself, in its declared field order
    // (a `Value` would sort the keys again and hide a reordered field).
    let direct = serde_json::to_string(&output::result_out(&q.ocpi))?;
    assert_eq!(direct, golden);
    Ok(())
}

#[test]
fn quote_json_bytes_are_unchanged() -> R {
    let q = quote()?;
    let got = serde_json::to_string_pretty(&output::quote_json(&q, false))?;
    assert_eq!(got, include_str!("golden/price_quote.json").trim_end());
    Ok(())
}
