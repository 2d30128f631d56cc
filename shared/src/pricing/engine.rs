//! The pricing engine: periods + tariff → OCPI totals, a per-period breakdown and warnings.
//!
//! Pure and infallible: tariffs are validated when parsed and periods when built, so nothing
//! here can fail on input. All arithmetic is `rust_decimal`; time is carried in seconds (exact
//! for both timestamps and OCPI hour volumes) and turned into hours only when multiplied by a
//! per-hour price, so no repeating fractions accumulate.
//!
//! Rules, with the OCPI 2.2.1 text that decides them:
//! - Per dimension, the first element having a component of that dimension whose restrictions
//!   all hold at the period start is used ("the first Tariff Element with that Dimension in the
//!   list with matching Tariff Restrictions will be used"). No match: that dimension is free.
//! - FLAT is charged once per session, at the first period where a FLAT component applies.
//! - `step_size` is applied to session totals, never per period; the rounded-up extra is billed
//!   at the component of the last period that has that dimension priced. ENERGY is rounded
//!   alone. TIME and PARKING_TIME form one group: if parking is priced, the parking total is
//!   rounded (and charging time is billed as used), else the charging-time total is rounded.
//!   This is SPEC §5's reading, shared with the `ocpi-tariffs` reference implementation.
//! - `min_price`/`max_price` bound the session total, excl. and incl. VAT each on its own.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::periods::{secs_between, ChargingPeriod};
use super::restrictions::{holds, Snapshot};
use super::tariff::{Dimension, PriceComponent, Tariff};

const SECS_PER_HOUR: Decimal = Decimal::from_parts(3600, 0, 0, false, 0);
const WH_PER_KWH: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);

/// An amount excl. and incl. VAT, at full precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amount {
    pub excl_vat: Decimal,
    pub incl_vat: Decimal,
}

impl Amount {
    pub const ZERO: Amount = Amount {
        excl_vat: Decimal::ZERO,
        incl_vat: Decimal::ZERO,
    };

    fn of(component: &PriceComponent, excl: Decimal) -> Self {
        Self {
            excl_vat: excl,
            incl_vat: component.incl_vat(excl),
        }
    }

    pub fn round_dp(self, dp: u32) -> Self {
        Self {
            excl_vat: round_half_away(self.excl_vat, dp),
            incl_vat: round_half_away(self.incl_vat, dp),
        }
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, o: Amount) -> Amount {
        Amount {
            excl_vat: self.excl_vat + o.excl_vat,
            incl_vat: self.incl_vat + o.incl_vat,
        }
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, o: Amount) {
        *self = *self + o;
    }
}

pub fn round_half_away(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// How one dimension of one period was priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimensionLine {
    pub dimension: Dimension,
    /// Index into `tariff.elements`, `None` when no element priced this dimension (free).
    pub element: Option<usize>,
    pub component: Option<PriceComponent>,
    /// kWh for ENERGY, seconds for TIME and PARKING_TIME, 1 for FLAT.
    pub volume: Decimal,
    /// `volume` plus any step-size extra assigned to this period.
    pub billed_volume: Decimal,
    pub cost: Amount,
    /// The spot price added to a spot-indexed ENERGY component's markup (SPEC §13).
    pub spot: Option<crate::spot::SpotQuote>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodLine {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// In the order ENERGY, TIME, PARKING_TIME, FLAT; only dimensions present in the period
    /// (FLAT only where it was charged).
    pub lines: Vec<DimensionLine>,
}

impl PeriodLine {
    pub fn cost(&self) -> Amount {
        self.lines.iter().fold(Amount::ZERO, |acc, l| acc + l.cost)
    }

    pub fn line(&self, d: Dimension) -> Option<&DimensionLine> {
        self.lines.iter().find(|l| l.dimension == d)
    }
}

/// The priced session at full precision; round only for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricingResult {
    pub tariff_id: String,
    pub currency: String,
    pub time_zone: Tz,
    /// After `min_price`/`max_price`.
    pub total_cost: Amount,
    /// Sum of the dimension costs, before `min_price`/`max_price`.
    pub total_cost_before_limits: Amount,
    pub total_energy_cost: Amount,
    pub total_time_cost: Amount,
    pub total_parking_cost: Amount,
    pub total_fixed_cost: Amount,
    pub total_energy_kwh: Decimal,
    /// Session duration (charging and not charging), OCPI `total_time`.
    pub total_time_secs: Decimal,
    pub total_charging_time_secs: Decimal,
    pub total_parking_time_secs: Decimal,
    pub billed_energy_kwh: Decimal,
    pub billed_charging_time_secs: Decimal,
    pub billed_parking_time_secs: Decimal,
    pub periods: Vec<PeriodLine>,
    pub warnings: Vec<String>,
}

impl PricingResult {
    pub fn hours(secs: Decimal) -> Decimal {
        secs / SECS_PER_HOUR
    }
}

/// Prices `periods` (sorted by start, contiguous or not) with `tariff`. Restrictions are
/// evaluated in `tz`. Cumulative quantities count from the first period's start.
pub fn price_periods(periods: &[ChargingPeriod], tariff: &Tariff, tz: Tz) -> PricingResult {
    let mut warnings: Vec<String> = tariff.warnings.clone();
    let session_start = periods.first().map(|p| p.start);
    let mut energy_so_far = Decimal::ZERO;
    let mut flat_charged = false;
    let mut out_periods: Vec<PeriodLine> = Vec::with_capacity(periods.len());
    let uses_current = tariff
        .elements
        .iter()
        .any(|e| e.restrictions.min_current.is_some() || e.restrictions.max_current.is_some());
    let mut missing_current = false;

    for p in periods {
        let elapsed = session_start.map_or(Decimal::ZERO, |s| secs_between(s, p.start));
        let snap = Snapshot::new(p.start, tz, energy_so_far, elapsed);
        if uses_current && p.min_current.is_none() && p.max_current.is_none() {
            missing_current = true;
        }
        // First matching element per dimension, in one pass over the elements.
        let mut chosen: [Option<(usize, &PriceComponent)>; 4] = [None; 4];
        for (i, el) in tariff.elements.iter().enumerate() {
            if chosen.iter().all(Option::is_some) {
                break;
            }
            let wanted = Dimension::ALL
                .iter()
                .any(|d| chosen[d.slot()].is_none() && el.component(*d).is_some());
            if !wanted || !holds(&el.restrictions, &snap, p) {
                continue;
            }
            for d in Dimension::ALL {
                if chosen[d.slot()].is_none() {
                    if let Some(c) = el.component(d) {
                        chosen[d.slot()] = Some((i, c));
                    }
                }
            }
        }

        let mut lines = Vec::with_capacity(3);
        let volumes = [
            (Dimension::Energy, p.energy_kwh),
            (Dimension::Time, p.charging_secs),
            (Dimension::ParkingTime, p.parking_secs),
        ];
        for (d, vol) in volumes {
            let Some(vol) = vol else { continue };
            let pick = chosen[d.slot()];
            let spot = pick.and_then(|(_, c)| c.spot).and(p.spot);
            lines.push(DimensionLine {
                dimension: d,
                element: pick.map(|(i, _)| i),
                component: pick.map(|(_, c)| c.clone()),
                volume: vol,
                billed_volume: vol,
                cost: pick.map_or(Amount::ZERO, |(_, c)| line_cost(d, c, vol, spot)),
                spot,
            });
        }
        if !flat_charged {
            if let Some((i, c)) = chosen[Dimension::Flat.slot()] {
                flat_charged = true;
                lines.push(DimensionLine {
                    dimension: Dimension::Flat,
                    element: Some(i),
                    component: Some(c.clone()),
                    volume: Decimal::ONE,
                    billed_volume: Decimal::ONE,
                    cost: Amount::of(c, c.price),
                    spot: None,
                });
            }
        }
        energy_so_far += p.energy_kwh.unwrap_or_default();
        out_periods.push(PeriodLine {
            start: p.start,
            end: p.end,
            lines,
        });
    }
    if missing_current {
        warnings.push(
            "tariff has current restrictions but the periods carry no current; those restrictions were taken as met"
                .to_owned(),
        );
    }

    let total_energy_kwh = sum_volume(&out_periods, Dimension::Energy);
    let total_charging = sum_volume(&out_periods, Dimension::Time);
    let total_parking = sum_volume(&out_periods, Dimension::ParkingTime);

    let parking_priced = out_periods.iter().any(|p| {
        p.line(Dimension::ParkingTime)
            .is_some_and(|l| l.component.is_some())
    });
    let billed_energy = apply_step(&mut out_periods, Dimension::Energy, total_energy_kwh);
    let (billed_charging, billed_parking) = if parking_priced {
        (
            total_charging,
            apply_step(&mut out_periods, Dimension::ParkingTime, total_parking),
        )
    } else {
        (
            apply_step(&mut out_periods, Dimension::Time, total_charging),
            total_parking,
        )
    };

    let total_of = |d: Dimension| -> Amount {
        out_periods
            .iter()
            .filter_map(|p| p.line(d))
            .fold(Amount::ZERO, |acc, l| acc + l.cost)
    };
    let total_energy_cost = total_of(Dimension::Energy);
    let total_time_cost = total_of(Dimension::Time);
    let total_parking_cost = total_of(Dimension::ParkingTime);
    let total_fixed_cost = total_of(Dimension::Flat);
    let before = total_energy_cost + total_time_cost + total_parking_cost + total_fixed_cost;
    let total_cost = apply_limits(before, tariff, &mut warnings);

    let total_time_secs = match (periods.first(), periods.last()) {
        (Some(f), Some(l)) => secs_between(f.start, l.end),
        _ => Decimal::ZERO,
    };

    PricingResult {
        tariff_id: tariff.id.clone(),
        currency: tariff.currency.clone(),
        time_zone: tz,
        total_cost,
        total_cost_before_limits: before,
        total_energy_cost,
        total_time_cost,
        total_parking_cost,
        total_fixed_cost,
        total_energy_kwh,
        total_time_secs,
        total_charging_time_secs: total_charging,
        total_parking_time_secs: total_parking,
        billed_energy_kwh: billed_energy,
        billed_charging_time_secs: billed_charging,
        billed_parking_time_secs: billed_parking,
        periods: out_periods,
        warnings,
    }
}

/// The unit price of a line: the component's price, plus the interval's spot price when the
/// component is spot-indexed (its `price` is then the markup).
fn unit_price(c: &PriceComponent, spot: Option<crate::spot::SpotQuote>) -> Decimal {
    match (c.spot, spot) {
        (Some(_), Some(q)) => c.price + q.per_kwh,
        _ => c.price,
    }
}

fn line_cost(
    d: Dimension,
    c: &PriceComponent,
    volume: Decimal,
    spot: Option<crate::spot::SpotQuote>,
) -> Amount {
    let excl = match d {
        Dimension::Energy => volume * unit_price(c, spot),
        Dimension::Time | Dimension::ParkingTime => volume * c.price / SECS_PER_HOUR,
        Dimension::Flat => c.price,
    };
    Amount::of(c, excl)
}

fn sum_volume(periods: &[PeriodLine], d: Dimension) -> Decimal {
    periods
        .iter()
        .filter_map(|p| p.line(d))
        .map(|l| l.volume)
        .sum()
}

/// Rounds the session total of `d` up to the step size of the last period whose `d` was
/// priced and bills the extra volume there. Returns the billed total.
fn apply_step(periods: &mut [PeriodLine], d: Dimension, total: Decimal) -> Decimal {
    let Some(line) = periods.iter_mut().rev().find_map(|p| {
        p.lines
            .iter_mut()
            .find(|l| l.dimension == d && l.component.is_some())
    }) else {
        return total;
    };
    let Some(c) = line.component.clone() else {
        return total;
    };
    if c.step_size == 0 {
        return total;
    }
    let step = Decimal::from(c.step_size);
    // step_size is in Wh for energy and in seconds for time; our volumes are kWh and seconds.
    let unit_total = if d == Dimension::Energy {
        total * WH_PER_KWH
    } else {
        total
    };
    // Volumes are exact to well under a nano-unit; anything beyond 9 decimals is arithmetic
    // noise from summing divided values, and must not round a whole extra step up.
    let billed_units = (unit_total.round_dp(9) / step).ceil() * step;
    let billed = if d == Dimension::Energy {
        billed_units / WH_PER_KWH
    } else {
        billed_units
    };
    let extra = billed - total;
    if extra > Decimal::ZERO {
        line.billed_volume += extra;
        line.cost = line_cost(d, &c, line.billed_volume, line.spot);
    }
    billed
}

fn apply_limits(before: Amount, tariff: &Tariff, warnings: &mut Vec<String>) -> Amount {
    let mut total = before;
    // Without an explicit incl. VAT bound, the incl. total follows the excl. one at the
    // session's own effective VAT rate, so incl. never ends up below excl.
    let follow = |from: Amount, to_excl: Decimal| -> Decimal {
        if from.excl_vat.is_zero() {
            to_excl
        } else {
            from.incl_vat * to_excl / from.excl_vat
        }
    };
    if let Some(min) = tariff.min_price {
        if total.excl_vat < min.excl_vat {
            if min.incl_vat.is_none() {
                total.incl_vat = follow(total, min.excl_vat);
            }
            total.excl_vat = min.excl_vat;
            warnings.push(format!(
                "total excl. VAT raised to min_price {}",
                min.excl_vat
            ));
        }
        if let Some(incl) = min.incl_vat {
            if total.incl_vat < incl {
                total.incl_vat = incl;
                warnings.push(format!("total incl. VAT raised to min_price {incl}"));
            }
        }
    }
    if let Some(max) = tariff.max_price {
        if total.excl_vat > max.excl_vat {
            if max.incl_vat.is_none() {
                total.incl_vat = follow(total, max.excl_vat);
            }
            total.excl_vat = max.excl_vat;
            warnings.push(format!(
                "total excl. VAT capped at max_price {}",
                max.excl_vat
            ));
        }
        if let Some(incl) = max.incl_vat {
            if total.incl_vat > incl {
                total.incl_vat = incl;
                warnings.push(format!("total incl. VAT capped at max_price {incl}"));
            }
        }
    }
    total
}
