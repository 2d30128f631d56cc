//! A Type A tenant's migration (SPEC §12) as a new operator does it with the real `ucc`
//! binary: put the tenant, schedule, read the shadow report, sessions on both sides of the
//! cutover (meter series before, invoice lines after, in the UC stand-in), a credit of a
//! meter-value session refused, and a cancel.
//!
//! Sessions come in through the session-completed handler in this process (as the platform
//! would deliver them); everything an operator types is the binary. The embedded store is
//! opened by one process at a time.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use ucc_shared::context::Ctx;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::intake;
use ucc_shared::delivery::Deliverer;
use ucc_shared::store::embedded::EmbeddedStore;
use ucc_standins::uc::{StandIn, StandInConfig};

const GLN: &str = "7300011000017";
const SECRET: &str = "migration-cli-secret";
const RFID: &str = "SE-4411-8822";
const AP: &str = "735999100000012345";

fn ucc(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ucc"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("UCC_STORE")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit 1 with one line on stderr, which is returned.
fn refused(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr).trim_end().to_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

/// `ucc tenant migrate GLN --to TO --cutover CUTOVER`.
fn migrate(store: &Path, to: &str, cutover: &str) -> Output {
    ucc(
        store,
        &["tenant", "migrate", GLN, "--to", to, "--cutover", cutover],
    )
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn session(tx: &str, end: DateTime<Utc>) -> String {
    let start = end - chrono::Duration::hours(3);
    json!({
        "customerId": "emb-cust-svea", "transactionId": tx, "chargerId": "EMB-1", "socketId": 1,
        "authorizedIdTag": RFID, "timestampStart": ts(start), "timestampEnd": ts(end),
        "meterReadStartWh": 4_410_000, "meterReadEndWh": 4_421_870
    })
    .to_string()
}

/// Runs `f` with a Deliverer on the store, then closes the store for the next command.
async fn with_handlers<F, Fut>(store_path: &Path, f: F)
where
    F: FnOnce(Arc<Deliverer>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let store = Arc::new(EmbeddedStore::open(store_path).unwrap());
    let ctx = Arc::new(Ctx::new(store));
    let d = Arc::new(Deliverer::new(ctx, Duration::from_secs(2)).unwrap());
    f(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_a_tenant_migrates_with_a_shadow_report_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let standin = StandIn::start(StandInConfig {
        client_secret: SECRET.into(),
        ..StandInConfig::default()
    })
    .await
    .unwrap();
    // The example's Svea Kraft (Type A, with tariffs), pointed at the stand-in.
    let mut cfg: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nordlys/tenants/svea.json"),
        )
        .unwrap(),
    )
    .unwrap();
    cfg["uc"]["baseUrl"] = json!(standin.base_url());
    cfg["uc"]["tokenUrl"] = json!(standin.token_url());
    cfg["uc"]["clientId"] = json!(standin.client_id());
    cfg["uc"]["clientSecretRef"] = json!(format!("file:{}", secret_file.display()));
    let file = dir.path().join("svea.json");
    std::fs::write(&file, cfg.to_string()).unwrap();
    ok(&ucc(&store, &["tenant", "put", file.to_str().unwrap()]));
    with_handlers(&store, |d| async move {
        let activation = json!({
            "Header": { "EventID": "e-1", "EventName": "ContractActivated", "EventTime": "2026-11-01T08:00:00Z",
                        "TenantID": GLN, "ServiceType": "ChargingAgreement" },
            "Payload": { "Contract": { "ContractID": "1", "ProductCode": "P",
                         "AccountingPoint": { "Identification": AP, "Details": { "Rfid": RFID } } } }
        });
        contract::handle(&d.ctx, &InboundMessage::from_body(activation.to_string()))
            .await
            .unwrap();
    })
    .await;

    // Refusals first: a cutover in the past; a cancel with nothing scheduled.
    let past = ts(Utc::now() - chrono::Duration::hours(1));
    let err = refused(&migrate(&store, "costedTransaction", &past));
    assert!(
        err.contains("--cutover") && err.contains("in the past"),
        "{err}"
    );
    let err = refused(&ucc(&store, &["tenant", "migrate", GLN, "--cancel"]));
    assert!(err.contains("no scheduled migration"), "{err}");

    // Schedule: the next whole hour two hours from now.
    let now = Utc::now();
    let cut = DateTime::from_timestamp((now.timestamp() / 3600 + 2) * 3600, 0).unwrap();
    let out = ok(&migrate(&store, "costedTransaction", &ts(cut)));
    assert!(out.contains("scheduled"), "{out}");
    let got: Value =
        serde_json::from_str(&ok(&ucc(&store, &["tenant", "get", GLN, "--json"]))).unwrap();
    assert_eq!(got["mode"], "meterValue");
    assert_eq!(got["migration"]["to"], "costedTransaction");
    assert_eq!(got["migration"]["cutover"], ts(cut));
    let status: Value =
        serde_json::from_str(&ok(&ucc(&store, &["tenant", "status", GLN, "--json"]))).unwrap();
    assert_eq!(status["migration"]["state"], "scheduled");

    // Sessions on both sides of the cutover.
    let (before, at, after) = (
        session("SV-1", cut - chrono::Duration::seconds(1)),
        session("SV-2", cut),
        session("SV-3", cut + chrono::Duration::minutes(30)),
    );
    with_handlers(&store, |d| async move {
        for s in [before, at, after] {
            let h = intake::handle(&d, &InboundMessage::from_body(s))
                .await
                .unwrap();
            assert_eq!(h.outcome.name(), "delivered", "{h:?}");
        }
    })
    .await;

    // The shadow report: the one meter-value session, with what Type B would bill.
    let report: Value =
        serde_json::from_str(&ok(&ucc(&store, &["migration", "report", GLN, "--json"]))).unwrap();
    assert_eq!(report["totals"]["sessions"], 1, "{report}");
    let row = &report["sessions"][0];
    assert_eq!(row["transactionId"], "SV-1");
    assert_eq!(row["fullConsumptionKWh"], "11.870");
    assert_eq!(row["tariffId"], "SVEA-STD-2026");
    let excl: rust_decimal::Decimal = row["totalCostExclVat"].as_str().unwrap().parse().unwrap();
    let vat: rust_decimal::Decimal = row["totalVat"].as_str().unwrap().parse().unwrap();
    let incl: rust_decimal::Decimal = row["totalCostInclVat"].as_str().unwrap().parse().unwrap();
    assert_eq!(excl + vat, incl);
    assert_eq!(
        report["totals"]["totalCostInclVat"],
        row["totalCostInclVat"]
    );
    let table = ok(&ucc(&store, &["migration", "report", GLN]));
    assert!(
        table.contains("TOTAL") && table.contains("subtotal"),
        "{table}"
    );
    let csv = ok(&ucc(
        &store,
        &["migration", "report", GLN, "--csv", "--since", "30d"],
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "transactionId,timestampEnd,fullConsumptionKWh,totalCostExclVat,totalVat,totalCostInclVat,tariffId"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with("SV-1,"), "{csv}");

    // UC holds a meter series before the cutover and invoice lines from it on.
    let series: Vec<String> = standin
        .accepted_meter_series()
        .iter()
        .map(|m| m["TransactionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(series, ["SV-1"]);
    let lines: Vec<String> = standin
        .accepted_transactions()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["SV-2", "SV-3"]);

    // A credit of the meter-value session is refused; an invoice line credits.
    let err = refused(&ucc(&store, &["credit", "SV-1"]));
    assert!(
        err.contains("delivered as meter values") && err.contains("Utility Cloud"),
        "{err}"
    );
    ok(&ucc(&store, &["credit", "SV-3", "--reason", "goodwill"]));
    assert!(standin.transaction("SV-3-C1").is_some());

    // Migrating a tenant that is not Type A is refused naming it; then cancel.
    let err = refused(&migrate(&store, "meterValue", &ts(cut)));
    assert!(err.contains("--to"), "{err}");
    let out = ok(&ucc(&store, &["tenant", "migrate", GLN, "--cancel"]));
    assert!(out.contains("cancelled"), "{out}");
    let got: Value =
        serde_json::from_str(&ok(&ucc(&store, &["tenant", "get", GLN, "--json"]))).unwrap();
    assert!(got.get("migration").is_none(), "{got}");
    assert_eq!(got["mode"], "meterValue");
}
