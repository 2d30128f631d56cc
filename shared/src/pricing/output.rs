//! The JSON shape printed by `ucc price` (SPEC §5): OCPI names, decimal strings with four
//! decimals for OCPI totals, hours for time. Kept separate from the engine so the engine's
//! full-precision values are never rounded by accident before invoicing.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::engine::{round_half_away, Amount, PeriodLine, PricingResult};
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
    decimal_text(r)
}

/// `d` as `Decimal`'s `Display` prints it (its own scale, no exponent), from the mantissa:
/// `ucc price --cdrs` prints some 40 amounts per CDR, and `Display` was a tenth of its time.
pub fn decimal_text(d: Decimal) -> String {
    let scale = d.scale() as usize;
    let mut digits = [0u8; 40];
    let mut len = 0;
    let mantissa = d.mantissa().unsigned_abs();
    // Amounts fit 64 bits, where division by 10 is a multiply; 128-bit division is a call.
    match u64::try_from(mantissa) {
        Ok(mut n) => loop {
            // `n % 10` < 10 always fits a u8.
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        },
        Err(_) => {
            let mut n = mantissa;
            loop {
                digits[len] = b'0' + (n % 10) as u8;
                len += 1;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
    }
    // At least one digit before the point: 0.0001 has mantissa 1, scale 4.
    while len <= scale {
        digits[len] = b'0';
        len += 1;
    }
    let mut out = String::with_capacity(len + 2);
    if d.is_sign_negative() && !d.mantissa().eq(&0) {
        out.push('-');
    }
    for i in (0..len).rev() {
        out.push(char::from(digits[i]));
        if i == scale && scale > 0 {
            out.push('.');
        }
    }
    out
}

/// OCPI amount, both sides with four decimals.
#[derive(Serialize)]
struct AmountOut {
    excl_vat: String,
    incl_vat: String,
}

fn amount(a: Amount) -> AmountOut {
    AmountOut {
        excl_vat: fixed(a.excl_vat, 4),
        incl_vat: fixed(a.incl_vat, 4),
    }
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

// The printed shape is serialised straight from these structs (no `Value` tree per CDR on
// the `ucc price --cdrs` path). Fields are declared in alphabetical order: that is the
// order the earlier `Value` renderer printed, and scripts diff this output.

#[derive(Serialize)]
struct DimensionOut {
    billed_volume: String,
    cost: AmountOut,
    element: Option<usize>,
    price: Option<String>,
    step_size: Option<u64>,
    #[serde(rename = "type")]
    kind: &'static str,
    vat: Option<String>,
    volume: String,
}

#[derive(Serialize)]
struct PeriodOut {
    cost: AmountOut,
    dimensions: Vec<DimensionOut>,
    end_date_time: String,
    start_date_time: String,
}

/// `ucc price`'s OCPI result (SPEC §5).
#[derive(Serialize)]
pub struct ResultOut<'a> {
    billed_energy: String,
    billed_parking_time: String,
    billed_time: String,
    currency: &'a str,
    periods: Vec<PeriodOut>,
    tariff_id: &'a str,
    time_zone: &'static str,
    total_charging_time: String,
    total_cost: AmountOut,
    total_cost_before_limits: AmountOut,
    total_energy: String,
    total_energy_cost: AmountOut,
    total_fixed_cost: AmountOut,
    total_parking_cost: AmountOut,
    total_parking_time: String,
    total_time: String,
    total_time_cost: AmountOut,
    warnings: &'a [String],
}

fn period_out(p: &PeriodLine) -> PeriodOut {
    let dimensions = p
        .lines
        .iter()
        .map(|l| {
            let (volume, billed_volume) = match l.dimension {
                Dimension::Energy => (fixed(l.volume, 4), fixed(l.billed_volume, 4)),
                Dimension::Time | Dimension::ParkingTime => {
                    (hours(l.volume), hours(l.billed_volume))
                }
                Dimension::Flat => ("1".to_owned(), "1".to_owned()),
            };
            DimensionOut {
                billed_volume,
                cost: amount(l.cost),
                element: l.element,
                price: l.component.as_ref().map(|c| c.price.to_string()),
                step_size: l.component.as_ref().map(|c| c.step_size),
                kind: l.dimension.ocpi_name(),
                vat: l
                    .component
                    .as_ref()
                    .and_then(|c| c.vat.map(|v| v.to_string())),
                volume,
            }
        })
        .collect();
    PeriodOut {
        cost: amount(p.cost()),
        dimensions,
        end_date_time: p.end.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        start_date_time: p.start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    }
}

/// The OCPI result as `ucc price` prints it; serialise it with `serde_json`.
pub fn result_out(r: &PricingResult) -> ResultOut<'_> {
    ResultOut {
        billed_energy: fixed(r.billed_energy_kwh, 4),
        billed_parking_time: hours(r.billed_parking_time_secs),
        billed_time: hours(r.billed_charging_time_secs),
        currency: &r.currency,
        periods: r.periods.iter().map(period_out).collect(),
        tariff_id: &r.tariff_id,
        time_zone: r.time_zone.name(),
        total_charging_time: hours(r.total_charging_time_secs),
        total_cost: amount(r.total_cost),
        total_cost_before_limits: amount(r.total_cost_before_limits),
        total_energy: fixed(r.total_energy_kwh, 4),
        total_energy_cost: amount(r.total_energy_cost),
        total_fixed_cost: amount(r.total_fixed_cost),
        total_parking_cost: amount(r.total_parking_cost),
        total_parking_time: hours(r.total_parking_time_secs),
        total_time: hours(r.total_time_secs),
        total_time_cost: amount(r.total_time_cost),
        warnings: &r.warnings,
    }
}

pub fn result_json(r: &PricingResult) -> Value {
    serde_json::to_value(result_out(r)).unwrap_or(Value::Null)
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

    proptest::proptest! {
        #[test]
        fn decimal_text_prints_as_display(m in proptest::num::i128::ANY, scale in 0u32..=28) {
            let m = m % 79_228_162_514_264_337_593_543_950_335i128;
            let d = Decimal::from_i128_with_scale(m, scale);
            proptest::prop_assert_eq!(decimal_text(d), d.to_string());
        }
    }

    #[test]
    fn decimal_text_edges() {
        for d in [
            dec!(0),
            dec!(-0.0000),
            dec!(0.0001),
            dec!(-0.5),
            dec!(10),
            dec!(100.00),
        ] {
            assert_eq!(decimal_text(d), d.to_string());
        }
    }

    #[test]
    fn fixed_pads_and_rounds_half_away() {
        assert_eq!(fixed(dec!(0.55024), 4), "0.5502");
        assert_eq!(fixed(dec!(0.00005), 4), "0.0001");
        assert_eq!(fixed(dec!(2), 4), "2.0000");
        assert_eq!(fixed(dec!(-0.00001), 4), "0.0000");
    }
}
