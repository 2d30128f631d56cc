//! Human-readable explanation of a priced session (`ucc price --explain`): one line per
//! dimension per period naming the element that priced it, so a support agent can answer
//! "why did I pay this?" without reading OCPI.

use std::fmt::Write as _;

use super::engine::PricingResult;
use super::invoice::InvoiceAmounts;
use super::output::fixed;
use super::tariff::Dimension;

pub fn explain(r: &PricingResult, invoice: Option<&InvoiceAmounts>) -> String {
    let mut s = String::new();
    let tz = r.time_zone;
    let _ = writeln!(
        s,
        "Tariff {} ({}), local time {}",
        r.tariff_id,
        r.currency,
        tz.name()
    );
    let _ = writeln!(
        s,
        "{:<17} {:<17} {:<12} {:>7} {:>12} {:>12} {:>10} {:>10}",
        "from", "to", "dimension", "element", "volume", "billed", "excl VAT", "incl VAT"
    );
    for p in &r.periods {
        let from = p
            .start
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        let to = p
            .end
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        for l in &p.lines {
            let (unit, vol, billed) = match l.dimension {
                Dimension::Energy => ("kWh", l.volume, l.billed_volume),
                Dimension::Time | Dimension::ParkingTime => (
                    "h",
                    PricingResult::hours(l.volume),
                    PricingResult::hours(l.billed_volume),
                ),
                Dimension::Flat => ("", l.volume, l.billed_volume),
            };
            let element = l
                .element
                .map_or_else(|| "free".to_owned(), |e| format!("#{e}"));
            let _ = writeln!(
                s,
                "{:<17} {:<17} {:<12} {:>7} {:>12} {:>12} {:>10} {:>10}",
                from,
                to,
                l.dimension.ocpi_name(),
                element,
                format!("{} {unit}", fixed(vol, 4)),
                format!("{} {unit}", fixed(billed, 4)),
                fixed(l.cost.excl_vat, 4),
                fixed(l.cost.incl_vat, 4)
            );
        }
    }
    spot_table(&mut s, r);
    let line = |s: &mut String, name: &str, a: super::engine::Amount| {
        let _ = writeln!(
            s,
            "{name:<24} {:>12} {:>12}",
            fixed(a.excl_vat, 4),
            fixed(a.incl_vat, 4)
        );
    };
    let _ = writeln!(s, "{:<24} {:>12} {:>12}", "", "excl VAT", "incl VAT");
    line(&mut s, "energy", r.total_energy_cost);
    line(&mut s, "charging time", r.total_time_cost);
    line(&mut s, "parking time", r.total_parking_cost);
    line(&mut s, "fixed", r.total_fixed_cost);
    if r.total_cost != r.total_cost_before_limits {
        line(&mut s, "before min/max price", r.total_cost_before_limits);
    }
    line(&mut s, "TOTAL", r.total_cost);
    let _ = writeln!(
        s,
        "energy {} kWh, session {} h (charging {} h, parking {} h)",
        fixed(r.total_energy_kwh, 4),
        fixed(PricingResult::hours(r.total_time_secs), 4),
        fixed(PricingResult::hours(r.total_charging_time_secs), 4),
        fixed(PricingResult::hours(r.total_parking_time_secs), 4)
    );
    if let Some(i) = invoice {
        let _ = writeln!(
            s,
            "invoice: {} excl. VAT + {} VAT ({}%) = {} incl. VAT {}; consumption {} kWh",
            i.total_cost_excl_vat,
            i.total_vat,
            i.vat_percent,
            i.total_cost_incl_vat,
            i.currency,
            i.full_consumption_kwh
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// SPEC §13: one row per priced period of a spot-indexed ENERGY component — its quarter-hour,
/// kWh, the spot price (EUR/MWh and converted per kWh), the markup and the cost.
fn spot_table(s: &mut String, r: &PricingResult) {
    let rows: Vec<_> = r
        .periods
        .iter()
        .filter_map(|p| p.line(Dimension::Energy).map(|l| (p, l)))
        .filter_map(|(p, l)| Some((p, l, l.spot?, l.component.as_ref()?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let tz = r.time_zone;
    let _ = writeln!(
        s,
        "spot intervals ({}, {} per kWh = EUR/MWh × rate ÷ 1000):",
        rows.first()
            .and_then(|(_, _, _, c)| c.spot)
            .map(|a| a.name())
            .unwrap_or_default(),
        r.currency
    );
    let _ = writeln!(
        s,
        "{:<23} {:<12} {:>10} {:>10} {:>9} {:>12} {:>10} {:>12} {:>12}",
        "from (local)", "to", "kWh", "EUR/MWh", "rate", "spot/kWh", "markup", "price/kWh", "cost"
    );
    for (p, l, q, c) in rows {
        let _ = writeln!(
            s,
            "{:<23} {:<12} {:>10} {:>10} {:>9} {:>12} {:>10} {:>12} {:>12}",
            // with the UTC offset: the fall-back hour's quarters read the same local time twice
            p.start.with_timezone(&tz).format("%Y-%m-%d %H:%M%:z"),
            p.end.with_timezone(&tz).format("%H:%M%:z"),
            fixed(l.billed_volume, 4),
            q.eur_mwh,
            q.rate,
            fixed(q.per_kwh, 6),
            c.price,
            fixed(q.per_kwh + c.price, 6),
            fixed(l.cost.excl_vat, 4)
        );
    }
}
