//! The Type A body (SPEC §6 `CreateMeterValuesSeries`): a session's energy cut into UTC hour
//! or quarter-hour intervals.
//!
//! UC bills each interval, so the intervals must add up to exactly the consumption the
//! connector reports elsewhere (`fullConsumptionKWh`). Rounding each interval on its own
//! would drift by up to half a Wh per interval; instead the cumulative energy is rounded at
//! every cut and the quantities are differences of those, so their sum telescopes to the
//! rounded total. Cuts are UTC instants, so a DST change in the site's zone cannot create a
//! short or long interval.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::session::SessionCompleted;

pub const UNIT_KWH: &str = "kWh";

/// Interval length of a meter-value series, as UC names it (ISO 8601 durations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
// The variant names are UC's wire values; spelling them otherwise would need renames.
#[allow(clippy::upper_case_acronyms)]
pub enum Resolution {
    PT60M,
    PT15M,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::PT60M => "PT60M",
            Resolution::PT15M => "PT15M",
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Resolution::PT60M => 3600,
            Resolution::PT15M => 900,
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a supported meter value resolution (PT60M or PT15M)")]
pub struct UnknownResolution(pub String);

impl FromStr for Resolution {
    type Err = UnknownResolution;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PT60M" => Ok(Resolution::PT60M),
            "PT15M" => Ok(Resolution::PT15M),
            other => Err(UnknownResolution(other.to_owned())),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MeterValuesPayload {
    pub accounting_point_identifier: String,
    pub transaction_id: String,
    #[serde(with = "utc_seconds")]
    pub start: DateTime<Utc>,
    #[serde(with = "utc_seconds")]
    pub end: DateTime<Utc>,
    pub unit: String,
    pub resolution: Resolution,
    pub values: Vec<MeterInterval>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MeterInterval {
    #[serde(with = "utc_seconds")]
    pub from: DateTime<Utc>,
    #[serde(with = "utc_seconds")]
    pub to: DateTime<Utc>,
    /// kWh, always 3 decimals.
    #[serde(serialize_with = "kwh_number", deserialize_with = "decimal")]
    pub quantity: Decimal,
}

impl MeterValuesPayload {
    /// Sum of the interval quantities (equals the session's `fullConsumptionKWh`).
    pub fn total_kwh(&self) -> Decimal {
        self.values.iter().map(|v| v.quantity).sum()
    }
}

/// Builds the series for one completed session. Pure and total: a session that bypassed
/// validation (unsorted or out-of-range readings) still yields consecutive intervals with
/// non-negative quantities summing to `full_consumption_kwh()`.
pub fn build_meter_series(
    session: &SessionCompleted,
    accounting_point: &str,
    resolution: Resolution,
) -> MeterValuesPayload {
    let cut = cut_energy(session, resolution);
    MeterValuesPayload {
        accounting_point_identifier: accounting_point.to_owned(),
        transaction_id: session.transaction_id.clone(),
        start: cut.start,
        end: cut.end,
        unit: UNIT_KWH.to_owned(),
        resolution,
        values: cut
            .intervals
            .into_iter()
            .map(|(from, to, quantity)| MeterInterval { from, to, quantity })
            .collect(),
    }
}

/// A session's energy cut at UTC resolution boundaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnergyCut {
    /// Session start and end, truncated to whole seconds.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Consecutive `(from, to, kWh)` covering `start..end`; kWh with 3 decimals, summing
    /// exactly to the session's consumption (rounded to 3 decimals). One interval of
    /// length zero for a zero-length session.
    pub intervals: Vec<(DateTime<Utc>, DateTime<Utc>, Decimal)>,
}

/// The one interpolation/cut function behind both the Type A series and spot pricing
/// (SPEC §6, §13): cumulative energy from the meter values, linear between readings (evenly
/// spread without any), rounded to whole Wh at every UTC multiple of `resolution`, and the
/// interval quantities taken as differences, so they telescope to the total.
pub fn cut_energy(session: &SessionCompleted, resolution: Resolution) -> EnergyCut {
    // UC's times have whole seconds; cutting on the truncated instants keeps the text of
    // every interval consecutive even when the charger reported milliseconds.
    let start = session.timestamp_start.trunc_subsecs(0);
    let end = session.timestamp_end.trunc_subsecs(0).max(start);
    let total = kwh3(session.full_consumption_kwh());

    let intervals = if end == start {
        vec![(start, end, total)]
    } else {
        let curve = EnergyCurve::new(session, total);
        let mut cuts = vec![start];
        cuts.extend(boundaries(start, end, resolution));
        cuts.push(end);
        let cumulative: Vec<Decimal> = cuts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i + 1 == cuts.len() {
                    total
                } else {
                    curve.at(*t)
                }
            })
            .collect();
        cuts.windows(2)
            .zip(cumulative.windows(2))
            .map(|(t, e)| (t[0], t[1], kwh3(e[1] - e[0])))
            .collect()
    };
    EnergyCut {
        start,
        end,
        intervals,
    }
}

/// The UTC multiples of the resolution strictly inside `start..end`.
fn boundaries(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    resolution: Resolution,
) -> impl Iterator<Item = DateTime<Utc>> {
    let step = resolution.seconds();
    let first = (start.timestamp().div_euclid(step) + 1).saturating_mul(step);
    let last = end.timestamp();
    std::iter::successors(Some(first), move |s| s.checked_add(step))
        .take_while(move |s| *s < last)
        .filter_map(|s| Utc.timestamp_opt(s, 0).single())
}

/// Cumulative energy since session start, piecewise linear between readings.
struct EnergyCurve {
    /// (instant, kWh since start), sorted by instant, non-decreasing and within 0..=total.
    points: Vec<(DateTime<Utc>, Decimal)>,
}

impl EnergyCurve {
    fn new(session: &SessionCompleted, total: Decimal) -> Self {
        let since_start = |wh: Decimal| (wh - session.meter_read_start_wh) / Decimal::ONE_THOUSAND;
        let mut points = Vec::with_capacity(session.meter_values.len() + 2);
        points.push((session.timestamp_start, Decimal::ZERO));
        let mut inner: Vec<(DateTime<Utc>, Decimal)> = session
            .meter_values
            .iter()
            .filter(|mv| {
                mv.timestamp > session.timestamp_start && mv.timestamp < session.timestamp_end
            })
            .map(|mv| (mv.timestamp, since_start(mv.energy_wh)))
            .collect();
        inner.sort_by_key(|(t, _)| *t);
        points.extend(inner);
        points.push((session.timestamp_end, total));
        // A meter never runs backwards; clamping keeps every quantity non-negative even
        // if a reading slipped past validation.
        let mut high = Decimal::ZERO;
        for (_, e) in &mut points {
            high = (*e).clamp(high, total.max(high));
            *e = high;
        }
        EnergyCurve { points }
    }

    /// Energy at `t` rounded to whole Wh (3 decimals of kWh).
    fn at(&self, t: DateTime<Utc>) -> Decimal {
        let after = self.points.partition_point(|(pt, _)| *pt <= t);
        let exact = match (
            after.checked_sub(1).and_then(|i| self.points.get(i)),
            self.points.get(after),
        ) {
            (Some(&(t0, e0)), Some(&(t1, e1))) => {
                let span = (t1 - t0).num_milliseconds();
                if span <= 0 {
                    e1
                } else {
                    let done = (t - t0).num_milliseconds();
                    e0 + (e1 - e0) * Decimal::from(done) / Decimal::from(span)
                }
            }
            (Some(&(_, e)), None) | (None, Some(&(_, e))) => e,
            (None, None) => Decimal::ZERO,
        };
        kwh3(exact)
    }
}

fn kwh3(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(3);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r
}

fn kwh_number<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    // serde_json's arbitrary_precision keeps the digits as written: 2.210, not 2.21.
    serde_json::Number::from_str(&kwh3(*d).to_string())
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}

fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    crate::decimal::deserialize(d)
}

mod utc_seconds {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::utc_text(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not RFC 3339: {e}")))
    }
}

/// RFC 3339, UTC with `Z`, whole seconds: the form UC's examples use.
pub fn utc_text(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(0)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::MeterValue;
    use chrono::{Duration, NaiveDate};
    use chrono_tz::Europe::Oslo;
    use proptest::prelude::*;
    use serde_json::Value;

    const SCHEMA: &str = include_str!("../../schemas/uc-meter-values.schema.json");

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn session(start: &str, end: &str, wh: (i64, i64), mvs: &[(&str, i64)]) -> SessionCompleted {
        session_at(
            utc(start),
            utc(end),
            wh,
            mvs.iter().map(|(t, e)| (utc(t), *e)).collect(),
        )
    }

    fn session_at(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        wh: (i64, i64),
        mvs: Vec<(DateTime<Utc>, i64)>,
    ) -> SessionCompleted {
        SessionCompleted {
            customer_id: "emb-cust-0042".into(),
            transaction_id: "88812345".into(),
            charger_id: None,
            socket_id: None,
            site_id: Some(1042),
            authorized_id_tag: "v:7K2M9QXR4T8B3N5P".into(),
            authorized_tag_name: None,
            timestamp_start: start,
            timestamp_end: end,
            meter_read_start_wh: Decimal::from(wh.0),
            meter_read_end_wh: Decimal::from(wh.1),
            meter_values: mvs
                .into_iter()
                .map(|(timestamp, e)| MeterValue {
                    timestamp,
                    energy_wh: Decimal::from(e),
                })
                .collect(),
            charging_periods: None,
        }
    }

    fn validator() -> jsonschema::Validator {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    }

    /// Every structural promise of the series, checked on the JSON UC would receive.
    fn assert_well_formed(p: &MeterValuesPayload, s: &SessionCompleted) {
        assert_eq!(p.total_kwh(), s.full_consumption_kwh(), "{p:#?}");
        assert_eq!(p.values.first().unwrap().from, p.start);
        assert_eq!(p.values.last().unwrap().to, p.end);
        for w in p.values.windows(2) {
            assert_eq!(w[0].to, w[1].from);
        }
        let step = p.resolution.seconds();
        for v in &p.values {
            assert!(v.quantity >= Decimal::ZERO);
            assert_eq!(v.quantity.scale(), 3);
            assert!(v.from <= v.to);
            assert!((v.to - v.from).num_seconds() <= step);
            if v.to != p.end {
                assert_eq!(v.to.timestamp().rem_euclid(step), 0, "cut off boundary");
            }
        }
        let json = serde_json::to_value(p).unwrap();
        let errors: Vec<String> = validator()
            .iter_errors(&json)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        let back: MeterValuesPayload = serde_json::from_value(json).unwrap();
        assert_eq!(&back, p);
    }

    fn quantities(p: &MeterValuesPayload) -> Vec<String> {
        p.values.iter().map(|v| v.quantity.to_string()).collect()
    }

    #[test]
    fn spec_example_is_cut_at_utc_hours_with_linear_energy() {
        let s = session(
            "2026-11-20T16:42:10Z",
            "2026-11-20T21:03:55Z",
            (1_523_400, 1_546_150),
            &[("2026-11-20T17:00:00Z", 1_525_610)],
        );
        let p = build_meter_series(&s, "707057500012345678", Resolution::PT60M);
        assert_well_formed(&p, &s);
        let spans: Vec<(String, String)> = p
            .values
            .iter()
            .map(|v| (utc_text(v.from), utc_text(v.to)))
            .collect();
        assert_eq!(
            spans,
            vec![
                ("2026-11-20T16:42:10Z".into(), "2026-11-20T17:00:00Z".into()),
                ("2026-11-20T17:00:00Z".into(), "2026-11-20T18:00:00Z".into()),
                ("2026-11-20T18:00:00Z".into(), "2026-11-20T19:00:00Z".into()),
                ("2026-11-20T19:00:00Z".into(), "2026-11-20T20:00:00Z".into()),
                ("2026-11-20T20:00:00Z".into(), "2026-11-20T21:00:00Z".into()),
                ("2026-11-20T21:00:00Z".into(), "2026-11-20T21:03:55Z".into()),
            ]
        );
        // 17:00..21:03:55 is 14635 s carrying 20540 Wh: 5.052 kWh per full hour, the
        // cumulative rounded at each cut.
        assert_eq!(
            quantities(&p),
            vec!["2.210", "5.053", "5.052", "5.053", "5.052", "0.330"]
        );
        assert_eq!(p.total_kwh().to_string(), "22.750");
    }

    #[test]
    fn json_matches_the_spec_shape_with_three_decimal_numbers() {
        let s = session(
            "2026-11-20T16:42:10Z",
            "2026-11-20T17:30:00Z",
            (1_523_400, 1_526_000),
            &[("2026-11-20T17:00:00Z", 1_525_610)],
        );
        let p = build_meter_series(&s, "707057500012345678", Resolution::PT60M);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            text,
            r#"{"AccountingPointIdentifier":"707057500012345678","TransactionId":"88812345","Start":"2026-11-20T16:42:10Z","End":"2026-11-20T17:30:00Z","Unit":"kWh","Resolution":"PT60M","Values":[{"From":"2026-11-20T16:42:10Z","To":"2026-11-20T17:00:00Z","Quantity":2.210},{"From":"2026-11-20T17:00:00Z","To":"2026-11-20T17:30:00Z","Quantity":0.390}]}"#
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["Values"][0]["Quantity"].is_number());
    }

    #[test]
    fn without_meter_values_energy_spreads_evenly() {
        let s = session(
            "2026-03-02T10:30:00Z",
            "2026-03-02T12:30:00Z",
            (0, 10_000),
            &[],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT60M);
        assert_well_formed(&p, &s);
        assert_eq!(quantities(&p), vec!["2.500", "5.000", "2.500"]);
    }

    #[test]
    fn quarter_hours() {
        let s = session(
            "2026-03-02T10:07:00Z",
            "2026-03-02T11:00:00Z",
            (100, 5_400),
            &[("2026-03-02T10:30:00Z", 2_400)],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT15M);
        assert_well_formed(&p, &s);
        let tos: Vec<String> = p.values.iter().map(|v| utc_text(v.to)).collect();
        assert_eq!(
            tos,
            vec![
                "2026-03-02T10:15:00Z",
                "2026-03-02T10:30:00Z",
                "2026-03-02T10:45:00Z",
                "2026-03-02T11:00:00Z"
            ]
        );
        // 10:07..10:30 carries 2.3 kWh over 23 minutes; 10:30..11:00 carries 3.0 kWh.
        assert_eq!(quantities(&p), vec!["0.800", "1.500", "1.500", "1.500"]);
    }

    #[test]
    fn a_session_inside_one_interval_is_one_interval() {
        let s = session(
            "2026-03-02T10:07:00Z",
            "2026-03-02T10:09:00Z",
            (0, 333),
            &[],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT15M);
        assert_well_formed(&p, &s);
        assert_eq!(quantities(&p), vec!["0.333"]);
    }

    #[test]
    fn a_session_ending_on_a_boundary_has_no_empty_tail() {
        let s = session(
            "2026-03-02T09:00:00Z",
            "2026-03-02T11:00:00Z",
            (0, 2_000),
            &[],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT60M);
        assert_well_formed(&p, &s);
        assert_eq!(quantities(&p), vec!["1.000", "1.000"]);
    }

    #[test]
    fn zero_length_session_is_one_empty_interval() {
        let s = session("2026-03-02T10:07:00Z", "2026-03-02T10:07:00Z", (5, 5), &[]);
        let p = build_meter_series(&s, "ap", Resolution::PT60M);
        assert_well_formed(&p, &s);
        assert_eq!(p.values.len(), 1);
        assert_eq!(quantities(&p), vec!["0.000"]);
        assert!(serde_json::to_string(&p)
            .unwrap()
            .contains(r#""Quantity":0.000}"#));
    }

    #[test]
    fn sub_second_times_are_cut_on_whole_seconds() {
        let s = session_at(
            utc("2026-03-02T10:59:59.700Z"),
            utc("2026-03-02T11:00:00.300Z"),
            (0, 7),
            vec![],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT60M);
        assert_well_formed(&p, &s);
        assert_eq!(utc_text(p.start), "2026-03-02T10:59:59Z");
        assert_eq!(utc_text(p.end), "2026-03-02T11:00:00Z");
        assert_eq!(p.values.len(), 1);
    }

    #[test]
    fn idle_hours_carry_zero() {
        let s = session(
            "2026-03-02T10:00:00Z",
            "2026-03-02T13:00:00Z",
            (0, 4_000),
            &[
                ("2026-03-02T11:00:00Z", 4_000),
                ("2026-03-02T12:00:00Z", 4_000),
            ],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT60M);
        assert_well_formed(&p, &s);
        assert_eq!(quantities(&p), vec!["4.000", "0.000", "0.000"]);
    }

    /// The nights Oslo moves its clocks: local 02:00–03:00 is skipped (March) or happens
    /// twice (October). UTC cuts make every full interval exactly one hour regardless.
    #[test]
    fn oslo_dst_nights_have_whole_utc_hours() {
        for (day, local_start) in [
            (NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), (0, 30)),
            (NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(), (0, 30)),
        ] {
            let start = Oslo
                .from_local_datetime(&day.and_hms_opt(local_start.0, local_start.1, 0).unwrap())
                .single()
                .unwrap()
                .with_timezone(&Utc);
            let end = start + Duration::hours(5);
            let mid = start + Duration::minutes(150);
            let s = session_at(start, end, (1_000, 31_000), vec![(mid, 11_000)]);
            for res in [Resolution::PT60M, Resolution::PT15M] {
                let p = build_meter_series(&s, "ap", res);
                assert_well_formed(&p, &s);
                let full = p
                    .values
                    .iter()
                    .filter(|v| (v.to - v.from).num_seconds() == res.seconds())
                    .count();
                let expected = if res == Resolution::PT60M { 4 } else { 20 };
                assert_eq!(full, expected, "{day} {res}");
            }
        }
    }

    #[test]
    fn unvalidated_sessions_still_give_sound_series() {
        // Readings out of order and beyond the end reading: clamped, never negative.
        let s = session(
            "2026-03-02T10:00:00Z",
            "2026-03-02T13:00:00Z",
            (1_000, 2_000),
            &[
                ("2026-03-02T12:00:00Z", 900),
                ("2026-03-02T11:00:00Z", 5_000),
            ],
        );
        let p = build_meter_series(&s, "ap", Resolution::PT60M);
        assert_well_formed(&p, &s);
    }

    #[test]
    fn resolution_parses_the_tenant_values_only() {
        assert_eq!("PT60M".parse(), Ok(Resolution::PT60M));
        assert_eq!("PT15M".parse(), Ok(Resolution::PT15M));
        assert!("PT30M".parse::<Resolution>().is_err());
        assert!("pt60m".parse::<Resolution>().is_err());
        assert_eq!(
            crate::tenant::DEFAULT_METER_VALUE_RESOLUTION.parse(),
            Ok(Resolution::PT60M)
        );
    }

    #[test]
    fn schema_refuses_price_fields() {
        let s = session(
            "2026-03-02T10:00:00Z",
            "2026-03-02T11:00:00Z",
            (0, 1_000),
            &[],
        );
        let mut json =
            serde_json::to_value(build_meter_series(&s, "ap", Resolution::PT60M)).unwrap();
        let v = validator();
        assert!(v.is_valid(&json));
        json["currency"] = Value::String("NOK".into());
        assert!(!v.is_valid(&json));
    }

    fn arb_session() -> impl Strategy<Value = SessionCompleted> {
        let base = utc("2026-01-01T00:00:00Z").timestamp();
        (
            0i64..366 * 86_400,
            0i64..30 * 3600,
            0i64..5_000_000,
            0i64..200_000,
            proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 0..12),
            0u32..1000,
        )
            .prop_map(move |(offset, dur, start_wh, energy, fracs, ms)| {
                let start = Utc
                    .timestamp_opt(base + offset, ms * 1_000_000)
                    .single()
                    .unwrap();
                let end = start + Duration::seconds(dur);
                // Readings: strictly increasing instants inside the session, non-decreasing
                // energy, as validation guarantees.
                let mut ts: Vec<i64> = fracs
                    .iter()
                    .map(|(f, _)| (f * dur as f64) as i64)
                    .filter(|s| *s > 0 && *s < dur)
                    .collect();
                ts.sort_unstable();
                ts.dedup();
                let mut es: Vec<i64> = fracs
                    .iter()
                    .map(|(_, g)| (g * energy as f64) as i64)
                    .collect();
                es.sort_unstable();
                let mvs = ts
                    .into_iter()
                    .zip(es)
                    .map(|(t, e)| (start + Duration::seconds(t), start_wh + e))
                    .collect();
                session_at(start, end, (start_wh, start_wh + energy), mvs)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn generated_sessions_sum_exactly(s in arb_session(), quarter in any::<bool>()) {
            let res = if quarter { Resolution::PT15M } else { Resolution::PT60M };
            let p = build_meter_series(&s, "707057500012345678", res);
            assert_well_formed(&p, &s);
            let text = serde_json::to_string(&p).unwrap();
            for q in text.split("\"Quantity\":").skip(1) {
                let num: String = q.chars().take_while(|c| *c != '}').collect();
                prop_assert_eq!(num.split('.').nth(1).map(str::len), Some(3), "{}", num);
            }
        }
    }
}
