//! The deployable binaries speak their platforms' protocols, as real processes over loopback:
//!
//! - every Lambda `bootstrap` (each crate under `functions/` built on `lambda_runtime` or
//!   `lambda_http`) against a stand-in for the Lambda Runtime API
//!   (`GET /2018-06-01/runtime/invocation/next`, `POST …/invocation/{id}/response`): it is fed
//!   one event and the response it posts is checked;
//! - the Azure custom handler started exactly as `infra/azure-functionapp/host.json` says
//!   (`ucc serve --no-timers`, port from `FUNCTIONS_CUSTOMHANDLER_PORT`), sent the invocation of
//!   every function in that layout (`function.json`'s trigger decides its shape).
//!
//! The binaries are the workspace's own, built once per test process with `cargo build`
//! (debug profile). `UCC_BOOTSTRAP_DIR` points the Lambda tests at other binaries instead, e.g.
//! the bootstraps unpacked from `target/lambda/*.zip`: `scripts/cold-start.sh` measures the
//! packaged artifacts' cold start that way ("cold start <fn>: … ms" lines).
//! Readiness is never waited for by sleeping: the Lambda tests wait for the bootstrap's own
//! `/next` request, the custom handler test for its "listening on" line.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use ucc_shared::store::embedded::EmbeddedStore;
use ucc_shared::store::{Key, Store};
use ucc_tests::fixtures::*;

/// Deadline for one bootstrap to answer (a debug build on a loaded 2-core machine); a
/// deadline, not a wait: the test proceeds the moment the answer arrives.
const ANSWER_DEADLINE: Duration = Duration::from_secs(60);
const ADMIN_KEY: &str = "packaged-handlers-test-platform-key-0123456789";
const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Crates under `functions/` whose binary (named like the crate) is a Lambda bootstrap (same
/// rule as scripts/package.sh: depends on lambda_runtime or lambda_http).
fn lambda_functions() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(workspace_root().join("functions")).expect("functions/") {
        let dir = entry.expect("entry").path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .unwrap_or_default()
            .split("\n[")
            .next()
            .unwrap_or_default();
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let is_bin =
            manifest.contains("[[bin]]") && manifest.contains(&format!("name = \"{name}\""));
        if is_bin
            && deps.lines().any(|l| {
                let name = l.split(['.', '=', ' ']).next().unwrap_or_default();
                name == "lambda_runtime" || name == "lambda_http"
            })
        {
            out.push(name);
        }
    }
    out.sort();
    out
}

/// Builds the Lambda bootstraps and `ucc` once and returns each binary's path, read from
/// cargo's own artifact messages. `--workspace --bins --tests` resolves features exactly as
/// `cargo test --workspace` does, so under `make test` every library is already fresh and
/// only the binaries are linked (a plain `cargo build -p …` would compile the AWS SDK and
/// friends a second time, with another feature set).
fn binaries() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        // Drop what cargo sets for this test process (CARGO_MANIFEST_DIR, CARGO_PKG_*, …):
        // build scripts that track them (ring tracks CARGO_MANIFEST_DIR) would otherwise
        // see a change and rebuild half the tree, here and again in the next cargo test.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&k.as_ref())
            {
                cmd.env_remove(k.as_ref());
            }
        }
        let out = cmd
            .current_dir(workspace_root())
            .args(["build", "--workspace", "--bins", "--tests"])
            .arg("--message-format=json-render-diagnostics")
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(out.status.success(), "cargo build of the binaries failed");
        let mut map = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let is_bin = msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            // Only real binaries, not the unit-test harnesses built from the same sources.
            if !is_bin || msg["profile"]["test"] != false {
                continue;
            }
            if let (Some(name), Some(exe)) =
                (msg["target"]["name"].as_str(), msg["executable"].as_str())
            {
                map.insert(name.to_owned(), PathBuf::from(exe));
            }
        }
        for f in lambda_functions().iter().chain([&"ucc".to_owned()]) {
            assert!(map.contains_key(f), "cargo built no binary {f}");
        }
        map
    })
}

fn bootstrap(function: &str) -> PathBuf {
    match std::env::var_os("UCC_BOOTSTRAP_DIR") {
        Some(dir) => Path::new(&dir).join(function).join("bootstrap"),
        None => binaries()
            .get(function)
            .unwrap_or_else(|| panic!("no binary built for {function}"))
            .clone(),
    }
}

/// A fresh embedded store directory holding the standard tenant (closed again, so the
/// process under test can open it).
async fn store_with_tenant() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state");
    let store = EmbeddedStore::open(&path).expect("open store");
    put_tenant(&store, &tenant_json(NORDLYS, "emb-cust-0042")).await;
    drop(store);
    (dir, path)
}

async fn read_store(path: &Path) -> EmbeddedStore {
    EmbeddedStore::open(path).expect("reopen store")
}

fn session_for_unknown_token() -> Value {
    json!({
        "customerId": "emb-cust-0042",
        "transactionId": "88812345",
        "chargerId": "EMB-0001234",
        "socketId": 1,
        "siteId": 1042,
        "authorizedIdTag": "v:NOBODYNOBODY0000",
        "timestampStart": "2026-11-20T16:42:10Z",
        "timestampEnd": "2026-11-20T21:03:55Z",
        "meterReadStartWh": 1523400,
        "meterReadEndWh": 1546150,
        "meterValues": [ { "timestamp": "2026-11-20T17:00:00Z", "energyWh": 1525610 } ]
    })
}

fn sqs_batch(body: &Value, queue: &str) -> Value {
    json!({ "Records": [ {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": body.to_string(),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795000000000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795000000001"
        },
        "messageAttributes": {
            "ServiceType": { "stringValue": "ChargingAgreement", "dataType": "String" },
            "EventName": { "stringValue": "ContractActivated", "dataType": "String" }
        },
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:eu-north-1:123456789012:{queue}"),
        "awsRegion": "eu-north-1"
    } ] })
}

/// A Lambda Function URL request (payload format 2.0) without an API key.
fn function_url_get(path: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "host": "abcdefgh.lambda-url.eu-north-1.on.aws", "accept": "application/json" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefgh",
            "domainName": "abcdefgh.lambda-url.eu-north-1.on.aws",
            "domainPrefix": "abcdefgh",
            "http": { "method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "packaged-handlers-test" },
            "requestId": REQUEST_ID,
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:20:00:00 +0000",
            "timeEpoch": 1795000000000u64
        },
        "isBase64Encoded": false
    })
}

// ---------------------------------------------------------------- Runtime API stand-in

#[derive(Debug)]
enum Posted {
    Response { id: String, body: Value },
    Error { path: String, body: String },
}

#[derive(Clone)]
struct RuntimeApi {
    event: Arc<Mutex<Option<Value>>>,
    posted: mpsc::UnboundedSender<Posted>,
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    let Some(event) = api.event.lock().expect("lock").take() else {
        // Like Lambda freezing an idle environment: the second /next never answers.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        headers.insert(k, HeaderValue::from_str(&v).expect("header"));
    };
    set("lambda-runtime-aws-request-id", REQUEST_ID.into());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-north-1:123456789012:function:ucc-test".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, event.to_string()).into_response()
}

async fn response(
    State(api): State<RuntimeApi>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = api.posted.send(Posted::Response { id, body });
    StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, uri: axum::http::Uri, body: Bytes) -> StatusCode {
    let _ = api.posted.send(Posted::Error {
        path: uri.path().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    StatusCode::ACCEPTED
}

async fn runtime_api(event: Value) -> (SocketAddr, mpsc::UnboundedReceiver<Posted>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        event: Arc::new(Mutex::new(Some(event))),
        posted: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

/// What one bootstrap run produced.
struct Invocation {
    response: Value,
    cold_start: Duration,
    stderr: Vec<String>,
}

/// Starts `function`'s bootstrap as Lambda would (its environment variables, the Runtime API
/// address), serves it `event`, and returns the response it posts.
async fn invoke(function: &str, store: &Path, event: Value) -> Invocation {
    invoke_with(function, store, event, &[]).await
}

/// [`invoke`] with extra environment variables.
async fn invoke_with(
    function: &str,
    store: &Path,
    event: Value,
    extra: &[(&str, String)],
) -> Invocation {
    let (addr, mut posted) = runtime_api(event).await;
    let exe = bootstrap(function);
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&exe)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("ucc-test-{function}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/ucc-test-{function}"),
        )
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/23/[$LATEST]0123456789abcdef",
        )
        .env("AWS_REGION", "eu-north-1")
        .env("UCC_STORE", store)
        .env("UCC_ADMIN_KEY_REF", "env:UCC_ADMIN_KEY")
        .env("UCC_ADMIN_KEY", ADMIN_KEY)
        .env("RUST_LOG", "info")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let stderr = child.stderr.take().expect("stderr");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = tokio::spawn(async move {
        let mut r = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = r.next_line().await {
            sink.lock().expect("lock").push(l);
        }
    });
    let answer = tokio::time::timeout(ANSWER_DEADLINE, posted.recv()).await;
    let cold_start = started.elapsed();
    let _ = child.kill().await;
    let _ = reader.await;
    let stderr = lines.lock().expect("lock").clone();
    let response = match answer {
        Ok(Some(Posted::Response { id, body })) => {
            assert_eq!(id, REQUEST_ID, "{function} answered another request id");
            body
        }
        Ok(Some(Posted::Error { path, body })) => {
            panic!(
                "{function} posted to {path}: {body}\nstderr:\n{}",
                stderr.join("\n")
            )
        }
        Ok(None) | Err(_) => panic!(
            "{function} posted no response within {ANSWER_DEADLINE:?}\nstderr:\n{}",
            stderr.join("\n")
        ),
    };
    println!(
        "cold start {function}: {:.1} ms (process start to first response posted; {})",
        cold_start.as_secs_f64() * 1000.0,
        exe.display()
    );
    Invocation {
        response,
        cold_start,
        stderr,
    }
}

fn json_lines(stderr: &[String]) -> Vec<Value> {
    stderr
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ---------------------------------------------------------------- Lambda bootstraps

#[tokio::test]
async fn every_lambda_function_has_a_protocol_test() {
    let tested = [
        "admin-api",
        "contract-events",
        "delivery-retry",
        "reconciliation",
        "servicebus-pull",
        "session-completed",
        "spot-prices",
    ];
    for f in lambda_functions() {
        assert!(
            tested.contains(&f.as_str()),
            "functions/{f} is a Lambda bootstrap without a test in packaged_handlers.rs"
        );
    }
}

/// The scheduled invocation receives from the subscription (the loopback Service Bus
/// stand-in) for `UCC_SERVICEBUS_RUN_SECONDS`, handles and completes each message, and
/// answers with its summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicebus_pull_bootstrap_receives_and_completes_on_a_schedule() {
    use ucc_standins::servicebus::{Options, ServiceBusStandIn};
    let (_dir, store) = store_with_tenant().await;
    let sb = ServiceBusStandIn::start(Options::default())
        .await
        .expect("stand-in");
    let id = sb.enqueue(
        activation("LAMBDASB0001", "lambda-sb-1", Some("04A2B3C4D5E6F8")).to_string(),
        &[("Label", "contract")],
    );
    let schedule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-23T08:00:00Z", "region": "eu-north-1",
        "resources": ["arn:aws:events:eu-north-1:123456789012:rule/ucc-servicebus-pull"],
        "detail": {}
    });
    let run = invoke_with(
        "servicebus-pull",
        &store,
        schedule,
        &[
            ("UCC_SERVICEBUS_ENDPOINT", sb.endpoint()),
            ("UCC_SERVICEBUS_ENTITY", sb.options().entity.clone()),
            ("UCC_SERVICEBUS_SAS_KEY_NAME", sb.options().key_name.clone()),
            ("UCC_SERVICEBUS_SAS_KEY_REF", "env:UCC_TEST_SB_KEY".into()),
            ("UCC_TEST_SB_KEY", sb.options().key.clone()),
            ("UCC_SERVICEBUS_RUN_SECONDS", "3".into()),
            ("UCC_SERVICEBUS_RECEIVE_TIMEOUT", "1".into()),
        ],
    )
    .await;
    assert_eq!(run.response["received"], 1, "{}", run.response);
    assert_eq!(run.response["completed"]["applied"], 1, "{}", run.response);
    assert_eq!(sb.completed(), vec![id]);
    let s = read_store(&store).await;
    let driver = s
        .get(&Key::new(format!("T#{NORDLYS}#DRV"), "LAMBDASB0001"))
        .await
        .expect("read driver");
    assert!(driver.is_some(), "the pulled activation created no driver");
    let settles: Vec<Value> = json_lines(&run.stderr)
        .into_iter()
        .filter(|l| l["fields"]["message"] == "servicebus settle")
        .collect();
    assert_eq!(settles.len(), 1, "one settle line: {:?}", run.stderr);
    assert_eq!(settles[0]["fields"]["outcome"], "applied");
    assert!(run.stderr.iter().all(|l| !l.contains(&sb.options().key)));
}

#[tokio::test]
async fn contract_events_bootstrap_processes_an_sqs_batch() {
    let (_dir, store) = store_with_tenant().await;
    let body = activation("LAMBDAAP0001", "lambda-e1", Some("04A2B3C4D5E6F7"));
    let run = invoke(
        "contract-events",
        &store,
        sqs_batch(&body, "ucc-staging-contract-events"),
    )
    .await;
    assert_eq!(run.response, json!({ "batchItemFailures": [] }));
    let s = read_store(&store).await;
    let driver = s
        .get(&Key::new(format!("T#{NORDLYS}#DRV"), "LAMBDAAP0001"))
        .await
        .expect("read driver");
    assert!(driver.is_some(), "the activation created no driver");
    assert!(run.cold_start < ANSWER_DEADLINE);
}

#[tokio::test]
async fn session_completed_bootstrap_answers_a_bare_event() {
    let (_dir, store) = store_with_tenant().await;
    let run = invoke("session-completed", &store, session_for_unknown_token()).await;
    // The token belongs to no driver of the tenant: not ours, ignored (SPEC §4).
    assert_eq!(run.response["outcome"], "ignored", "{}", run.response);
}

#[tokio::test]
async fn delivery_retry_bootstrap_sweeps_and_logs_the_alarm_metrics() {
    let (_dir, store) = store_with_tenant().await;
    // EventBridge Scheduler's input (infra/terraform/scheduler.tf): "{}".
    let run = invoke("delivery-retry", &store, json!({})).await;
    assert_eq!(run.response["due"], 0, "{}", run.response);
    assert_eq!(run.response["delivered"], 0);
    // The line the CloudWatch metric filters read (infra/terraform/alarms.tf).
    let sweep = json_lines(&run.stderr)
        .into_iter()
        .find(|l| l["fields"]["message"] == "delivery-retry sweep")
        .unwrap_or_else(|| panic!("no sweep line in {:?}", run.stderr));
    assert_eq!(sweep["fields"]["tenants_blocked"], 0);
    assert_eq!(sweep["fields"]["oldest_pending_age_secs"], 0);
}

#[tokio::test]
async fn reconciliation_bootstrap_runs_for_every_tenant() {
    let (_dir, store) = store_with_tenant().await;
    let run = invoke("reconciliation", &store, json!({})).await;
    assert_eq!(run.response["tenants"], 1, "{}", run.response);
}

/// The schedule's invocation answers with the run's report and logs it in one line (the
/// alarm's metric filter reads it). The store's tenant has no spot-indexed tariff, so
/// whatever the hour, nothing is fetched and no alarm is raised.
#[tokio::test]
async fn spot_prices_bootstrap_reports_its_run() {
    let (_dir, store) = store_with_tenant().await;
    let run = invoke("spot-prices", &store, json!({})).await;
    assert_eq!(run.response["areas"], json!([]), "{}", run.response);
    assert_eq!(run.response["alarm"], false);
    assert!(
        json_lines(&run.stderr)
            .iter()
            .any(|l| l["fields"]["message"] == "spot-prices run"),
        "no run line in {:?}",
        run.stderr
    );
}

#[tokio::test]
async fn admin_api_bootstrap_answers_a_function_url_request() {
    let (_dir, store) = store_with_tenant().await;
    let run = invoke(
        "admin-api",
        &store,
        function_url_get(&format!("/api/tenants/{NORDLYS}")),
    )
    .await;
    // No x-api-key: 401 with the SPEC §7 error body, in the Function URL response format.
    assert_eq!(run.response["statusCode"], 401, "{}", run.response);
    let body: Value =
        serde_json::from_str(run.response["body"].as_str().unwrap_or_default()).expect("json body");
    assert!(body["error"].is_string(), "{body}");
}

// ---------------------------------------------------------------- Azure custom handler

fn layout_dir() -> PathBuf {
    workspace_root().join("infra/azure-functionapp")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn timer_invocation(function: &str) -> Value {
    json!({
        "Data": { "timer": {
            "Schedule": { "AdjustForDST": true },
            "ScheduleStatus": {
                "Last": "2026-11-23T20:00:00+00:00",
                "Next": "2026-11-23T20:01:00+00:00",
                "LastUpdated": "2026-11-23T20:00:00+00:00"
            },
            "IsPastDue": false
        } },
        "Metadata": { "sys": {
            "MethodName": function,
            "UtcNow": "2026-11-23T20:01:00.0000000Z",
            "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"
        } }
    })
}

fn service_bus_invocation(binding: &str, function: &str, body: &Value) -> Value {
    json!({
        "Data": { binding: body.to_string() },
        "Metadata": {
            "MessageId": "\"3f2a9c1e0b7d4e55\"",
            "DeliveryCount": "1",
            "EnqueuedTimeUtc": "\"2026-11-20T08:15:03.5Z\"",
            "UserProperties": { "ServiceType": "\"ChargingAgreement\"" },
            "sys": { "MethodName": function, "UtcNow": "2026-11-20T08:15:04Z" }
        }
    })
}

#[tokio::test]
async fn packaged_custom_handler_answers_every_function_of_the_app_layout() {
    let host = read_json(&layout_dir().join("host.json"));
    let desc = &host["customHandler"]["description"];
    assert_eq!(desc["defaultExecutablePath"], "ucc");
    let args: Vec<String> = desc["arguments"]
        .as_array()
        .expect("arguments")
        .iter()
        .map(|a| a.as_str().expect("string argument").to_owned())
        .collect();
    assert_eq!(
        args,
        ["serve", "--no-timers"],
        "timers are timerTrigger functions on Azure"
    );
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);

    let (_dir, store) = store_with_tenant().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let exe = binaries().get("ucc").expect("ucc built").clone();
    let mut child = tokio::process::Command::new(&exe)
        .args(&args)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("UCC_STORE", &store)
        .env("UCC_ADMIN_KEY_REF", "env:UCC_ADMIN_KEY")
        .env("UCC_ADMIN_KEY", ADMIN_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start ucc");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let ready = tokio::time::timeout(ANSWER_DEADLINE, async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("listening on") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "ucc serve did not report listening");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut functions: Vec<PathBuf> = std::fs::read_dir(layout_dir())
        .expect("layout")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("function.json").is_file())
        .collect();
    functions.sort();
    assert_eq!(functions.len(), 7, "{functions:?}");
    for dir in functions {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let bindings = read_json(&dir.join("function.json"))["bindings"].clone();
        let trigger = &bindings[0];
        let (status, answer) = match trigger["type"].as_str().expect("type") {
            "serviceBusTrigger" => {
                let binding = trigger["name"].as_str().expect("binding name");
                assert_eq!(
                    binding,
                    ucc_functions::azure::BINDING,
                    "{name}: binding name"
                );
                assert_eq!(trigger["connection"], "ServiceBusConnection");
                let body = match name.as_str() {
                    "contract-events" => activation("AZUREAP0001", "azure-e1", None),
                    "session-completed" => session_for_unknown_token(),
                    other => panic!("no Service Bus message for {other}"),
                };
                let r = http
                    .post(format!("{base}/{name}"))
                    .json(&service_bus_invocation(binding, &name, &body))
                    .send()
                    .await
                    .expect("request");
                (
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
            "timerTrigger" => {
                let r = http
                    .post(format!("{base}/{name}"))
                    .json(&timer_invocation(&name))
                    .send()
                    .await
                    .expect("request");
                (
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
            "httpTrigger" => {
                // Forwarded as the original request at /api/<route>; no key → 401.
                assert_eq!(trigger["route"], "{*path}");
                assert_eq!(bindings[1]["type"], "http");
                let r = http
                    .get(format!("{base}/api/tenants/{NORDLYS}"))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(
                    r.status().as_u16(),
                    401,
                    "{name}: unauthenticated admin request"
                );
                let body: Value = r.json().await.expect("json error body");
                assert!(body["error"].is_string(), "{name}: {body}");
                continue;
            }
            other => panic!("{name}: unexpected trigger {other}"),
        };
        assert_eq!(status, 200, "{name} answered {status}: {answer}");
        assert!(
            answer.get("ReturnValue").is_some(),
            "{name}: not a custom-handler answer: {answer}"
        );
        match name.as_str() {
            "contract-events" => {
                assert_eq!(answer["ReturnValue"]["outcome"], "applied", "{answer}")
            }
            "session-completed" => {
                assert_eq!(answer["ReturnValue"]["outcome"], "ignored", "{answer}")
            }
            "spot-prices" => {
                assert_eq!(answer["ReturnValue"]["areas"], json!([]), "{answer}")
            }
            _ => {}
        }
    }
    let _ = child.kill().await;
}
