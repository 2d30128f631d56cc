//! Session-completed events from eMabler (SPEC §4), parsed strictly into typed values.
//!
//! A session is money: anything inconsistent (times that do not parse, an end before the
//! start, a meter that runs backwards, readings outside the session) is refused with the
//! field named, so the event can be parked with a reason instead of being priced wrong.
//! Unknown extra fields are tolerated, as for every inbound event.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::pricing::cdr::parse_charging_periods;
use crate::pricing::doc::Doc;
use crate::pricing::json::{FieldError, JsonPath};
use crate::pricing::periods::{ChargingPeriod, Reading};

/// Longer sessions are data errors; refusing them also bounds the work of period derivation.
pub const MAX_SESSION_DAYS: i64 = 366;
/// SPEC §6: ids longer than this are refused (and parked), never stored as keys. Every
/// store backend takes keys of this length, so all of them behave the same.
pub const MAX_ID_CHARS: usize = 128;
/// Tokens are RFID UIDs or our virtual tokens; the contract events' `Rfid` has the same limit.
pub const MAX_TAG_CHARS: usize = 64;

/// An id usable as a store key: non-blank, at most `max` characters, no control characters.
pub fn check_id(value: &str, field: &str, max: usize) -> Result<(), FieldError> {
    let root = JsonPath::root();
    let p = root.key(field);
    if value.trim().is_empty() {
        return Err(FieldError::new(&p, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(FieldError::new(
            &p,
            format!("is {n} characters long, at most {max} are allowed"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(&p, "must not contain control characters"));
    }
    Ok(())
}

/// Why a session-completed event was refused; `Display` names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Field(FieldError),
}

impl SessionError {
    /// The offending field path, if the problem is one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            SessionError::Json(_) => None,
            SessionError::Field(f) => Some(f.path.as_str()),
        }
    }
}

impl From<FieldError> for SessionError {
    fn from(e: FieldError) -> Self {
        SessionError::Field(e)
    }
}

/// A cumulative meter reading during the session (absolute register value, Wh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterValue {
    pub timestamp: DateTime<Utc>,
    pub energy_wh: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCompleted {
    pub customer_id: String,
    pub transaction_id: String,
    pub charger_id: Option<String>,
    pub socket_id: Option<i64>,
    pub site_id: Option<i64>,
    pub authorized_id_tag: String,
    pub authorized_tag_name: Option<String>,
    pub timestamp_start: DateTime<Utc>,
    pub timestamp_end: DateTime<Utc>,
    pub meter_read_start_wh: Decimal,
    pub meter_read_end_wh: Decimal,
    pub meter_values: Vec<MeterValue>,
    /// OCPI 2.2.1 charging periods, when the charger reported them.
    pub charging_periods: Option<Vec<ChargingPeriod>>,
}

impl SessionCompleted {
    /// From the event's JSON text, read through a borrowing [`Doc`] (no `Value` tree: this
    /// is the per-session hot path).
    pub fn from_json(bytes: &[u8]) -> Result<Self, SessionError> {
        let doc = Doc::parse(bytes).map_err(|e| SessionError::Json(e.to_string()))?;
        Self::from_doc(&doc)
    }

    pub fn from_value(v: &Value) -> Result<Self, SessionError> {
        Self::from_doc(&Doc::view(v))
    }

    pub fn from_doc(obj: &Doc<'_>) -> Result<Self, SessionError> {
        let root = JsonPath::root();
        obj.object(&root)?;
        let customer_id = req_string(obj, "customerId")?;
        let transaction_id = match obj.field("transactionId") {
            Some(Doc::String(s)) if !s.trim().is_empty() => s.to_string(),
            Some(n @ Doc::Number(text)) if n.as_u64().is_some() || n.as_i64().is_some() => {
                text.to_string()
            }
            Some(other) => {
                return Err(FieldError::new(
                    &root.key("transactionId"),
                    format!("{} is not a non-empty string or an integer", other.show()),
                )
                .into())
            }
            None => return Err(FieldError::new(&root.key("transactionId"), "is required").into()),
        };
        let authorized_id_tag = req_string(obj, "authorizedIdTag")?;
        check_id(&customer_id, "customerId", MAX_ID_CHARS)?;
        check_id(&transaction_id, "transactionId", MAX_ID_CHARS)?;
        check_id(&authorized_id_tag, "authorizedIdTag", MAX_TAG_CHARS)?;
        let charger_id = opt_string(obj, "chargerId")?;
        let authorized_tag_name = opt_string(obj, "authorizedTagName")?;
        let socket_id = opt_int(obj, "socketId")?;
        let site_id = opt_int(obj, "siteId")?;
        let timestamp_start = req(obj, "timestampStart")?.datetime(&root.key("timestampStart"))?;
        let timestamp_end = req(obj, "timestampEnd")?.datetime(&root.key("timestampEnd"))?;
        if timestamp_end < timestamp_start {
            return Err(FieldError::new(
                &root.key("timestampEnd"),
                format!(
                    "{} is before timestampStart {}",
                    timestamp_end.to_rfc3339(),
                    timestamp_start.to_rfc3339()
                ),
            )
            .into());
        }
        if timestamp_end - timestamp_start > chrono::TimeDelta::days(MAX_SESSION_DAYS) {
            return Err(FieldError::new(
                &root.key("timestampEnd"),
                format!("the session lasts more than {MAX_SESSION_DAYS} days"),
            )
            .into());
        }
        let meter_read_start_wh =
            req(obj, "meterReadStartWh")?.non_negative_decimal(&root.key("meterReadStartWh"))?;
        let meter_read_end_wh =
            req(obj, "meterReadEndWh")?.non_negative_decimal(&root.key("meterReadEndWh"))?;
        if meter_read_end_wh < meter_read_start_wh {
            return Err(FieldError::new(
                &root.key("meterReadEndWh"),
                format!("{meter_read_end_wh} is below meterReadStartWh {meter_read_start_wh}"),
            )
            .into());
        }

        let mut meter_values = Vec::new();
        if let Some(mv) = obj.field("meterValues") {
            let mp = root.key("meterValues");
            let mut prev: Option<(DateTime<Utc>, Decimal)> = None;
            let items = mv.array(&mp)?;
            meter_values.reserve(items.len());
            for (i, o) in items.iter().enumerate() {
                let p = mp.index(i);
                o.object(&p)?;
                let ts = o.required("timestamp", &p)?.datetime(&p.key("timestamp"))?;
                let wh = o
                    .required("energyWh", &p)?
                    .non_negative_decimal(&p.key("energyWh"))?;
                if ts < timestamp_start || ts > timestamp_end {
                    return Err(FieldError::new(
                        &p.key("timestamp"),
                        format!("{} is outside the session", ts.to_rfc3339()),
                    )
                    .into());
                }
                if let Some((pt, pwh)) = prev {
                    if ts <= pt {
                        return Err(FieldError::new(
                            &p.key("timestamp"),
                            format!(
                                "{} is not after the previous reading {}",
                                ts.to_rfc3339(),
                                pt.to_rfc3339()
                            ),
                        )
                        .into());
                    }
                    if wh < pwh {
                        return Err(FieldError::new(
                            &p.key("energyWh"),
                            format!("{wh} is below the previous reading {pwh}"),
                        )
                        .into());
                    }
                }
                if wh < meter_read_start_wh || wh > meter_read_end_wh {
                    return Err(FieldError::new(
                        &p.key("energyWh"),
                        format!("{wh} is outside meterReadStartWh..meterReadEndWh ({meter_read_start_wh}..{meter_read_end_wh})"),
                    )
                    .into());
                }
                if (ts == timestamp_start && wh != meter_read_start_wh)
                    || (ts == timestamp_end && wh != meter_read_end_wh)
                {
                    return Err(FieldError::new(
                        &p.key("energyWh"),
                        format!(
                            "{wh} at the session's start or end differs from the meter read there"
                        ),
                    )
                    .into());
                }
                prev = Some((ts, wh));
                meter_values.push(MeterValue {
                    timestamp: ts,
                    energy_wh: wh,
                });
            }
        }

        let charging_periods = match obj.field("chargingPeriods") {
            Some(cp) => Some(parse_charging_periods(
                cp,
                &root.key("chargingPeriods"),
                timestamp_start,
                timestamp_end,
            )?),
            None => None,
        };

        Ok(Self {
            customer_id,
            transaction_id,
            charger_id,
            socket_id,
            site_id,
            authorized_id_tag,
            authorized_tag_name,
            timestamp_start,
            timestamp_end,
            meter_read_start_wh,
            meter_read_end_wh,
            meter_values,
            charging_periods,
        })
    }

    /// (end − start) / 1000, to 3 decimals (exact for whole-Wh registers).
    pub fn full_consumption_kwh(&self) -> Decimal {
        let kwh = (self.meter_read_end_wh - self.meter_read_start_wh) / Decimal::from(1000);
        let mut r = crate::pricing::engine::round_half_away(kwh, 3);
        r.rescale(3);
        r
    }

    /// Readings relative to the session start, from start to end, in kWh: the input of
    /// period derivation. Readings exactly at the start or end coincide with those points.
    pub fn readings(&self) -> Vec<Reading> {
        let kwh = |wh: Decimal| (wh - self.meter_read_start_wh) / Decimal::from(1000);
        let mut out = Vec::with_capacity(self.meter_values.len() + 2);
        out.push(Reading {
            at: self.timestamp_start,
            kwh: Decimal::ZERO,
        });
        for mv in &self.meter_values {
            if mv.timestamp > self.timestamp_start && mv.timestamp < self.timestamp_end {
                out.push(Reading {
                    at: mv.timestamp,
                    kwh: kwh(mv.energy_wh),
                });
            }
        }
        out.push(Reading {
            at: self.timestamp_end,
            kwh: kwh(self.meter_read_end_wh),
        });
        out
    }
}

fn req<'d, 'a>(obj: &'d Doc<'a>, key: &str) -> Result<&'d Doc<'a>, FieldError> {
    obj.required(key, &JsonPath::root())
}

fn req_string(obj: &Doc<'_>, key: &str) -> Result<String, FieldError> {
    let root = JsonPath::root();
    let p = root.key(key);
    let s = req(obj, key)?.string(&p)?;
    if s.trim().is_empty() {
        return Err(FieldError::new(&p, "must not be empty"));
    }
    Ok(s.to_owned())
}

fn opt_string(obj: &Doc<'_>, key: &str) -> Result<Option<String>, FieldError> {
    obj.field(key)
        .map(|v| v.string(&JsonPath::root().key(key)).map(str::to_owned))
        .transpose()
}

fn opt_int(obj: &Doc<'_>, key: &str) -> Result<Option<i64>, FieldError> {
    obj.field(key)
        .map(|v| {
            // eMabler sends numbers; a numeric string is the same id, not a reason to park.
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse::<i64>().ok()))
                .ok_or_else(|| {
                    FieldError::new(
                        &JsonPath::root().key(key),
                        format!("{} is not an integer", v.show()),
                    )
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn example() -> Value {
        json!({
            "customerId": "emb-cust-0042",
            "transactionId": "88812345",
            "chargerId": "EMB-0001234",
            "socketId": 1,
            "siteId": 1042,
            "authorizedIdTag": "v:7K2M9QXR4T8B3N5P",
            "authorizedTagName": "Kari sin brikke",
            "timestampStart": "2026-11-20T16:42:10Z",
            "timestampEnd": "2026-11-20T21:03:55Z",
            "meterReadStartWh": 1523400,
            "meterReadEndWh": 1546150,
            "meterValues": [ { "timestamp": "2026-11-20T17:00:00Z", "energyWh": 1525610 } ]
        })
    }

    fn refusal(mutate: impl FnOnce(&mut Value)) -> String {
        let mut v = example();
        mutate(&mut v);
        match SessionCompleted::from_value(&v) {
            Ok(_) => "accepted".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_the_spec_example() -> Result<(), SessionError> {
        let s = SessionCompleted::from_value(&example())?;
        assert_eq!(s.transaction_id, "88812345");
        assert_eq!(s.site_id, Some(1042));
        assert_eq!(s.full_consumption_kwh(), dec!(22.750));
        assert_eq!(s.full_consumption_kwh().to_string(), "22.750");
        assert_eq!(s.readings().len(), 3);
        Ok(())
    }

    #[test]
    fn integer_transaction_id_is_normalised() -> Result<(), SessionError> {
        let mut v = example();
        v["transactionId"] = json!(88812345);
        assert_eq!(SessionCompleted::from_value(&v)?.transaction_id, "88812345");
        Ok(())
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(
            refusal(|v| v["timestampEnd"] = json!("2026-11-20T16:00:00Z"))
                .starts_with("timestampEnd: ")
        );
        assert!(refusal(|v| v["timestampStart"] = json!("yesterday"))
            .starts_with("timestampStart: \"yesterday\" is not"));
        assert!(
            refusal(|v| v["meterReadEndWh"] = json!(1)).starts_with("meterReadEndWh: 1 is below")
        );
        assert!(refusal(|v| v["transactionId"] = json!(1.5)).starts_with("transactionId: "));
        assert!(
            refusal(|v| v["transactionId"] = json!(null)).starts_with("transactionId: is required")
        );
        assert!(
            refusal(|v| v["meterValues"][0]["timestamp"] = json!("2026-11-21T00:00:00Z"))
                .starts_with("meterValues[0].timestamp: ")
        );
        assert!(refusal(|v| v["meterValues"][0]["energyWh"] = json!(1))
            .starts_with("meterValues[0].energyWh: "));
        assert!(refusal(|v| {
            v["meterValues"] = json!([
                {"timestamp": "2026-11-20T18:00:00Z", "energyWh": 1530000},
                {"timestamp": "2026-11-20T17:00:00Z", "energyWh": 1531000}
            ]);
        })
        .starts_with("meterValues[1].timestamp: "));
        assert!(refusal(|v| {
            v["meterValues"] = json!([
                {"timestamp": "2026-11-20T17:00:00Z", "energyWh": 1531000},
                {"timestamp": "2026-11-20T18:00:00Z", "energyWh": 1530000}
            ]);
        })
        .starts_with("meterValues[1].energyWh: "));
        assert_eq!(refusal(|v| v["unknownExtra"] = json!(true)), "accepted");
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        assert!(matches!(
            SessionCompleted::from_json(b"{"),
            Err(SessionError::Json(_))
        ));
    }
}
