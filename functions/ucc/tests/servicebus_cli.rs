//! `ucc servicebus pull --for N` (SPEC §10) against the loopback Service Bus stand-in
//! started by the test, configured through the `UCC_SERVICEBUS_*` variables.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use ucc_standins::servicebus::{Options, ServiceBusStandIn};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nordlys")
}

fn sorted_json(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

async fn ucc(store: &Path, sb: &ServiceBusStandIn, key: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ucc"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("UCC_STORE")
        .env("UCC_SERVICEBUS_ENDPOINT", sb.endpoint())
        .env("UCC_SERVICEBUS_ENTITY", &sb.options().entity)
        .env("UCC_SERVICEBUS_SAS_KEY_NAME", &sb.options().key_name)
        .env("UCC_SERVICEBUS_SAS_KEY_REF", "env:UCC_TEST_SB_KEY")
        .env("UCC_TEST_SB_KEY", key)
        .env("UCC_SERVICEBUS_RECEIVE_TIMEOUT", "1")
        .output()
        .await
        .expect("run ucc")
}

/// The store with the scenario's tenants, and the stand-in holding its contract events.
async fn setup(dir: &Path) -> (PathBuf, ServiceBusStandIn, Vec<String>) {
    let store = dir.join("state");
    let sb = ServiceBusStandIn::start(Options::default())
        .await
        .expect("stand-in");
    for t in sorted_json(&examples().join("tenants")) {
        let out = ucc(&store, &sb, "", &["tenant", "put", &t.to_string_lossy()]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ids = Vec::new();
    for e in sorted_json(&examples().join("events")) {
        let raw = std::fs::read(&e).expect("event");
        let v: Value = serde_json::from_slice(&raw).expect("json");
        if v.get("Header").is_some() {
            ids.push(sb.enqueue(raw, &[]));
        }
    }
    (store, sb, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_provisions_the_scenario_drivers_and_completes_every_message_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, sb, ids) = setup(dir.path()).await;
    let key = sb.options().key.clone();
    let out = ucc(&store, &sb, &key, &["servicebus", "pull", "--for", "4"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("received {}", ids.len())),
        "{stdout}"
    );
    assert!(stdout.contains("abandoned 0, lost locks 0"), "{stdout}");
    let mut done = sb.completed();
    done.sort();
    assert_eq!(done, ids, "every message completed exactly once");
    assert!(sb.remaining().is_empty());
    let out = ucc(
        &store,
        &sb,
        &key,
        &["drivers", "list", "--tenant", "7080010002488", "--json"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    for ap in [
        "707057500012345678",
        "707057500098765432",
        "707057500011112222",
    ] {
        assert!(listed.contains(ap), "driver {ap} provisioned: {listed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_with_a_wrong_sas_key_exits_1_and_completes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, sb, ids) = setup(dir.path()).await;
    let out = ucc(
        &store,
        &sb,
        "d3Jvbmcga2V5",
        &["servicebus", "pull", "--for", "30"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("ucc: servicebus pull: Service Bus refused the credential (HTTP 401)"),
        "{stderr}"
    );
    assert!(!stderr.contains("d3Jvbmcga2V5"), "the key is never printed");
    assert!(sb.completed().is_empty());
    assert_eq!(sb.remaining(), ids, "nothing lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_without_configuration_names_the_variable() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ucc"))
        .args(["servicebus", "pull", "--for", "1"])
        .env_remove("UCC_SERVICEBUS_ENDPOINT")
        .output()
        .await
        .expect("run ucc");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), "ucc: UCC_SERVICEBUS_ENDPOINT is not set");
}

/// Without `--for` the pull runs until Ctrl-C (SIGINT), then settles what is in flight,
/// prints its summary and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_until_ctrl_c_stops_cleanly_with_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, sb, ids) = setup(dir.path()).await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ucc"))
        .arg("--store")
        .arg(&store)
        .args(["servicebus", "pull"])
        .env_remove("UCC_STORE")
        .env("UCC_SERVICEBUS_ENDPOINT", sb.endpoint())
        .env("UCC_SERVICEBUS_ENTITY", &sb.options().entity)
        .env("UCC_SERVICEBUS_SAS_KEY_NAME", &sb.options().key_name)
        .env("UCC_SERVICEBUS_SAS_KEY_REF", "env:UCC_TEST_SB_KEY")
        .env("UCC_TEST_SB_KEY", &sb.options().key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ucc");
    let drained = sb
        .wait_for(std::time::Duration::from_secs(60), |s| {
            s.remaining().is_empty()
        })
        .await;
    assert!(drained, "every message handled before Ctrl-C");
    let pid = child.id().expect("pid").to_string();
    let kill = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill -INT");
    assert!(kill.success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("ucc stops after Ctrl-C")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("received {}, completed {}", ids.len(), ids.len())),
        "{stdout}"
    );
    assert_eq!(sb.completed().len(), ids.len());
}
