//! Spot-indexed sessions (SPEC §13): periods cut at every quarter-hour of the day-ahead
//! market, energy per quarter from the same cut as the Type A series
//! (`delivery::meter_series::cut_energy`), and each period given its quarter's price.
//!
//! Pure: the prices come in as a [`SpotPrices`] the caller fetched from the store. A
//! session lacking any price or rate is not priced at all (the first gap is named), so a
//! bill is never made from half the prices.

use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::periods::{derive_periods, ChargingPeriod, Reading};
use super::tariff::Tariff;
use crate::delivery::meter_series::{cut_energy, Resolution};
use crate::session::SessionCompleted;
use crate::spot::{SpotMissing, SpotNeed, SpotPrices};

/// What a session priced with `tariff` needs from the store, if the tariff is spot-indexed.
pub fn spot_need(session: &SessionCompleted, tariff: &Tariff) -> Option<SpotNeed> {
    tariff.spot_area().map(|area| SpotNeed {
        area,
        currency: tariff.currency.clone(),
        from: session.timestamp_start,
        to: session.timestamp_end,
    })
}

/// The periods of a spot-priced session: quarter-hour energy from the shared cut, then the
/// tariff's own restriction cuts inside each quarter, each period carrying its quarter's price.
pub fn spot_periods(
    session: &SessionCompleted,
    tariff: &Tariff,
    tz: Tz,
    prices: &SpotPrices,
) -> Result<Vec<ChargingPeriod>, SpotMissing> {
    let Some(need) = spot_need(session, tariff) else {
        return Ok(Vec::new());
    };
    if let Some(missing) = prices.first_missing(&need) {
        return Err(missing);
    }
    let cut = cut_energy(session, Resolution::PT15M);
    let mut readings = Vec::with_capacity(cut.intervals.len() + 1);
    let mut cumulative = Decimal::ZERO;
    readings.push(Reading {
        at: cut.start,
        kwh: cumulative,
    });
    for (_, to, kwh) in &cut.intervals {
        cumulative += *kwh;
        readings.push(Reading {
            at: *to,
            kwh: cumulative,
        });
    }
    let mut periods = derive_periods(&readings, tariff, tz);
    if periods.is_empty() {
        periods.push(ChargingPeriod {
            start: cut.start,
            end: cut.end,
            energy_kwh: Some(cumulative),
            charging_secs: Some(Decimal::ZERO),
            ..ChargingPeriod::default()
        });
    }
    for p in &mut periods {
        p.spot = Some(prices.quote(need.area, &need.currency, p.start)?);
    }
    Ok(periods)
}
