//! OCPI 2.2.1 CDR input: just what pricing needs (times, periods, location, own tariffs).
//!
//! CDRs carry dozens of fields we do not use, so unknown fields are tolerated here; the parts
//! we price from are checked strictly. Period volumes are taken as sent (OCPI: the CPO's
//! measurement), not recomputed from timestamps.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::doc::Doc;
use super::json::{FieldError, JsonPath};
use super::periods::ChargingPeriod;
use super::tariff::{parse_tariff_at, Tariff, TariffError};

const SECS_PER_HOUR: Decimal = Decimal::from_parts(3600, 0, 0, false, 0);

#[derive(Clone, Debug, PartialEq)]
pub struct Cdr {
    pub id: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub currency: Option<String>,
    /// `cdr_location.time_zone` (not in OCPI 2.2.1 CDRs, but some CPOs send it).
    pub time_zone: Option<String>,
    /// `cdr_location.country`, ISO 3166-1 alpha-3 in OCPI.
    pub country: Option<String>,
    pub periods: Vec<ChargingPeriod>,
    /// Kept raw: they are only parsed when the caller prices with the CDR's own tariffs, so a
    /// broken embedded tariff does not block pricing against an explicit one.
    tariffs_raw: Vec<Value>,
}

impl Cdr {
    pub fn has_tariffs(&self) -> bool {
        !self.tariffs_raw.is_empty()
    }

    pub fn tariffs(&self) -> Result<Vec<Tariff>, TariffError> {
        let root = JsonPath::root();
        let p = root.key("tariffs");
        self.tariffs_raw
            .iter()
            .enumerate()
            .map(|(i, t)| parse_tariff_at(t, &p.index(i)))
            .collect()
    }
}

pub fn parse_cdr(v: &Value) -> Result<Cdr, FieldError> {
    parse_cdr_doc(&Doc::view(v))
}

/// A CDR straight from its JSON text (the `ucc price --cdrs` path: no `Value` per CDR).
pub fn parse_cdr_json(bytes: &[u8]) -> Result<Cdr, CdrTextError> {
    let doc = Doc::parse(bytes).map_err(|e| CdrTextError::Json(e.to_string()))?;
    parse_cdr_doc(&doc).map_err(CdrTextError::Field)
}

/// Why a CDR's text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CdrTextError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Field(FieldError),
}

pub fn parse_cdr_doc(obj: &Doc<'_>) -> Result<Cdr, FieldError> {
    let root = JsonPath::root();
    obj.object(&root)?;
    let start = obj
        .required("start_date_time", &root)?
        .datetime(&root.key("start_date_time"))?;
    let end = obj
        .required("end_date_time", &root)?
        .datetime(&root.key("end_date_time"))?;
    if end < start {
        return Err(FieldError::new(
            &root.key("end_date_time"),
            format!(
                "{} is before start_date_time {}",
                end.to_rfc3339(),
                start.to_rfc3339()
            ),
        ));
    }
    if end - start > chrono::TimeDelta::days(crate::session::MAX_SESSION_DAYS) {
        return Err(FieldError::new(
            &root.key("end_date_time"),
            format!(
                "the session lasts more than {} days",
                crate::session::MAX_SESSION_DAYS
            ),
        ));
    }
    let text = |o: &Doc<'_>, key: &str, path: &JsonPath| -> Result<Option<String>, FieldError> {
        o.field(key)
            .map(|v| v.string(&path.key(key)).map(str::to_owned))
            .transpose()
    };
    let id = text(obj, "id", &root)?;
    let currency = text(obj, "currency", &root)?;
    let (mut time_zone, mut country) = (None, None);
    if let Some(loc) = obj.field("cdr_location") {
        let lp = root.key("cdr_location");
        loc.object(&lp)?;
        time_zone = text(loc, "time_zone", &lp)?;
        country = text(loc, "country", &lp)?;
    }
    let tariffs_raw = match obj.field("tariffs") {
        Some(t) => t
            .array(&root.key("tariffs"))?
            .iter()
            .map(Doc::to_value)
            .collect(),
        None => Vec::new(),
    };
    let cp = obj.required("charging_periods", &root)?;
    let periods = parse_charging_periods(cp, &root.key("charging_periods"), start, end)?;
    Ok(Cdr {
        id,
        start,
        end,
        currency,
        time_zone,
        country,
        periods,
        tariffs_raw,
    })
}

/// OCPI `ChargingPeriod` list. A period ends where the next starts; the last at `end`.
/// A first period starting before the session start is tolerated: CPOs align periods to
/// clock boundaries (seen in real CDRs), and cumulative durations count from it.
pub fn parse_charging_periods(
    v: &Doc<'_>,
    path: &JsonPath,
    _start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ChargingPeriod>, FieldError> {
    let items = v.array(path)?;
    let mut out: Vec<ChargingPeriod> = Vec::with_capacity(items.len());
    for (i, o) in items.iter().enumerate() {
        let p = path.index(i);
        o.object(&p)?;
        let sp = p.key("start_date_time");
        let ps = o.required("start_date_time", &p)?.datetime(&sp)?;
        if ps > end {
            return Err(FieldError::new(
                &sp,
                format!(
                    "{} is after the session end {}",
                    ps.to_rfc3339(),
                    end.to_rfc3339()
                ),
            ));
        }
        if let Some(prev) = out.last() {
            if ps < prev.start {
                return Err(FieldError::new(
                    &sp,
                    format!("{} is before the previous period's start", ps.to_rfc3339()),
                ));
            }
        }
        let mut period = ChargingPeriod {
            start: ps,
            end,
            ..ChargingPeriod::default()
        };
        let (mut avg_current, mut avg_power) = (None, None);
        let dp = p.key("dimensions");
        for (j, dobj) in o.required("dimensions", &p)?.array(&dp)?.iter().enumerate() {
            let q = dp.index(j);
            dobj.object(&q)?;
            let t = dobj.required("type", &q)?.string(&q.key("type"))?;
            let vol = dobj
                .required("volume", &q)?
                .non_negative_decimal(&q.key("volume"))?;
            match t {
                "ENERGY" => period.energy_kwh = Some(vol),
                "TIME" => period.charging_secs = Some(vol * SECS_PER_HOUR),
                "PARKING_TIME" => period.parking_secs = Some(vol * SECS_PER_HOUR),
                "MIN_CURRENT" => period.min_current = Some(vol),
                "MAX_CURRENT" => period.max_current = Some(vol),
                "MIN_POWER" => period.min_power = Some(vol),
                "MAX_POWER" => period.max_power = Some(vol),
                "CURRENT" => avg_current = Some(vol),
                "POWER" => avg_power = Some(vol),
                "ENERGY_EXPORT" | "ENERGY_IMPORT" | "RESERVATION_TIME" | "STATE_OF_CHARGE" => {}
                other => {
                    return Err(FieldError::new(
                        &q.key("type"),
                        format!("\"{other}\" is not a CdrDimensionType"),
                    ))
                }
            }
        }
        // An average is the best estimate of the instantaneous value when min/max are absent.
        if period.min_current.is_none() && period.max_current.is_none() {
            period.min_current = avg_current;
            period.max_current = avg_current;
        }
        if period.min_power.is_none() && period.max_power.is_none() {
            period.min_power = avg_power;
            period.max_power = avg_power;
        }
        if let Some(prev) = out.last_mut() {
            prev.end = ps;
        }
        out.push(period);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn periods_end_where_the_next_starts() -> Result<(), FieldError> {
        let cdr = parse_cdr(&json!({
            "start_date_time": "2022-01-13T16:00:00Z",
            "end_date_time": "2022-01-13T19:12:00Z",
            "cdr_location": {"country": "NLD"},
            "charging_periods": [
                {"start_date_time": "2022-01-13T16:00:00Z", "dimensions": [{"type": "TIME", "volume": 2.5}]},
                {"start_date_time": "2022-01-13T18:30:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 0.7}]}
            ]
        }))?;
        assert_eq!(cdr.periods.len(), 2);
        assert_eq!(cdr.periods[0].end, cdr.periods[1].start);
        assert_eq!(cdr.periods[0].charging_secs, Some(dec!(9000)));
        assert_eq!(cdr.periods[1].parking_secs, Some(dec!(2520)));
        assert_eq!(cdr.country.as_deref(), Some("NLD"));
        Ok(())
    }

    #[test]
    fn refuses_unknown_dimension_with_path() {
        let r = parse_cdr(&json!({
            "start_date_time": "2022-01-13T16:00:00Z",
            "end_date_time": "2022-01-13T19:12:00Z",
            "charging_periods": [
                {"start_date_time": "2022-01-13T16:00:00Z", "dimensions": [{"type": "KWH", "volume": 2.5}]}
            ]
        }));
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.to_string()),
            Err(
                "charging_periods[0].dimensions[0].type: \"KWH\" is not a CdrDimensionType"
                    .to_owned()
            )
        );
    }
}
