//! Whether a tariff element's restrictions hold for a charging period.
//!
//! Every restriction is evaluated once, at the start of the period (OCPI leaves the instant
//! open; the reference implementation and CPOs use the period start). That is only correct if
//! no restriction outcome changes inside a period, which is why [`super::periods`] splits
//! derived periods at every such instant. Cumulative quantities (kWh, duration) are the
//! session totals *before* the period; current and power are the period's own values.

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;

use super::periods::ChargingPeriod;
use super::tariff::Restrictions;

/// Session state at the start of a period.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    pub local: NaiveDateTime,
    pub energy_kwh: Decimal,
    pub elapsed_secs: Decimal,
}

impl Snapshot {
    pub fn new(
        at: DateTime<Utc>,
        tz: chrono_tz::Tz,
        energy_kwh: Decimal,
        elapsed_secs: Decimal,
    ) -> Self {
        Self {
            local: at.with_timezone(&tz).naive_local(),
            energy_kwh,
            elapsed_secs,
        }
    }
}

/// Time-of-day window. `end_time` is exclusive; an `end_time` before `start_time` wraps past
/// midnight; `end_time` 00:00 means "until midnight", and equal start and end mean all day
/// (a 24-hour window that wraps onto itself).
pub(crate) fn time_window_holds(
    start: Option<NaiveTime>,
    end: Option<NaiveTime>,
    t: NaiveTime,
) -> bool {
    let midnight = NaiveTime::MIN;
    match (start, end) {
        (None, None) => true,
        (Some(s), None) => t >= s,
        (None, Some(e)) => e == midnight || t < e,
        (Some(s), Some(e)) if s == e => true,
        (Some(s), Some(e)) if e == midnight => t >= s,
        (Some(s), Some(e)) if s < e => s <= t && t < e,
        (Some(s), Some(e)) => t >= s || t < e,
    }
}

pub(crate) fn holds(r: &Restrictions, at: &Snapshot, p: &ChargingPeriod) -> bool {
    if r.reservation.is_some() {
        return false;
    }
    if !time_window_holds(r.start_time, r.end_time, at.local.time()) {
        return false;
    }
    let date = at.local.date();
    if r.start_date.is_some_and(|d| date < d) || r.end_date.is_some_and(|d| date >= d) {
        return false;
    }
    if !r.day_of_week.is_empty() && !r.day_of_week.contains(date.weekday()) {
        return false;
    }
    if r.min_kwh.is_some_and(|k| at.energy_kwh < k) || r.max_kwh.is_some_and(|k| at.energy_kwh >= k)
    {
        return false;
    }
    if r.min_duration
        .is_some_and(|d| at.elapsed_secs < Decimal::from(d))
        || r.max_duration
            .is_some_and(|d| at.elapsed_secs >= Decimal::from(d))
    {
        return false;
    }
    // Instantaneous limits: the element applies while the peak reaches the minimum and the low
    // stays under the maximum. An unknown value cannot refute the restriction.
    if let Some(min) = r.min_current {
        if p.max_current.is_some_and(|c| c < min) {
            return false;
        }
    }
    if let Some(max) = r.max_current {
        if p.min_current.is_some_and(|c| c >= max) {
            return false;
        }
    }
    if let Some(min) = r.min_power {
        if p.max_power.is_some_and(|c| c < min) {
            return false;
        }
    }
    if let Some(max) = r.max_power {
        if p.min_power.is_some_and(|c| c >= max) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    #[test]
    fn windows() {
        let w = |s: Option<NaiveTime>, e: Option<NaiveTime>, at| time_window_holds(s, e, at);
        // plain window, end exclusive
        assert!(w(Some(t(9, 0)), Some(t(18, 0)), t(9, 0)));
        assert!(!w(Some(t(9, 0)), Some(t(18, 0)), t(18, 0)));
        // wraps past midnight
        assert!(w(Some(t(22, 0)), Some(t(6, 0)), t(23, 30)));
        assert!(w(Some(t(22, 0)), Some(t(6, 0)), t(0, 0)));
        assert!(!w(Some(t(22, 0)), Some(t(6, 0)), t(6, 0)));
        assert!(!w(Some(t(22, 0)), Some(t(6, 0)), t(12, 0)));
        // end 00:00 = until midnight
        assert!(w(Some(t(20, 0)), Some(t(0, 0)), t(23, 59)));
        assert!(!w(Some(t(20, 0)), Some(t(0, 0)), t(0, 0)));
        assert!(w(None, Some(t(0, 0)), t(12, 0)));
        // equal ends: whole day
        assert!(w(Some(t(7, 0)), Some(t(7, 0)), t(3, 0)));
        // one-sided
        assert!(!w(Some(t(7, 0)), None, t(6, 59)));
        assert!(w(None, Some(t(7, 0)), t(6, 59)));
    }
}
