//! The operator side of the admin API on the real `ucc` binary: `ucc logs` after a delivery
//! fault run, the Details / key / settings commands, and `ucc serve` mounting `/api/…`.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use ucc_shared::context::Ctx;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::intake;
use ucc_shared::delivery::Deliverer;
use ucc_shared::gln::Gln;
use ucc_shared::log::{self, Direction, LogEntry};
use ucc_shared::registry;
use ucc_shared::store::embedded::EmbeddedStore;
use ucc_shared::tenant::TenantConfig;
use ucc_standins::uc::{Fault, Route, StandIn, StandInConfig};

const GLN: &str = "7080010002488";
const SECRET: &str = "admin-cli-secret";
const RFID: &str = "04A2B3C4D5E6F7";

fn ucc(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ucc"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("UCC_STORE")
        .env("UCC_SECRET_NORDLYS", SECRET)
        .output()
        .unwrap()
}

fn ok_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn session(tx: &str) -> String {
    json!({
        "customerId": "emb-cust-0042", "transactionId": tx, "chargerId": "EMB-1", "socketId": 1,
        "authorizedIdTag": RFID, "timestampStart": "2026-11-20T16:42:10Z",
        "timestampEnd": "2026-11-20T21:03:55Z", "meterReadStartWh": 1523400, "meterReadEndWh": 1546150
    })
    .to_string()
}

/// The delivery fault run: two UC 4xx rejections, a 503 (pending, not 4xx), a success, and
/// a 4xx entry older than an hour. Everything is written, then the store is closed.
async fn fault_run(store_path: &Path, secret_file: &Path) {
    let standin = StandIn::start(StandInConfig {
        client_secret: SECRET.into(),
        ..StandInConfig::default()
    })
    .await
    .unwrap();
    std::fs::write(secret_file, SECRET).unwrap();
    let cfg = TenantConfig::from_value(&json!({
        "gln": GLN, "customerId": "emb-cust-0042", "name": "Nordlys Energi AS", "mode": "costedTransaction",
        "uc": { "baseUrl": standin.base_url(), "tokenUrl": standin.token_url(), "clientId": standin.client_id(),
                "clientSecretRef": format!("file:{}", secret_file.display()), "scope": "api://uc/.default" },
        "defaultSiteId": 1001, "currency": "NOK", "vatPercent": "25", "timeZone": "Europe/Oslo",
        "tariffs": [{ "country_code": "NO", "party_id": "EMB", "id": "T", "currency": "NOK",
                      "elements": [{ "price_components": [{ "type": "ENERGY", "price": "2.00", "step_size": 1 }] }],
                      "last_updated": "2026-01-01T00:00:00Z" }]
    }))
    .unwrap();
    let store = Arc::new(EmbeddedStore::open(store_path).unwrap());
    registry::put(store.as_ref(), &cfg).await.unwrap();
    let ctx = Arc::new(Ctx::new(store.clone()));
    let d = Deliverer::new(ctx.clone(), Duration::from_secs(2)).unwrap();
    let activation = json!({
        "Header": { "EventID": "e-1", "EventName": "ContractActivated", "EventTime": "2026-11-01T08:00:00Z",
                    "TenantID": GLN, "ServiceType": "ChargingAgreement" },
        "Payload": { "Contract": { "ContractID": "1", "ProductCode": "P",
                     "AccountingPoint": { "Identification": "707057500012345678", "Details": { "Rfid": RFID } } } }
    });
    contract::handle(&ctx, &InboundMessage::from_body(activation.to_string()))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for (tx, fault) in [
        ("5001", Some(422)),
        ("5002", Some(400)),
        ("5003", Some(503)),
        ("5004", None),
    ] {
        if let Some(code) = fault {
            standin.push_fault(Route::PostTransaction, Fault::Status(code));
        }
        let h = intake::handle(&d, &InboundMessage::from_body(session(tx)))
            .await
            .unwrap();
        outcomes.push(h.outcome.name());
    }
    assert_eq!(outcomes, ["rejected", "rejected", "pending", "delivered"]);
    let old = chrono::Utc::now() - chrono::Duration::hours(2);
    log::write(
        &ctx,
        &LogEntry {
            id: log::new_id(old),
            tenant: Some(Gln::parse(GLN).unwrap()),
            time: old,
            direction: Direction::Outbound,
            endpoint: "/se/invoicelineimport/v1/transaction".into(),
            action: "InvoiceLineImport".into(),
            response_code: 422,
            outcome: None,
            reason: None,
            reference_id: Some("4000".into()),
            event_id: None,
            duration_ms: 1,
            request_payload: "{\"transactionId\":\"4000\"}".into(),
            request_truncated: false,
            request_properties: None,
            response_body: None,
        },
    )
    .await
    .unwrap();
}

#[test]
fn logs_4xx_since_1h_lists_exactly_the_rejected_requests_with_their_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fault_run(&store, &dir.path().join("secret")));
    let args = ["logs", "--tenant", GLN, "--status", "4xx", "--since", "1h"];
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let entries = ok_json(&ucc(&store, &with_json));
    let got: Vec<(String, u64, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["referenceId"].as_str().unwrap().to_owned(),
                e["responseCode"].as_u64().unwrap(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("5002".to_owned(), 400, "InvoiceLineImport".to_owned()),
            ("5001".to_owned(), 422, "InvoiceLineImport".to_owned())
        ],
        "exactly the rejected requests of the last hour, newest first"
    );
    for e in entries.as_array().unwrap() {
        let payload: Value = serde_json::from_str(e["requestPayload"].as_str().unwrap()).unwrap();
        assert_eq!(
            payload["transactionId"], e["referenceId"],
            "the full payload is kept"
        );
        assert!(payload["totalCostInclVat"].is_number());
    }
    let text = ucc(&store, &args);
    assert!(text.status.success());
    let out = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "5001",
        "5002",
        "\"transactionId\":\"5001\"",
        "\"transactionId\":\"5002\"",
        "totalCostInclVat",
    ] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
    for absent in ["5003", "5004", "4000"] {
        assert!(
            !out.contains(&format!("\"transactionId\":\"{absent}\"")),
            "{absent} listed:\n{out}"
        );
    }
}

#[test]
fn tenant_status_key_rotation_and_settings_commands() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state");
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nordlys/tenants/nordlys.json");
    assert!(ucc(&store, &["tenant", "put", file.to_str().unwrap()])
        .status
        .success());
    let status = ok_json(&ucc(&store, &["tenant", "status", GLN, "--json"]));
    assert_eq!(status["status"], "ok");
    assert_eq!(status["apiKey"], Value::Null);
    let key = ok_json(&ucc(
        &store,
        &["tenant", "api-key", "rotate", GLN, "--json"],
    ));
    let key = key["apiKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("ucck_{GLN}_")));
    let status = ok_json(&ucc(&store, &["tenant", "status", GLN, "--json"]));
    assert!(status["apiKey"]["masked"]
        .as_str()
        .unwrap()
        .starts_with("ucck_"));
    assert!(!status.to_string().contains(&key[19..]));
    let table = ucc(&store, &["tenant", "status", GLN]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("Pending"));
    let before = ok_json(&ucc(&store, &["tenant", "settings", "get", GLN, "--json"]));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"accountingPointPattern": "^[a-z"}"#).unwrap();
    let o = ucc(
        &store,
        &["tenant", "settings", "put", GLN, bad.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("accountingPointPattern"));
    assert_eq!(
        ok_json(&ucc(&store, &["tenant", "settings", "get", GLN, "--json"])),
        before
    );
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"serviceBusTopic": "uc-test", "logRetentionDays": 30}"#,
    )
    .unwrap();
    let after = ok_json(&ucc(
        &store,
        &[
            "tenant",
            "settings",
            "put",
            GLN,
            good.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(
        (
            after["serviceBusTopic"].as_str(),
            after["logRetentionDays"].as_u64()
        ),
        (Some("uc-test"), Some(30))
    );
    let status = ok_json(&ucc(&store, &["tenant", "status", GLN, "--json"]));
    assert_eq!(status["logRetentionDays"], 30);
}

#[test]
fn serve_mounts_the_admin_api_with_the_platform_key_from_its_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state");
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nordlys/tenants/nordlys.json");
    assert!(ucc(&store, &["tenant", "put", file.to_str().unwrap()])
        .status
        .success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ucc"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "serve",
            "--port",
            &port.to_string(),
        ])
        .env("UCC_ADMIN_KEY_REF", "env:UCC_TEST_ADMIN_KEY")
        .env("UCC_TEST_ADMIN_KEY", "serve-platform-key")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = rt.block_on(async {
        let c = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/api/tenants/{GLN}");
        let mut out = Vec::new();
        for key in [None, Some("wrong"), Some("serve-platform-key")] {
            let mut r = c.get(&url);
            if let Some(k) = key {
                r = r.header("x-api-key", k);
            }
            let resp = r.send().await.unwrap();
            out.push((resp.status().as_u16(), resp.json::<Value>().await.unwrap()));
        }
        out
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(results[0].0, 401);
    assert_eq!(results[0].1["error"], "unauthorized");
    assert_eq!(results[1].0, 401);
    assert_eq!(results[2].0, 200, "{}", results[2].1);
    assert_eq!(results[2].1["gln"], GLN);
}

/// SPEC §6, as an operator meets it: `ucc correct` of a line whose credit UC rejects never
/// sends the re-priced line. It is shown as held, with the reason, and goes out (after
/// its credit) once the operator re-drives the credit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_with_a_rejected_credit_holds_the_correction_until_the_credit_is_redriven() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("state");
    let secret_file = dir.path().join("secret");
    let standin = StandIn::start(StandInConfig {
        client_secret: SECRET.into(),
        ..StandInConfig::default()
    })
    .await
    .unwrap();
    std::fs::write(&secret_file, SECRET).unwrap();
    {
        let cfg = TenantConfig::from_value(&json!({
            "gln": GLN, "customerId": "emb-cust-0042", "name": "Nordlys Energi AS", "mode": "costedTransaction",
            "uc": { "baseUrl": standin.base_url(), "tokenUrl": standin.token_url(), "clientId": standin.client_id(),
                    "clientSecretRef": format!("file:{}", secret_file.display()), "scope": "api://uc/.default" },
            "defaultSiteId": 1001, "currency": "NOK", "vatPercent": "25", "timeZone": "Europe/Oslo",
            "tariffs": [{ "country_code": "NO", "party_id": "EMB", "id": "T", "currency": "NOK",
                          "elements": [{ "price_components": [{ "type": "ENERGY", "price": "2.00", "step_size": 1 }] }],
                          "last_updated": "2026-01-01T00:00:00Z" }]
        }))
        .unwrap();
        let store = Arc::new(EmbeddedStore::open(&store_path).unwrap());
        registry::put(store.as_ref(), &cfg).await.unwrap();
        let ctx = Arc::new(Ctx::new(store.clone()));
        let d = Deliverer::new(ctx.clone(), Duration::from_secs(2)).unwrap();
        let activation = json!({
            "Header": { "EventID": "e-1", "EventName": "ContractActivated", "EventTime": "2026-11-01T08:00:00Z",
                        "TenantID": GLN, "ServiceType": "ChargingAgreement" },
            "Payload": { "Contract": { "ContractID": "1", "ProductCode": "P",
                         "AccountingPoint": { "Identification": "707057500012345678", "Details": { "Rfid": RFID } } } }
        });
        contract::handle(&ctx, &InboundMessage::from_body(activation.to_string()))
            .await
            .unwrap();
        let h = intake::handle(&d, &InboundMessage::from_body(session("6001")))
            .await
            .unwrap();
        assert_eq!(h.outcome.name(), "delivered");
    }
    standin.push_fault(Route::PostTransaction, Fault::Status(400));
    let o = ucc(&store_path, &["correct", "6001"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("6001-C1: rejected"), "{out}");
    assert!(out.contains("6001-R1: held"), "{out}");
    assert_eq!(
        standin.post_attempts("6001-R1"),
        0,
        "the re-priced line was posted although its credit was rejected"
    );
    let held = ok_json(&ucc(
        &store_path,
        &[
            "deliveries",
            "list",
            "--tenant",
            GLN,
            "--state",
            "held",
            "--json",
        ],
    ));
    assert_eq!(held[0]["transactionId"], "6001-R1");
    assert!(
        held[0]["lastResult"]
            .as_str()
            .is_some_and(|r| r.contains("6001-C1") && r.contains("rejected")),
        "{held}"
    );
    let o = ucc(&store_path, &["deliveries", "retry", "6001-C1"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("6001-C1: delivered") && out.contains("6001-R1: delivered"),
        "{out}"
    );
    let order: Vec<String> = standin
        .accepted_transactions()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["6001", "6001-C1", "6001-R1"]);
}
