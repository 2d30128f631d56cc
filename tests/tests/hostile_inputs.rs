//! Malformed and hostile contract messages: each ends as the right outcome, never a panic.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_json::{json, Value};
use ucc_shared::context::Ctx;
use ucc_shared::contract::{self, InboundMessage, Outcome, ParkReason};
use ucc_tests::fixtures::*;

fn base() -> Value {
    activation("707057500012345678", "h-1", Some("04A2B3C4D5E6F7"))
}

fn with(path: &[&str], v: Value) -> Vec<u8> {
    let mut e = base();
    let mut cur = &mut e;
    for (i, k) in path.iter().enumerate() {
        if i == path.len() - 1 {
            cur[*k] = v.clone();
        } else {
            cur = &mut cur[*k];
        }
    }
    e.to_string().into_bytes()
}

fn without(path: &[&str]) -> Vec<u8> {
    let mut e = base();
    let mut cur = &mut e;
    for k in &path[..path.len() - 1] {
        cur = &mut cur[*k];
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(path[path.len() - 1]);
    }
    e.to_string().into_bytes()
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str("{\"a\":");
    }
    s.push('1');
    for _ in 0..depth {
        s.push('}');
    }
    s.into_bytes()
}

const DETAILS: [&str; 5] = ["Payload", "Contract", "AccountingPoint", "Details", ""];

fn details(field: &str, v: Value) -> Vec<u8> {
    let mut p: Vec<&str> = DETAILS[..4].to_vec();
    p.push(field);
    with(&p, v)
}

#[derive(Debug, PartialEq)]
enum Expect {
    Park(ParkReason),
    Ignored,
    Applied,
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    use ParkReason::*;
    let big_padding = "x".repeat(10 * 1024 * 1024);
    vec![
        ("empty body", b"".to_vec(), Park(InvalidJson)),
        ("truncated JSON", base().to_string().as_bytes()[..60].to_vec(), Park(InvalidJson)),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x7b], Park(InvalidJson)),
        ("plain text", b"ContractActivated".to_vec(), Park(InvalidJson)),
        ("trailing garbage", format!("{} }}", base()).into_bytes(), Park(InvalidJson)),
        ("deeply nested JSON", nested(5000), Park(InvalidJson)),
        ("10 MB body", json!({"Header": base()["Header"], "Payload": base()["Payload"], "Padding": big_padding}).to_string().into_bytes(), Applied),
        ("10 MB of garbage", vec![b'['; 10 * 1024 * 1024], Park(InvalidJson)),
        ("JSON array", b"[1,2,3]".to_vec(), Park(SchemaViolation)),
        ("JSON null", b"null".to_vec(), Park(SchemaViolation)),
        ("missing Header", without(&["Header"]), Park(SchemaViolation)),
        ("Header is a string", with(&["Header"], json!("ContractActivated")), Park(SchemaViolation)),
        ("missing Payload", without(&["Payload"]), Park(SchemaViolation)),
        ("missing EventID", without(&["Header", "EventID"]), Park(SchemaViolation)),
        ("EventID is a number", with(&["Header", "EventID"], json!(42)), Park(SchemaViolation)),
        ("EventTime not a time", with(&["Header", "EventTime"], json!("2026-13-45T99:00:00Z")), Park(SchemaViolation)),
        ("EventTime without zone", with(&["Header", "EventTime"], json!("2026-11-20T08:15:02")), Park(SchemaViolation)),
        ("missing ContractID", without(&["Payload", "Contract", "ContractID"]), Park(SchemaViolation)),
        ("missing AccountingPoint", without(&["Payload", "Contract", "AccountingPoint"]), Park(SchemaViolation)),
        ("TPContractCreated", with(&["Header", "EventName"], json!("TPContractCreated")), Ignored),
        ("other ServiceType", with(&["Header", "ServiceType"], json!("Electricity")), Ignored),
        ("bad GLN check digit", with(&["Header", "TenantID"], json!("7080010002489")), Park(InvalidGln)),
        ("GLN too short", with(&["Header", "TenantID"], json!("708001000248")), Park(InvalidGln)),
        ("GLN as number", with(&["Header", "TenantID"], json!(7080010002488u64)), Park(InvalidGln)),
        ("GLN with letters", with(&["Header", "TenantID"], json!("70800100024AB")), Park(InvalidGln)),
        ("unconfigured tenant", with(&["Header", "TenantID"], json!("9436465792104")), Park(UnknownTenant)),
        ("accounting point too short", with(&["Payload", "Contract", "AccountingPoint", "Identification"], json!("1234")), Park(InvalidAccountingPoint)),
        ("accounting point with unicode", with(&["Payload", "Contract", "AccountingPoint", "Identification"], json!("70705750001234ÆØÅ")), Park(InvalidAccountingPoint)),
        ("accounting point with SQL", with(&["Payload", "Contract", "AccountingPoint", "Identification"], json!("1' OR '1'='1")), Park(InvalidAccountingPoint)),
        ("accounting point as number", with(&["Payload", "Contract", "AccountingPoint", "Identification"], json!(707057500012345678u64)), Park(InvalidAccountingPoint)),
        ("accounting point empty", with(&["Payload", "Contract", "AccountingPoint", "Identification"], json!("")), Park(InvalidAccountingPoint)),
        ("accounting point path traversal", with(&["Payload", "Contract", "AccountingPoint", "Identification"], json!("../../etc/passwd")), Park(InvalidAccountingPoint)),
        ("PrivateSiteId \"12a\"", details("PrivateSiteId", json!("12a")), Park(InvalidPrivateSiteId)),
        ("PrivateSiteId 12.5", details("PrivateSiteId", json!(12.5)), Park(InvalidPrivateSiteId)),
        ("PrivateSiteId \"\"", details("PrivateSiteId", json!("")), Park(InvalidPrivateSiteId)),
        ("PrivateSiteId -3", details("PrivateSiteId", json!(-3)), Park(InvalidPrivateSiteId)),
        ("PrivateSiteId huge", details("PrivateSiteId", json!("99999999999999999999")), Park(InvalidPrivateSiteId)),
        ("PrivateSiteId object", details("PrivateSiteId", json!({"id": 1})), Park(InvalidPrivateSiteId)),
        ("PrivateSiteId \"1042\"", details("PrivateSiteId", json!("1042")), Applied),
        ("Rfid empty", details("Rfid", json!("")), Park(InvalidRfid)),
        ("Rfid 65 chars", details("Rfid", json!("A".repeat(65))), Park(InvalidRfid)),
        ("Rfid number", details("Rfid", json!(1234)), Park(InvalidRfid)),
        ("Rfid control chars", details("Rfid", json!("04A2\u{7}B3")), Park(InvalidRfid)),
        ("Rfid unicode 64 chars", details("Rfid", json!("Ø".repeat(64))), Applied),
        ("unknown extra fields", with(&["Header", "Extra"], json!({"nested": [1, 2]})), Applied),
        ("Details null", with(&["Payload", "Contract", "AccountingPoint", "Details"], Value::Null), Applied),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_end_as_the_right_outcome() {
    let (_dir, store) = ucc_tests::backends::embedded();
    let ctx: Ctx = ctx_with_tenant(store).await;
    let all = cases();
    assert!(all.len() >= 30, "at least 30 hostile inputs");
    let mut failures = Vec::new();
    for (name, body, expect) in all {
        let got = match contract::handle(&ctx, &InboundMessage::from_body(body)).await {
            Ok(h) => match h.outcome {
                Outcome::Parked { reason, id, .. } => {
                    // Parked means kept for support to see and replay, not just reported.
                    let kept = ucc_shared::parked::get(ctx.store.as_ref(), &id).await;
                    if !matches!(&kept, Ok(Some(p)) if p.reason == reason) {
                        failures.push(format!("{name}: parked as {id} but not kept: {kept:?}"));
                    }
                    Expect::Park(reason)
                }
                Outcome::Ignored { .. } => Expect::Ignored,
                Outcome::Applied | Outcome::Duplicate | Outcome::Stale => Expect::Applied,
            },
            Err(e) => panic!("{name}: unexpected transient error {e}"),
        };
        if got != expect {
            failures.push(format!("{name}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
