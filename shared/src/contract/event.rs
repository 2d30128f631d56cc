//! Parsing an inbound contract message into a typed event, or a reason not to process it.
//!
//! Order matters and is deliberate: (1) not JSON → `invalidJson`; (2) a body whose own
//! `ServiceType`/`EventName` say it is not ours → `ignored` (the subscription filter is
//! configuration and can be wrong, so the body decides); (3) the JSON Schema, whose failing
//! path maps to the most specific reason code; (4) checks a schema cannot express (GLN check
//! digit, control characters, integer ranges).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gln::Gln;

pub const SERVICE_TYPE: &str = "ChargingAgreement";
pub const SCHEMA_JSON: &str = include_str!("../../schemas/contract-event.schema.json");
/// Longest RFID value accepted (SPEC §3).
pub const MAX_RFID_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventName {
    ContractActivated,
    ContractUpdated,
    ContractTerminated,
}

impl EventName {
    pub fn parse(s: &str) -> Option<EventName> {
        match s {
            "ContractActivated" => Some(EventName::ContractActivated),
            "ContractUpdated" => Some(EventName::ContractUpdated),
            "ContractTerminated" => Some(EventName::ContractTerminated),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventName::ContractActivated => "ContractActivated",
            EventName::ContractUpdated => "ContractUpdated",
            EventName::ContractTerminated => "ContractTerminated",
        }
    }
}

/// Reason codes of parked messages (SPEC §8, FIXED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ParkReason {
    InvalidJson,
    SchemaViolation,
    InvalidGln,
    UnknownTenant,
    InvalidAccountingPoint,
    InvalidPrivateSiteId,
    InvalidRfid,
    InvalidSession,
    UnknownCustomer,
}

impl ParkReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ParkReason::InvalidJson => "invalidJson",
            ParkReason::SchemaViolation => "schemaViolation",
            ParkReason::InvalidGln => "invalidGln",
            ParkReason::UnknownTenant => "unknownTenant",
            ParkReason::InvalidAccountingPoint => "invalidAccountingPoint",
            ParkReason::InvalidPrivateSiteId => "invalidPrivateSiteId",
            ParkReason::InvalidRfid => "invalidRfid",
            ParkReason::InvalidSession => "invalidSession",
            ParkReason::UnknownCustomer => "unknownCustomer",
        }
    }
}

impl std::fmt::Display for ParkReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid contract event, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractEvent {
    pub event_id: String,
    pub event_name: EventName,
    pub event_time: DateTime<Utc>,
    pub tenant: Gln,
    pub contract_id: String,
    pub product_code: Option<String>,
    pub accounting_point: String,
    pub rfid: Option<String>,
    pub rfid_name: Option<String>,
    pub private_site_id: Option<i64>,
}

/// What a message body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    Event(Box<ContractEvent>),
    Ignored {
        reason: String,
        /// The tenant named by the body, when it names a valid one (for logging).
        tenant: Option<Gln>,
        event_name: Option<String>,
    },
    Invalid {
        reason: ParkReason,
        description: String,
        /// The tenant named by the body, when it names a valid GLN: where the message is parked.
        tenant: Option<Gln>,
        reference: Option<String>,
    },
}

fn schema() -> Result<&'static jsonschema::Validator, String> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA_JSON).map_err(|e| e.to_string())?;
        jsonschema::validator_for(&schema).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Classifies a raw message body. Pure: no I/O, never panics on any input.
pub fn classify(body: &[u8]) -> Classified {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Classified::Invalid {
                reason: ParkReason::InvalidJson,
                description: format!("body is not JSON: {e}"),
                tenant: None,
                reference: None,
            }
        }
    };
    let tenant = str_at(&value, &["Header", "TenantID"]).and_then(|s| Gln::parse(s).ok());
    let reference = str_at(
        &value,
        &["Payload", "Contract", "AccountingPoint", "Identification"],
    )
    .map(|s| s.chars().take(64).collect());
    if let Some(header) = value.get("Header").filter(|h| h.is_object()) {
        let service = header.get("ServiceType").and_then(Value::as_str);
        let name = header.get("EventName").and_then(Value::as_str);
        if let Some(s) = service.filter(|s| *s != SERVICE_TYPE) {
            return Classified::Ignored {
                reason: format!("ServiceType {s:?} is not {SERVICE_TYPE}"),
                tenant,
                event_name: name.map(str::to_owned),
            };
        }
        if let Some(n) = name.filter(|n| EventName::parse(n).is_none()) {
            return Classified::Ignored {
                reason: format!("EventName {n:?} is not handled"),
                tenant,
                event_name: Some(n.to_owned()),
            };
        }
    }
    let invalid = |reason, description: String| Classified::Invalid {
        reason,
        description,
        tenant: tenant.clone(),
        reference: reference.clone(),
    };
    let validator = match schema() {
        Ok(v) => v,
        Err(e) => {
            return invalid(
                ParkReason::SchemaViolation,
                format!("schema unavailable: {e}"),
            )
        }
    };
    let errors: Vec<(String, String)> = validator
        .iter_errors(&value)
        .take(8)
        .map(|e| (e.instance_path().to_string(), e.to_string()))
        .collect();
    if !errors.is_empty() {
        let reason = errors
            .iter()
            .map(|(path, _)| reason_for_path(path))
            .min_by_key(|r| priority(*r))
            .unwrap_or(ParkReason::SchemaViolation);
        if let Some(d) = specific_description(reason, &value) {
            return invalid(reason, d);
        }
        let description = errors
            .iter()
            .map(|(path, msg)| {
                let at = if path.is_empty() { "/" } else { path.as_str() };
                format!("{at}: {}", truncate(msg, 200))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return invalid(reason, description);
    }
    match typed(&value) {
        Ok(event) => Classified::Event(Box::new(event)),
        Err((reason, description)) => invalid(reason, description),
    }
}

/// A field-specific message reads better than a generic schema message.
fn specific_description(reason: ParkReason, v: &Value) -> Option<String> {
    let details = v.pointer("/Payload/Contract/AccountingPoint/Details");
    match reason {
        ParkReason::InvalidPrivateSiteId => site_id(details?.get("PrivateSiteId")?)
            .err()
            .map(|(_, d)| d),
        ParkReason::InvalidRfid => match details?.get("Rfid")? {
            Value::String(s) => check_rfid(s).err().map(|(_, d)| d),
            other => Some(format!("Details.Rfid {other} is not a string")),
        },
        ParkReason::InvalidGln => Some(format!(
            "Header.TenantID {} is not a GLN (13 digits with a GS1 check digit)",
            truncate(&v.pointer("/Header/TenantID")?.to_string(), 40)
        )),
        ParkReason::InvalidAccountingPoint => Some(format!(
            "AccountingPoint.Identification {} is not a non-empty string of at most 64 characters",
            truncate(
                &v.pointer("/Payload/Contract/AccountingPoint/Identification")?
                    .to_string(),
                80
            )
        )),
        _ => None,
    }
}

/// Maps the JSON pointer of a schema error to the most specific reason code.
fn reason_for_path(path: &str) -> ParkReason {
    const AP: &str = "/Payload/Contract/AccountingPoint";
    if path == "/Header/TenantID" {
        ParkReason::InvalidGln
    } else if path == format!("{AP}/Identification") {
        ParkReason::InvalidAccountingPoint
    } else if path == format!("{AP}/Details/PrivateSiteId") {
        ParkReason::InvalidPrivateSiteId
    } else if path == format!("{AP}/Details/Rfid") {
        ParkReason::InvalidRfid
    } else {
        ParkReason::SchemaViolation
    }
}

/// A broken structure outranks a bad field value: it is the more fundamental problem.
fn priority(r: ParkReason) -> u8 {
    match r {
        ParkReason::SchemaViolation => 0,
        ParkReason::InvalidGln => 1,
        ParkReason::InvalidAccountingPoint => 2,
        ParkReason::InvalidPrivateSiteId => 3,
        _ => 4,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

type Refusal = (ParkReason, String);

/// The checks a schema cannot express; runs only on schema-valid documents.
fn typed(v: &Value) -> Result<ContractEvent, Refusal> {
    let schema_err = |m: &str| (ParkReason::SchemaViolation, m.to_owned());
    let h = &v["Header"];
    let c = &v["Payload"]["Contract"];
    let ap = &c["AccountingPoint"];
    let details = ap.get("Details").filter(|d| d.is_object());
    let tenant_raw = h["TenantID"].as_str().unwrap_or_default();
    let tenant = Gln::parse(tenant_raw).map_err(|e| {
        (
            ParkReason::InvalidGln,
            format!("Header.TenantID {tenant_raw:?} is not a valid GLN: {e}"),
        )
    })?;
    let time_raw = h["EventTime"].as_str().unwrap_or_default();
    let event_time = DateTime::parse_from_rfc3339(time_raw)
        .map_err(|e| {
            (
                ParkReason::SchemaViolation,
                format!("Header.EventTime {time_raw:?} is not an RFC 3339 time: {e}"),
            )
        })?
        .with_timezone(&Utc);
    let event_name = h["EventName"]
        .as_str()
        .and_then(EventName::parse)
        .ok_or_else(|| schema_err("Header.EventName is not a contract event"))?;
    let contract_id = match &c["ContractID"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(schema_err("Payload.Contract.ContractID is missing")),
    };
    let accounting_point = ap["Identification"].as_str().unwrap_or_default().to_owned();
    if accounting_point.chars().any(char::is_control) {
        return Err((
            ParkReason::InvalidAccountingPoint,
            "AccountingPoint.Identification contains control characters".into(),
        ));
    }
    let rfid = match details.and_then(|d| d.get("Rfid")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(check_rfid(s)?),
        Some(_) => {
            return Err((
                ParkReason::InvalidRfid,
                "Details.Rfid is not a string".into(),
            ))
        }
    };
    let rfid_name = details
        .and_then(|d| d.get("RfidName"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let private_site_id = match details.and_then(|d| d.get("PrivateSiteId")) {
        None | Some(Value::Null) => None,
        Some(raw) => Some(site_id(raw)?),
    };
    Ok(ContractEvent {
        event_id: h["EventID"].as_str().unwrap_or_default().to_owned(),
        event_name,
        event_time,
        tenant,
        contract_id,
        product_code: c
            .get("ProductCode")
            .and_then(Value::as_str)
            .map(str::to_owned),
        accounting_point,
        rfid,
        rfid_name,
        private_site_id,
    })
}

fn check_rfid(s: &str) -> Result<String, Refusal> {
    let n = s.chars().count();
    if s.trim().is_empty() {
        return Err((ParkReason::InvalidRfid, "Details.Rfid is empty".into()));
    }
    if n > MAX_RFID_CHARS {
        return Err((
            ParkReason::InvalidRfid,
            format!("Details.Rfid has {n} characters, at most {MAX_RFID_CHARS}"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err((
            ParkReason::InvalidRfid,
            "Details.Rfid contains control characters".into(),
        ));
    }
    Ok(s.to_owned())
}

/// `PrivateSiteId` is a positive integer given as a JSON integer or a string of digits.
pub fn site_id(raw: &Value) -> Result<i64, Refusal> {
    let bad = || {
        (
            ParkReason::InvalidPrivateSiteId,
            format!("Details.PrivateSiteId {raw} is not a positive integer"),
        )
    };
    let id = match raw {
        Value::Number(n) => n.as_i64().ok_or_else(bad)?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    if id <= 0 {
        return Err(bad());
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event_json(details: Value) -> Value {
        serde_json::json!({
            "Header": {
                "EventID": "5b1f0c1e-8a8e-4a53-9d55-0d7c2f6f3b11",
                "EventName": "ContractActivated",
                "EventTime": "2026-11-20T08:15:02.123Z",
                "TenantID": "7080010002488",
                "ServiceType": "ChargingAgreement"
            },
            "Payload": { "Contract": {
                "ContractID": "100234",
                "ProductCode": "LADEABO-STD",
                "AccountingPoint": { "Identification": "707057500012345678", "Details": details }
            }}
        })
    }

    fn reason_of(v: &Value) -> Option<ParkReason> {
        match classify(v.to_string().as_bytes()) {
            Classified::Invalid { reason, .. } => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn the_spec_example_parses() {
        let v = event_json(
            serde_json::json!({"Rfid": "04A2B3C4D5E6F7", "RfidName": "Kari sin brikke", "PrivateSiteId": 1042}),
        );
        match classify(v.to_string().as_bytes()) {
            Classified::Event(e) => {
                assert_eq!(e.private_site_id, Some(1042));
                assert_eq!(e.rfid.as_deref(), Some("04A2B3C4D5E6F7"));
                assert_eq!(e.tenant.as_str(), "7080010002488");
                assert_eq!(e.event_name, EventName::ContractActivated);
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[test]
    fn private_site_id_as_string_of_digits_means_the_integer() {
        let v = event_json(serde_json::json!({"PrivateSiteId": "1042"}));
        assert!(
            matches!(classify(v.to_string().as_bytes()), Classified::Event(e) if e.private_site_id == Some(1042))
        );
    }

    #[test]
    fn malformed_private_site_ids_are_named() {
        for bad in [
            serde_json::json!("12a"),
            serde_json::json!(12.5),
            serde_json::json!(""),
            serde_json::json!(-3),
            serde_json::json!(0),
            serde_json::json!("99999999999999999999"),
            serde_json::json!(true),
            serde_json::json!([1042]),
        ] {
            let v = event_json(serde_json::json!({ "PrivateSiteId": bad.clone() }));
            assert_eq!(
                reason_of(&v),
                Some(ParkReason::InvalidPrivateSiteId),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_service_types_and_event_names_are_ignored() {
        let mut v = event_json(Value::Null);
        v["Header"]["EventName"] = "TPContractCreated".into();
        assert!(matches!(
            classify(v.to_string().as_bytes()),
            Classified::Ignored { .. }
        ));
        let mut v = event_json(Value::Null);
        v["Header"]["ServiceType"] = "Electricity".into();
        v["Payload"] = Value::Null;
        assert!(matches!(
            classify(v.to_string().as_bytes()),
            Classified::Ignored { .. }
        ));
    }

    #[test]
    fn bad_gln_check_digit_is_invalid_gln() {
        let mut v = event_json(Value::Null);
        v["Header"]["TenantID"] = "7080010002489".into();
        assert_eq!(reason_of(&v), Some(ParkReason::InvalidGln));
        v["Header"]["TenantID"] = "70800100".into();
        assert_eq!(reason_of(&v), Some(ParkReason::InvalidGln));
    }

    #[test]
    fn rfid_must_be_non_empty_and_at_most_64_chars() {
        for bad in ["", "   ", &"A".repeat(65), "AB\u{0}CD"] {
            let v = event_json(serde_json::json!({ "Rfid": bad }));
            assert_eq!(reason_of(&v), Some(ParkReason::InvalidRfid), "{bad:?}");
        }
        let v = event_json(serde_json::json!({ "Rfid": "Å".repeat(64) }));
        assert!(matches!(
            classify(v.to_string().as_bytes()),
            Classified::Event(_)
        ));
    }

    #[test]
    fn structure_errors_are_schema_violations() {
        let mut v = event_json(Value::Null);
        v.as_object_mut().map(|o| o.remove("Header"));
        assert_eq!(reason_of(&v), Some(ParkReason::SchemaViolation));
        let mut v = event_json(Value::Null);
        v["Header"]["EventTime"] = "yesterday".into();
        assert_eq!(reason_of(&v), Some(ParkReason::SchemaViolation));
        assert_eq!(
            reason_of(&serde_json::json!([1, 2])),
            Some(ParkReason::SchemaViolation)
        );
    }

    #[test]
    fn not_json_is_invalid_json() {
        assert!(matches!(
            classify(b"{\"Header\": "),
            Classified::Invalid {
                reason: ParkReason::InvalidJson,
                ..
            }
        ));
    }
}
