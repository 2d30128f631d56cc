//! Charging periods: the engine's input, and their derivation from meter readings.
//!
//! The engine evaluates restrictions at each period's start, so a derived period must not
//! straddle an instant where some restriction's outcome could flip. We therefore cut every
//! meter interval at: local times of day named by the tariff (and local midnight when dates or
//! weekdays matter), daylight-saving transitions (local time jumps there), and the instants the
//! session crosses a kWh or duration threshold. Energy inside a meter interval is assumed to
//! flow at a constant rate; a kWh threshold is therefore found by linear interpolation, and the
//! energy on each side is exact (the cut carries exactly the threshold value).

use chrono::{DateTime, Days, LocalResult, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::tariff::Tariff;

/// One period as the engine sees it. Volumes are `None` when the period does not have that
/// dimension at all (OCPI: the dimension is absent), which matters for step-size placement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChargingPeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub energy_kwh: Option<Decimal>,
    /// Charging time (OCPI `TIME`), in seconds.
    pub charging_secs: Option<Decimal>,
    /// Not charging (OCPI `PARKING_TIME`), in seconds.
    pub parking_secs: Option<Decimal>,
    /// Amperes summed over phases, kW.
    pub min_current: Option<Decimal>,
    pub max_current: Option<Decimal>,
    pub min_power: Option<Decimal>,
    pub max_power: Option<Decimal>,
    /// SPEC §13: the day-ahead price of the quarter-hour this period lies in, for tariffs
    /// with a spot-indexed ENERGY component (set by `pricing::spot`, never by the engine).
    pub spot: Option<crate::spot::SpotQuote>,
}

pub fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> Decimal {
    let d = b - a;
    // Scaling by 9 places instead of dividing: exact, and much cheaper on the hot path.
    match d.num_nanoseconds() {
        Some(n) => Decimal::new(n, 9).normalize(),
        None => Decimal::from(d.num_seconds()),
    }
}

/// A cumulative meter reading relative to the session start (kWh since start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub at: DateTime<Utc>,
    pub kwh: Decimal,
}

/// Builds periods from consecutive readings (the first at session start, the last at session
/// end) and splits them wherever `tariff` could change its mind.
pub fn derive_periods(readings: &[Reading], tariff: &Tariff, tz: Tz) -> Vec<ChargingPeriod> {
    let Some(first) = readings.first() else {
        return Vec::new();
    };
    let session_end = readings.last().map_or(first.at, |r| r.at);
    let cuts = CutPlan::new(tariff, first.at, session_end, tz);
    let mut out = Vec::with_capacity(readings.len());
    let mut points: Vec<Reading> = Vec::new();
    for w in readings.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.at <= a.at {
            continue;
        }
        points.clear();
        cuts.cut(a, b, &mut points);
        let energy = b.kwh - a.kwh;
        let hours = secs_between(a.at, b.at) / Decimal::from(3600);
        let power = if energy.is_zero() || hours.is_zero() {
            None
        } else {
            energy.checked_div(hours)
        };
        for p in points.windows(2) {
            let (s, e) = (p[0], p[1]);
            if e.at <= s.at {
                continue;
            }
            let secs = secs_between(s.at, e.at);
            out.push(if energy.is_zero() {
                ChargingPeriod {
                    start: s.at,
                    end: e.at,
                    parking_secs: Some(secs),
                    ..ChargingPeriod::default()
                }
            } else {
                ChargingPeriod {
                    start: s.at,
                    end: e.at,
                    energy_kwh: Some(e.kwh - s.kwh),
                    charging_secs: Some(secs),
                    min_power: power,
                    max_power: power,
                    ..ChargingPeriod::default()
                }
            });
        }
    }
    out
}

/// What the tariff makes worth cutting at, computed once per session: the instants where a
/// time-based outcome can change (local times of day, local midnight, offset changes,
/// duration thresholds), and the kWh thresholds (placed per meter interval).
struct CutPlan {
    instants: Vec<DateTime<Utc>>,
    kwh: Vec<Decimal>,
}

impl CutPlan {
    fn new(tariff: &Tariff, start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> Self {
        let mut times = tariff.time_boundaries();
        if tariff.has_day_restrictions() && !times.contains(&NaiveTime::MIN) {
            times.push(NaiveTime::MIN);
        }
        let mut instants = Vec::new();
        if !times.is_empty() {
            instants.extend(local_cuts(&times, start, end, tz));
            instants.extend(offset_transitions(start, end, tz));
        }
        for d in tariff.duration_boundaries() {
            let t = i64::try_from(d)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .and_then(|dt| start.checked_add_signed(dt));
            if let Some(t) = t {
                instants.push(t);
            }
        }
        instants.retain(|t| start < *t && *t < end);
        instants.sort();
        instants.dedup();
        Self {
            instants,
            kwh: tariff.kwh_boundaries(),
        }
    }

    /// Pushes `a`, every cut strictly inside (a, b) with its interpolated energy, then `b`.
    fn cut(&self, a: Reading, b: Reading, out: &mut Vec<Reading>) {
        let span_ns = (b.at - a.at).num_nanoseconds().unwrap_or(i64::MAX);
        let de = b.kwh - a.kwh;
        let energy_at = |t: DateTime<Utc>| -> Decimal {
            let ns = (t - a.at).num_nanoseconds().unwrap_or(0);
            if span_ns == 0 || de.is_zero() {
                return a.kwh;
            }
            // Rounded to 1e-12 kWh (a nano-Wh) so every cut point is a short exact decimal:
            // piece energies are then exact differences and sum back to the metered total
            // with no 28th-digit noise (which a step-size ceiling would turn into a whole step).
            (a.kwh + de * Decimal::from(ns) / Decimal::from(span_ns)).round_dp(12)
        };
        out.push(a);
        let inside = |t: &DateTime<Utc>| a.at < *t && *t < b.at;
        let from = self.instants.partition_point(|t| *t <= a.at);
        for &t in self.instants[from..].iter().take_while(|t| **t < b.at) {
            out.push(Reading {
                at: t,
                kwh: energy_at(t),
            });
        }
        if de > Decimal::ZERO {
            for &k in &self.kwh {
                if a.kwh < k && k < b.kwh {
                    let frac = (k - a.kwh) / de;
                    let ns = (frac * Decimal::from(span_ns)).round();
                    let ns = i64::try_from(ns).unwrap_or(span_ns);
                    let t = a.at + TimeDelta::nanoseconds(ns);
                    if inside(&t) {
                        out.push(Reading { at: t, kwh: k });
                    }
                }
            }
        }
        out.push(b);
        out.sort_by_key(|r| r.at);
        // Interpolated energies can disagree with an exact kWh cut by rounding at the last
        // digit; keep the series monotone so no piece gets negative energy.
        let mut max = a.kwh;
        for r in out.iter_mut() {
            if r.kwh < max {
                r.kwh = max;
            }
            if r.kwh > b.kwh {
                r.kwh = b.kwh;
            }
            max = r.kwh;
        }
        out.dedup_by(|later, earlier| {
            if later.at == earlier.at {
                earlier.kwh = earlier.kwh.max(later.kwh);
                true
            } else {
                false
            }
        });
    }
}

/// UTC instants at which the local clock reads one of `times`, for every local day touching
/// [a, b]. A time skipped by a spring-forward gap maps to the end of the gap (when the clock
/// first reads a later time); a repeated time in a fall-back hour yields both instants.
fn local_cuts(
    times: &[NaiveTime],
    a: DateTime<Utc>,
    b: DateTime<Utc>,
    tz: Tz,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let first = a.with_timezone(&tz).date_naive();
    let last = b.with_timezone(&tz).date_naive();
    let mut day = first.checked_sub_days(Days::new(1)).unwrap_or(first);
    while day <= last {
        for &t in times {
            let naive = day.and_time(t);
            match tz.from_local_datetime(&naive) {
                LocalResult::Single(x) => out.push(x.with_timezone(&Utc)),
                LocalResult::Ambiguous(x, y) => {
                    out.push(x.with_timezone(&Utc));
                    out.push(y.with_timezone(&Utc));
                }
                LocalResult::None => {
                    // Walk forward to the first local minute that exists: that is the instant
                    // the clock jumps over `t`.
                    let mut probe = naive;
                    for _ in 0..(26 * 60) {
                        probe += TimeDelta::minutes(1);
                        if let Some(x) = tz.from_local_datetime(&probe).earliest() {
                            let x = x.with_timezone(&Utc);
                            // the jump happened at or before x: find the exact transition
                            out.push(transition_before(x, tz));
                            break;
                        }
                    }
                }
            }
        }
        match day.checked_add_days(Days::new(1)) {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

fn offset_secs(t: DateTime<Utc>, tz: Tz) -> i32 {
    tz.offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The latest instant ≤ `x` at which the UTC offset changed, searched within the previous day.
fn transition_before(x: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let lo = x - TimeDelta::days(1);
    offset_transitions(lo, x, tz)
        .into_iter()
        .next_back()
        .unwrap_or(x)
}

/// Instants in (a, b] at which the zone's UTC offset changes, found by bisection to the second.
fn offset_transitions(a: DateTime<Utc>, b: DateTime<Utc>, tz: Tz) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    // Offsets change at most a few times a year; checking every 12 hours cannot miss one.
    let step = TimeDelta::hours(12);
    let mut lo = a;
    while lo < b {
        let hi = (lo + step).min(b);
        let (o_lo, o_hi) = (offset_secs(lo, tz), offset_secs(hi, tz));
        if o_lo != o_hi {
            let (mut l, mut h) = (lo, hi);
            while h - l > TimeDelta::seconds(1) {
                let mid = l + (h - l) / 2;
                if offset_secs(mid, tz) == o_lo {
                    l = mid;
                } else {
                    h = mid;
                }
            }
            // transitions fall on whole seconds
            let secs = h.timestamp();
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or(h);
            out.push(if offset_secs(t, tz) == o_lo { h } else { t });
        }
        lo = hi;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::json::parse_datetime;
    use crate::pricing::tariff::parse_tariff;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        parse_datetime(s).unwrap_or_default()
    }

    #[test]
    fn oslo_transitions_are_found_to_the_second() {
        let tz: Tz = chrono_tz::Europe::Oslo;
        let spring = offset_transitions(at("2026-03-28T12:00:00Z"), at("2026-03-29T12:00:00Z"), tz);
        assert_eq!(spring, vec![at("2026-03-29T01:00:00Z")]);
        let autumn = offset_transitions(at("2026-10-24T12:00:00Z"), at("2026-10-25T12:00:00Z"), tz);
        assert_eq!(autumn, vec![at("2026-10-25T01:00:00Z")]);
    }

    #[test]
    fn skipped_local_time_cuts_at_the_jump() {
        let tz: Tz = chrono_tz::Europe::Oslo;
        let t = NaiveTime::from_hms_opt(2, 30, 0).unwrap_or(NaiveTime::MIN);
        let cuts = local_cuts(
            &[t],
            at("2026-03-29T00:00:00Z"),
            at("2026-03-29T02:00:00Z"),
            tz,
        );
        assert!(cuts.contains(&at("2026-03-29T01:00:00Z")), "{cuts:?}");
        let cuts = local_cuts(
            &[t],
            at("2026-10-25T00:00:00Z"),
            at("2026-10-25T02:00:00Z"),
            tz,
        );
        assert!(
            cuts.contains(&at("2026-10-25T00:30:00Z"))
                && cuts.contains(&at("2026-10-25T01:30:00Z"))
        );
    }

    #[test]
    fn splits_at_time_kwh_and_duration_thresholds() -> Result<(), Box<dyn std::error::Error>> {
        let tariff = parse_tariff(&json!({
            "id": "x", "currency": "NOK",
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                 "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
                {"price_components": [{"type": "ENERGY", "price": 2, "step_size": 1}],
                 "restrictions": {"max_kwh": 5}},
                {"price_components": [{"type": "TIME", "price": 2, "step_size": 1}],
                 "restrictions": {"min_duration": 1800}}
            ]
        }))?;
        // 16:00-18:00 Oslo winter (UTC+1) = 15:00-17:00Z, 10 kWh at constant rate
        let readings = [
            Reading {
                at: at("2026-01-05T15:00:00Z"),
                kwh: dec!(0),
            },
            Reading {
                at: at("2026-01-05T17:00:00Z"),
                kwh: dec!(10),
            },
        ];
        let ps = derive_periods(&readings, &tariff, chrono_tz::Europe::Oslo);
        let starts: Vec<String> = ps
            .iter()
            .map(|p| p.start.format("%H:%M").to_string())
            .collect();
        // 15:30 = 30 min duration; 16:00 = 17:00 local; 16:00 also 5 kWh
        assert_eq!(starts, vec!["15:00", "15:30", "16:00"]);
        let energy: Vec<Decimal> = ps.iter().filter_map(|p| p.energy_kwh).collect();
        assert_eq!(energy, vec![dec!(2.5), dec!(2.5), dec!(5)]);
        Ok(())
    }
}
