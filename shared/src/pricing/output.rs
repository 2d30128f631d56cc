//! The JSON shape printed by `ucc price` (SPEC §5): OCPI names, decimal strings with four
//! decimals for OCPI totals, hours for time. Kept separate from the engine so the engine's
//! full-precision values are never rounded by accident before invoicing.

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::engine::{round_half_away, Amount, PricingResult};
use super::invoice::{minor_unit, InvoiceAmounts};
use super::tariff::Dimension;
use super::SessionQuote;

const SECS_PER_HOUR: Decimal = Decimal::from_parts(3600, 0, 0, false, 0);

/// `d` rounded half away from zero to `dp` decimals and printed with exactly `dp` decimals.
pub fn fixed(d: Decimal, dp: u32) -> String {
    let mut r = round_half_away(d, dp);
    r.rescale(dp);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r.to_string()
}

fn amount(a: Amount) -> Value {
    json!({ "excl_vat": fixed(a.excl_vat, 4), "incl_vat": fixed(a.incl_vat, 4) })
}

fn hours(secs: Decimal) -> String {
    fixed(secs / SECS_PER_HOUR, 4)
}

/// An exact JSON number from a decimal (serde_json keeps the digits with
/// `arbitrary_precision`).
fn number(d: Decimal, dp: u32) -> Value {
    let s = fixed(d, dp);
    serde_json::from_str::<serde_json::Number>(&s)
        .map(Value::Number)
        .unwrap_or(Value::String(s))
}

pub fn result_json(r: &PricingResult) -> Value {
    let periods: Vec<Value> = r
        .periods
        .iter()
        .map(|p| {
            let dims: Vec<Value> = p
                .lines
                .iter()
                .map(|l| {
                    let (volume, billed) = match l.dimension {
                        Dimension::Energy => (fixed(l.volume, 4), fixed(l.billed_volume, 4)),
                        Dimension::Time | Dimension::ParkingTime => {
                            (hours(l.volume), hours(l.billed_volume))
                        }
                        Dimension::Flat => ("1".to_owned(), "1".to_owned()),
                    };
                    json!({
                        "type": l.dimension.ocpi_name(),
                        "volume": volume,
                        "billed_volume": billed,
                        "element": l.element,
                        "price": l.component.as_ref().map(|c| c.price.to_string()),
                        "vat": l.component.as_ref().and_then(|c| c.vat.map(|v| v.to_string())),
                        "step_size": l.component.as_ref().map(|c| c.step_size),
                        "cost": amount(l.cost),
                    })
                })
                .collect();
            json!({
                "start_date_time": p.start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "end_date_time": p.end.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                "cost": amount(p.cost()),
                "dimensions": dims,
            })
        })
        .collect();
    json!({
        "tariff_id": r.tariff_id,
        "currency": r.currency,
        "time_zone": r.time_zone.name(),
        "total_cost": amount(r.total_cost),
        "total_cost_before_limits": amount(r.total_cost_before_limits),
        "total_energy_cost": amount(r.total_energy_cost),
        "total_time_cost": amount(r.total_time_cost),
        "total_parking_cost": amount(r.total_parking_cost),
        "total_fixed_cost": amount(r.total_fixed_cost),
        "total_energy": fixed(r.total_energy_kwh, 4),
        "total_time": hours(r.total_time_secs),
        "total_charging_time": hours(r.total_charging_time_secs),
        "total_parking_time": hours(r.total_parking_time_secs),
        "billed_energy": fixed(r.billed_energy_kwh, 4),
        "billed_time": hours(r.billed_charging_time_secs),
        "billed_parking_time": hours(r.billed_parking_time_secs),
        "periods": periods,
        "warnings": r.warnings,
    })
}

pub fn invoice_json(i: &InvoiceAmounts) -> Value {
    let dp = minor_unit(&i.currency);
    json!({
        "currency": i.currency,
        "vatPercent": number(i.vat_percent.normalize(), i.vat_percent.normalize().scale()),
        "pricesIncludeVat": Value::Null,
        "totalCostExclVat": number(i.total_cost_excl_vat, dp),
        "totalVat": number(i.total_vat, dp),
        "totalCostInclVat": number(i.total_cost_incl_vat, dp),
        "fullConsumptionKWh": number(i.full_consumption_kwh, 3),
    })
}

/// Result JSON plus `invoice` and the chosen tariff, for `ucc price --session`.
pub fn quote_json(q: &SessionQuote, prices_include_vat: bool) -> Value {
    let mut v = result_json(&q.ocpi);
    if let Value::Object(o) = &mut v {
        let mut inv = invoice_json(&q.invoice);
        if let Value::Object(io) = &mut inv {
            io.insert("pricesIncludeVat".into(), Value::Bool(prices_include_vat));
        }
        o.insert("invoice".into(), inv);
        o.insert("warnings".into(), json!(q.warnings));
    }
    v
}

/// Adds keys to an output object (e.g. the CLI's notes); no-op for non-objects.
pub fn extend(v: &mut Value, extra: Map<String, Value>) {
    if let Value::Object(o) = v {
        o.extend(extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fixed_pads_and_rounds_half_away() {
        assert_eq!(fixed(dec!(0.55024), 4), "0.5502");
        assert_eq!(fixed(dec!(0.00005), 4), "0.0001");
        assert_eq!(fixed(dec!(2), 4), "2.0000");
        assert_eq!(fixed(dec!(-0.00001), 4), "0.0000");
    }
}
