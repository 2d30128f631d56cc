//! The `ucc` binary as an operator uses it: real process, real embedded store on disk, and
//! the main flows also on Azure Table Storage (Azurite) when `UCC_TEST_AZURITE_ENDPOINT` is
//! set (`make test`).

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const DEMO_SECRET: &str = "cli-test-secret";

/// Azurite's well-known development key (public, documented by Microsoft).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// `ucc` with the store and, when Azurite is there, the Azure Table settings (SPEC §9
/// names) an operator would export; they do nothing for a file store.
fn command(store: &(impl AsRef<std::ffi::OsStr> + ?Sized)) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ucc"));
    c.arg("--store")
        .arg(store)
        .env_remove("UCC_STORE")
        .env("UCC_SECRET_NORDLYS", DEMO_SECRET)
        .env("UCC_SECRET_SVEA", DEMO_SECRET);
    if let Some(endpoint) = azurite() {
        c.env("UCC_AZURE_TABLE_ENDPOINT", endpoint)
            .env("UCC_AZURE_STORAGE_KEY_REF", "env:UCC_TEST_AZURITE_KEY")
            .env("UCC_TEST_AZURITE_KEY", AZURITE_KEY);
    }
    c
}

fn ucc(store: &(impl AsRef<std::ffi::OsStr> + ?Sized), args: &[&str]) -> Output {
    command(store)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ucc: {e}"))
}

fn azurite() -> Option<String> {
    match std::env::var("UCC_TEST_AZURITE_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => Some(e),
        _ => {
            assert!(
                std::env::var("UCC_REQUIRE_AZURITE").as_deref() != Ok("1"),
                "UCC_REQUIRE_AZURITE=1 but UCC_TEST_AZURITE_ENDPOINT is not set"
            );
            None
        }
    }
}

/// A fresh store for one test: a file store in a temp dir, or a new table on Azurite.
enum StoreKind {
    Embedded,
    AzureTable,
}

fn fresh_store(kind: StoreKind) -> Option<(tempfile::TempDir, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = match kind {
        StoreKind::Embedded => dir.path().join("state").to_string_lossy().into_owned(),
        StoreKind::AzureTable => {
            azurite()?;
            static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            format!(
                "azuretable://devstoreaccount1/cli{}x{}x{nanos}",
                std::process::id(),
                SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )
        }
    };
    Some((dir, spec))
}

/// Each listed test body `fn name(dir: &Path, store: &str)` runs as `name::embedded` and
/// `name::azuretable`.
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn embedded() {
                    if let Some((dir, store)) = super::fresh_store(super::StoreKind::Embedded) {
                        super::$name(dir.path(), &store);
                    }
                }

                #[test]
                fn azuretable() {
                    if let Some((dir, store)) = super::fresh_store(super::StoreKind::AzureTable) {
                        super::$name(dir.path(), &store);
                    }
                }
            }
        )+
    };
}

on_both_stores!(
    run_scenario_reports_every_event_outcome,
    tenant_put_get_list_round_trip,
    drivers_parked_and_logs_after_a_scenario,
    serve_answers_the_custom_handler_contract_on_the_configured_port,
);

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "ucc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nordlys")
}

fn run_scenario_reports_every_event_outcome(_dir: &Path, store: &str) {
    let scenario = scenario_dir();
    let args = [
        "run-scenario",
        scenario.to_str().unwrap_or_default(),
        "--json",
        "--uc-standin",
    ];
    let report = stdout_json(&ucc(&store, &args));
    let got: Vec<(String, String)> = report["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let reason = e["reason"].as_str().unwrap_or_default();
            let outcome = e["outcome"].as_str().unwrap_or_default();
            let shown = if outcome == "parked" {
                format!("parked:{reason}")
            } else {
                outcome.to_owned()
            };
            (e["file"].as_str().unwrap_or_default().to_owned(), shown)
        })
        .collect();
    let expected = [
        ("010-activate-kari-rfid.json", "applied"),
        ("020-activate-ola-virtual.json", "applied"),
        ("030-activate-ingrid-default-site.json", "applied"),
        ("040-update-kari-new-rfid.json", "applied"),
        ("050-duplicate-of-ola-activation.json", "duplicate"),
        ("060-terminate-ingrid.json", "applied"),
        ("070-late-update-ingrid-stale.json", "stale"),
        ("072-activate-per-rfid.json", "applied"),
        ("074-activate-svea-rfid.json", "applied"),
        ("080-third-party-contract-filtered.json", "ignored"),
        (
            "090-malformed-private-site-id.json",
            "parked:invalidPrivateSiteId",
        ),
        ("100-unknown-tenant.json", "parked:unknownTenant"),
        ("110-session-kari-borettslag-site.json", "delivered"),
        (
            "120-session-per-revenue-shared-site-no-id.json",
            "delivered",
        ),
        ("125-terminate-per.json", "applied"),
        ("130-session-per-after-termination.json", "delivered"),
        ("140-session-svea-meter-values.json", "delivered"),
        ("150-session-unknown-token.json", "ignored"),
        ("160-credit-per-after-termination.json", "delivered"),
        ("170-schedule-svea-migration.json", "scheduled"),
        ("172-session-svea-before-cutover.json", "delivered"),
        ("174-session-svea-brf-site-before-cutover.json", "delivered"),
        ("176-migration-report-svea.json", "reported"),
        (
            "180-session-svea-ends-just-before-cutover.json",
            "delivered",
        ),
        ("182-session-svea-ends-at-cutover.json", "delivered"),
        ("184-session-svea-after-cutover.json", "delivered"),
        ("186-late-session-svea-before-cutover.json", "delivered"),
        (
            "190-credit-svea-meter-value-session-refused.json",
            "refused",
        ),
        ("192-credit-svea-invoice-line.json", "delivered"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, o)| (f.to_string(), o.to_string()))
        .collect();
    assert_eq!(got, expected);
    // Read back from the stand-in: four invoice lines (one a credit) and one meter series.
    let uc = &report["utilityCloud"];
    let ids: Vec<&str> = uc["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["transactionId"].as_str())
        .collect();
    // Svea Kraft's migration (SPEC §12): sessions ending at or after the cutover are
    // invoice lines, the ones ending before it (also one arriving late) meter series.
    assert_eq!(
        ids,
        vec![
            "88812345",
            "88812346",
            "88812347",
            "88812347-C1",
            "SE-55120005",
            "SE-55120006",
            "SE-55120006-C1"
        ]
    );
    let series: Vec<&str> = uc["meterValueSeries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["TransactionId"].as_str())
        .collect();
    assert_eq!(
        series,
        vec![
            "SE-55120001",
            "SE-55120002",
            "SE-55120003",
            "SE-55120004",
            "SE-55120007"
        ]
    );
    let shadow = &report["migrationReports"][0]["report"];
    assert_eq!(shadow["totals"]["sessions"], 2, "{shadow}");
    assert_eq!(shadow["sessions"][0]["transactionId"], "SE-55120002");
    assert_eq!(uc["transactions"][0]["revenueShareId"], 5501);
    assert_eq!(
        uc["transactions"][0]["totalCostInclVat"].to_string(),
        "88.73"
    );
    assert_eq!(
        uc["transactions"][3]["creditReferenceTransactionId"],
        "88812347"
    );
    assert_eq!(uc["meterValueSeries"][0]["TransactionId"], "SE-55120001");
    assert_eq!(
        report["tenants"][0]["reconciliation"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn tenant_put_refuses_a_bad_config_with_one_line_naming_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.json");
    let mut cfg: Value = serde_json::from_slice(
        &std::fs::read(scenario_dir().join("tenants/nordlys.json")).expect("read"),
    )
    .expect("json");
    cfg["accountingPointPattern"] = json!("^[0-9");
    std::fs::write(&file, cfg.to_string()).expect("write");
    let o = ucc(
        &dir.path().join("state"),
        &["tenant", "put", file.to_str().unwrap_or_default()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.json") && err.contains("accountingPointPattern"),
        "{err}"
    );
    // Nothing was stored.
    let list = stdout_json(&ucc(
        &dir.path().join("state"),
        &["tenant", "list", "--json"],
    ));
    assert_eq!(list, json!([]));
}

#[test]
fn tenant_put_refuses_gross_prices_with_a_component_vat_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("gross.json");
    let mut cfg: Value = serde_json::from_slice(
        &std::fs::read(scenario_dir().join("tenants/nordlys.json")).expect("read"),
    )
    .expect("json");
    cfg["pricesIncludeVat"] = json!(true);
    cfg["tariffs"][0]["elements"][0]["price_components"][0]["vat"] = json!(25);
    std::fs::write(&file, cfg.to_string()).expect("write");
    let o = ucc(
        &dir.path().join("state"),
        &["tenant", "put", file.to_str().unwrap_or_default()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("tariffs[0].elements[0].price_components[0].vat")
            && err.contains("charged twice"),
        "{err}"
    );
}

#[test]
fn tenant_put_refuses_plain_http_to_a_non_loopback_host_naming_uc_base_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain-http.json");
    let mut cfg: Value = serde_json::from_slice(
        &std::fs::read(scenario_dir().join("tenants/nordlys.json")).expect("read"),
    )
    .expect("json");
    cfg["uc"]["baseUrl"] = json!("http://api.example.com");
    std::fs::write(&file, cfg.to_string()).expect("write");
    let o = ucc(
        &dir.path().join("state"),
        &["tenant", "put", file.to_str().unwrap_or_default()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("uc.baseUrl"), "{err}");
    let list = stdout_json(&ucc(
        &dir.path().join("state"),
        &["tenant", "list", "--json"],
    ));
    assert_eq!(list, json!([]), "nothing was stored");
}

fn tenant_put_get_list_round_trip(_dir: &Path, store: &str) {
    let file = scenario_dir().join("tenants/nordlys.json");
    let o = ucc(
        &store,
        &["tenant", "put", file.to_str().unwrap_or_default()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("created tenant 7080010002488"));
    let got = stdout_json(&ucc(&store, &["tenant", "get", "7080010002488", "--json"]));
    assert_eq!(got["customerId"], "emb-cust-0042");
    assert_eq!(got["uc"]["clientSecretRef"], "env:UCC_SECRET_NORDLYS");
    let list = stdout_json(&ucc(&store, &["tenant", "list", "--json"]));
    assert_eq!(list[0]["gln"], "7080010002488");
    let o = ucc(&store, &["tenant", "get", "7080010002489"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("check digit"));
}

fn drivers_parked_and_logs_after_a_scenario(dir: &Path, store: &str) {
    let run = ucc(
        &store,
        &[
            "run-scenario",
            scenario_dir().to_str().unwrap_or_default(),
            "--uc-standin",
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let drivers = stdout_json(&ucc(
        &store,
        &["drivers", "list", "--tenant", "7080010002488", "--json"],
    ));
    assert_eq!(drivers.as_array().map(Vec::len), Some(4));
    let kari = stdout_json(&ucc(
        &store,
        &[
            "driver",
            "get",
            "--tenant",
            "7080010002488",
            "707057500012345678",
            "--json",
        ],
    ));
    assert_eq!(kari["active"], true);
    assert_eq!(kari["siteId"], 1043);
    assert_eq!(
        kari["tokens"],
        json!([
            {"value": "04A2B3C4D5E6F7", "kind": "rfid", "active": false, "name": "Kari sin brikke"},
            {"value": "04A2B3C4D5E6F8", "kind": "rfid", "active": true, "name": "Kari sin brikke"}
        ])
    );
    assert_eq!(kari["lastAppliedEvent"]["eventName"], "ContractUpdated");

    let parked = stdout_json(&ucc(
        &store,
        &["parked", "list", "--tenant", "7080010002488", "--json"],
    ));
    assert_eq!(parked[0]["reason"], "invalidPrivateSiteId");
    let unrouted = stdout_json(&ucc(&store, &["parked", "list", "--unrouted", "--json"]));
    assert_eq!(unrouted[0]["reason"], "unknownTenant");
    let id = unrouted[0]["id"].as_str().unwrap_or_default().to_owned();
    let shown = stdout_json(&ucc(&store, &["parked", "show", &id, "--json"]));
    assert!(shown["body"]
        .as_str()
        .unwrap_or_default()
        .contains("735999100000012345"));

    // Replay before the tenant exists: parks again, stays listed.
    let again = stdout_json(&ucc(&store, &["parked", "replay", &id, "--json"]));
    assert_eq!(again["outcome"], "parked");
    // Configure the Swedish tenant, replay: applied, and the entry is gone.
    let mut svea: Value = serde_json::from_slice(
        &std::fs::read(scenario_dir().join("tenants/nordlys.json")).expect("read"),
    )
    .expect("json");
    svea["gln"] = json!("9436465792104");
    svea["customerId"] = json!("emb-cust-fjord");
    let f = dir.join("svea.json");
    std::fs::write(&f, svea.to_string()).expect("write");
    assert!(
        ucc(&store, &["tenant", "put", f.to_str().unwrap_or_default()])
            .status
            .success()
    );
    let applied = stdout_json(&ucc(&store, &["parked", "replay", &id, "--json"]));
    assert_eq!(applied["outcome"], "applied");
    assert_eq!(
        stdout_json(&ucc(&store, &["parked", "list", "--unrouted", "--json"])),
        json!([])
    );

    let logs = stdout_json(&ucc(
        &store,
        &["logs", "--tenant", "7080010002488", "--json"],
    ));
    let entries = logs.as_array().cloned().unwrap_or_default();
    let contract_logs = entries
        .iter()
        .filter(|e| e["direction"] == "inbound" && e["endpoint"] == "contract-events")
        .count();
    assert_eq!(
        contract_logs, 11,
        "every contract message naming this tenant is logged"
    );
    assert!(entries
        .iter()
        .any(|e| e["action"] == "InvoiceLineImport" && e["responseCode"] == 201));
    let times: Vec<&str> = entries.iter().filter_map(|e| e["time"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let parked_only = stdout_json(&ucc(
        &store,
        &[
            "logs",
            "--tenant",
            "7080010002488",
            "--ref",
            "707057500055556666",
            "--json",
        ],
    ));
    assert_eq!(parked_only.as_array().map(Vec::len), Some(1));
}

fn serve_answers_the_custom_handler_contract_on_the_configured_port(_dir: &Path, store: &str) {
    let file = scenario_dir().join("tenants/nordlys.json");
    assert!(ucc(
        &store,
        &["tenant", "put", file.to_str().unwrap_or_default()]
    )
    .status
    .success());
    let (mut child, port) = start_serve(store);
    let body = std::fs::read_to_string(scenario_dir().join("events/010-activate-kari-rfid.json"))
        .expect("event");
    let invocation = json!({"Data": {"message": body}, "Metadata": {"MessageId": "\"m-1\"", "DeliveryCount": "1"}});
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let answer: Value = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/contract-events"))
            .json(&invocation)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.expect("json")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answer["ReturnValue"]["outcome"], "applied", "{answer}");
}

#[test]
fn price_with_a_stored_tenant_by_gln_matches_the_delivered_amounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("state");
    let tenant = scenario_dir().join("tenants/nordlys.json");
    assert!(ucc(
        &store,
        &["tenant", "put", tenant.to_str().unwrap_or_default()]
    )
    .status
    .success());
    let session = scenario_dir().join("events/110-session-kari-borettslag-site.json");
    let quote = stdout_json(&ucc(
        &store,
        &[
            "price",
            "--session",
            session.to_str().unwrap_or_default(),
            "--tenant",
            "7080010002488",
        ],
    ));
    assert_eq!(
        quote["tariff_id"], "NORDLYS-BRL-2026",
        "site 1042 maps to the borettslag tariff"
    );
    assert_eq!(quote["invoice"]["totalCostInclVat"].to_string(), "88.73");
    let missing = ucc(
        &store,
        &[
            "price",
            "--session",
            session.to_str().unwrap_or_default(),
            "--tenant",
            "7300011000017",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant with GLN 7300011000017"));
}

#[test]
fn an_unknown_store_scheme_is_refused_naming_the_three_forms() {
    let dir = tempfile::tempdir().expect("tempdir");
    for spec in ["azuretables://acct/t", "s3://bucket", "dynamodb://"] {
        let o = Command::new(env!("CARGO_BIN_EXE_ucc"))
            .current_dir(dir.path())
            .args(["--store", spec, "tenant", "list"])
            .env_remove("UCC_STORE")
            .output()
            .expect("run ucc");
        assert_eq!(o.status.code(), Some(1), "{spec}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(spec.split("://").next().unwrap_or_default()),
            "{spec}: {err}"
        );
        if spec != "dynamodb://" {
            assert!(
                err.contains("dynamodb://TABLE") && err.contains("azuretable://ACCOUNT/TABLE"),
                "{spec}: {err}"
            );
        }
    }
    let o = Command::new(env!("CARGO_BIN_EXE_ucc"))
        .current_dir(dir.path())
        .args(["--store", "azuretable://Bad_Account/t", "tenant", "list"])
        .env_remove("UCC_STORE")
        .output()
        .expect("run ucc");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("storage account name"));
    // Nothing was taken for a folder name.
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Starts `ucc serve --no-timers` on a free port and waits for its readiness line.
fn start_serve(store: &str) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut child = command(store)
        .args(["serve", "--no-timers"])
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn ucc serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on"));
    assert!(ready, "ucc serve did not start");
    // Keep draining stderr so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, port)
}

/// The example's contract events, in file order.
fn contract_events() -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir().join("events"))
        .expect("events")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("event"))
        .filter(|body| serde_json::from_str::<Value>(body).is_ok_and(|v| v.get("Header").is_some()))
        .collect()
}

/// Every tenant's drivers, with what differs between two runs by nature blanked: virtual
/// token values (random) and the wall-clock times of the writes.
fn drivers_of(store: &str) -> Vec<Value> {
    ["7080010002488", "9436465792104", "7300011000017"]
        .iter()
        .map(|gln| {
            let mut v = stdout_json(&ucc(store, &["drivers", "list", "--tenant", gln, "--json"]));
            for d in v.as_array_mut().into_iter().flatten() {
                d["createdAt"] = json!("<time>");
                d["updatedAt"] = json!("<time>");
                for t in d["tokens"].as_array_mut().into_iter().flatten() {
                    if t["kind"] == "virtual" {
                        t["value"] = json!("<virtual>");
                    }
                }
            }
            v
        })
        .collect()
}

/// SPEC §9 acceptance: three `ucc serve` processes share one Azure table and receive the
/// example's contract events three times each, shuffled and concurrently. The drivers end
/// up exactly as one process applying each event once, in order, leaves them.
#[test]
fn several_processes_sharing_one_azure_table_lose_no_update() {
    let Some((_dir, shared)) = fresh_store(StoreKind::AzureTable) else {
        return;
    };
    let (_ref_dir, reference) = fresh_store(StoreKind::Embedded).expect("embedded");
    for store in [&shared, &reference] {
        for t in ["nordlys.json", "svea.json"] {
            let f = scenario_dir().join("tenants").join(t);
            let o = ucc(store, &["tenant", "put", f.to_str().unwrap_or_default()]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
    let events = contract_events();
    assert!(events.len() >= 10, "{} contract events", events.len());
    let invocation = |body: &str, n: usize| json!({"Data": {"message": body}, "Metadata": {"MessageId": format!("\"m-{n}\""), "DeliveryCount": "1"}});
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");

    // The reference: one process, each event once, in order.
    let (mut one, port) = start_serve(&reference);
    rt.block_on(async {
        let http = reqwest::Client::new();
        for (n, e) in events.iter().enumerate() {
            let r = http
                .post(format!("http://127.0.0.1:{port}/contract-events"))
                .json(&invocation(e, n))
                .send()
                .await
                .expect("request");
            assert_eq!(r.status().as_u16(), 200);
        }
    });
    let _ = one.kill();
    let _ = one.wait();

    // Three processes, every event three times, shuffled, four requests in flight each.
    let servers: Vec<_> = (0..3).map(|_| start_serve(&shared)).collect();
    let mut work: Vec<(usize, String)> = (0..3)
        .flat_map(|_| events.iter().cloned().enumerate())
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..work.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        work.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let ports: Vec<u16> = servers.iter().map(|(_, p)| *p).collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(work));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..12 {
            let (queue, port) = (queue.clone(), ports[w % ports.len()]);
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                loop {
                    let Some((n, e)) = queue.lock().expect("queue").pop() else {
                        return;
                    };
                    // A transient failure (a conflict the handler gave up on) is what the
                    // host would redeliver: so do we.
                    loop {
                        let r = http
                            .post(format!("http://127.0.0.1:{port}/contract-events"))
                            .json(&json!({"Data": {"message": e}, "Metadata": {"MessageId": format!("\"m-{n}\""), "DeliveryCount": "1"}}))
                            .send()
                            .await
                            .expect("request");
                        if r.status().is_success() {
                            break;
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("worker");
        }
    });
    for (mut child, _) in servers {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(drivers_of(&shared), drivers_of(&reference));
}
