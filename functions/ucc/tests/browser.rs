//! The Integrations page (SPEC §14) in real headless Chromium, driven over WebDriver
//! (chromedriver) against the real `ucc serve` on a store seeded by the example scenario.
//!
//! One browser walks the page the way support staff would: a wrong key refused, sign-in
//! with a tenant key, every tab, a settings error shown at its field, a concurrent change
//! reported, a log search by reference id with its payload and a shareable link, a parked
//! message replayed after a settings fix, a rejected delivery retried and delivered, a
//! credit, another tenant out of reach, keyboard-only tabs, the platform key's tenant list
//! and tenant creation, and no horizontal scrolling at 390 px and 1280 px.
//!
//! Chromium and chromedriver come from `scripts/chromium.sh` (`make test` runs it). Without
//! them the test prints a notice and passes, unless `CI` or `UCC_REQUIRE_BROWSER` is set.
//! `UCC_SCREENSHOTS=DIR` saves a screenshot of each tab there (docs/screenshots/).

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use ucc_standins::uc::{Fault, Route, StandIn, StandInConfig};
use webdriver::{Browser, Process, ARROW_LEFT, ARROW_RIGHT, END, HOME, TAB};

const DEMO_SECRET: &str = "demo-secret-not-a-real-one";
const PLATFORM_KEY: &str = "browser-test-platform-key-0123456789abcdef";
const NORDLYS: &str = "7080010002488";
const SVEA: &str = "7300011000017";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn which(name: &str, var: &str) -> Option<String> {
    if let Ok(p) = std::env::var(var) {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

fn ucc(store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ucc"));
    c.arg("--store")
        .arg(store)
        .env_remove("UCC_STORE")
        .env("UCC_SECRET_NORDLYS", DEMO_SECRET)
        .env("UCC_SECRET_SVEA", DEMO_SECRET);
    c
}

fn run_ok(c: &mut Command) -> Vec<u8> {
    let o = c.output().expect("run ucc");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// `ucc serve` on a free port with the platform key; killed when dropped.
fn serve(store: &Path) -> Process {
    let port = webdriver::free_port();
    let mut cmd = ucc(store);
    cmd.args(["serve", "--no-timers", "--port", &port.to_string()])
        .env("UCC_ADMIN_KEY_REF", "env:UCC_TEST_PLATFORM_KEY")
        .env("UCC_TEST_PLATFORM_KEY", PLATFORM_KEY);
    Process::start(cmd, port, true, "listening on")
}

/// A GLN with its GS1 check digit (12 digits given).
fn gln(body12: &str) -> String {
    let sum: u32 = body12
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body12}{}", (10 - sum % 10) % 10)
}

async fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).header("x-api-key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Fails unless the page fits the viewport's width (no horizontal scrolling).
async fn assert_fits(b: &Browser, what: &str) {
    let v = b
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            json!([]),
        )
        .await;
    let (scroll, inner) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap());
    assert!(
        scroll <= inner,
        "{what}: the page is {scroll} px wide in a {inner} px viewport"
    );
}

async fn open_tab(b: &Browser, id: &str, ready_css: &str) {
    b.click(&format!("#tab-{id}")).await;
    b.wait_js(
        &format!("document.querySelector('#tab-{id}').getAttribute('aria-selected') === 'true' && document.querySelector('#panel').getAttribute('aria-busy') === 'false'"),
        &format!("the {id} tab"),
    )
    .await;
    b.wait(ready_css).await;
}

async fn sign_in(b: &Browser, base: &str, key: &str) {
    b.goto(&format!("{base}/")).await;
    b.wait_js(
        "document.documentElement.dataset.ready === 'true'",
        "the page script",
    )
    .await;
    if b.find("#sign-out").await.is_some() {
        b.js(
            "if (!document.querySelector('#who').hidden) document.querySelector('#sign-out').click(); return true;",
            json!([]),
        )
        .await;
    }
    b.fill("#key", key).await;
    b.click("#signin-form button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrations_page_in_headless_chromium() {
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("UCC_REQUIRE_BROWSER").is_some();
    let (Some(chromium), Some(chromedriver)) = (
        which("chromium", "UCC_CHROMIUM"),
        which("chromedriver", "UCC_CHROMEDRIVER"),
    ) else {
        assert!(
            !required,
            "chromium and chromedriver are required here (run scripts/chromium.sh)"
        );
        eprintln!("NOTICE: browser test skipped: chromium/chromedriver not installed (scripts/chromium.sh installs them)");
        return;
    };
    let shots = std::env::var_os("UCC_SCREENSHOTS").map(PathBuf::from);

    // --- the demo store: the example scenario, tenant keys, a UC stand-in we can steer
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    run_ok(ucc(&store).args([
        "run-scenario",
        repo().join("examples/nordlys").to_str().unwrap(),
        "--uc-standin",
    ]));
    let key_of = |g: &str| -> String {
        let out = run_ok(ucc(&store).args(["tenant", "api-key", "rotate", g, "--json"]));
        let v: Value = serde_json::from_slice(&out).unwrap();
        v["apiKey"].as_str().unwrap().to_owned()
    };
    let nordlys_key = key_of(NORDLYS);
    let svea_key = key_of(SVEA);
    let serve = serve(&store);
    let base = serve.base.clone();
    let http = reqwest::Client::new();

    // Nordlys delivers to a stand-in this test steers (the scenario's is gone with its run).
    let standin = StandIn::start(StandInConfig {
        client_secret: DEMO_SECRET.into(),
        ..StandInConfig::default()
    })
    .await
    .unwrap();
    let mut cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/nordlys/tenants/nordlys.json")).unwrap(),
    )
    .unwrap();
    cfg["uc"]["baseUrl"] = json!(standin.base_url());
    cfg["uc"]["tokenUrl"] = json!(standin.token_url());
    cfg["uc"]["clientId"] = json!(standin.client_id());
    let (s, b) = api(
        &http,
        reqwest::Method::PUT,
        &format!("{base}/api/tenants/{NORDLYS}"),
        PLATFORM_KEY,
        Some(cfg.clone()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Yesterday's rejected delivery: UC refuses one session with a 422.
    standin.push_fault(Route::PostTransaction, Fault::Status(422));
    let mut session: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("examples/nordlys/events/110-session-kari-borettslag-site.json"),
        )
        .unwrap(),
    )
    .unwrap();
    session["transactionId"] = json!("77700001");
    let res = http
        .post(format!("{base}/session-completed"))
        .json(&session)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);
    // A contract event whose accounting point the tenant's pattern refuses: parked.
    let activation = json!({
        "Header": { "EventID": "b7e0c3a2-0000-4000-8000-00000000b001", "EventName": "ContractActivated",
                    "EventTime": "2026-11-21T08:00:00.000Z", "TenantID": NORDLYS, "ServiceType": "ChargingAgreement" },
        "Payload": { "Contract": { "ContractID": "100999", "ProductCode": "LADEABO-STD",
                     "AccountingPoint": { "Identification": "NO-7070-99", "Details": { "Rfid": "04AA00BB11CC22" } } } }
    });
    let res = http
        .post(format!("{base}/contract-events"))
        .json(&activation)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);

    // --- the page's own guarantees, as served
    let res = http.get(format!("{base}/")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for want in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(want), "CSP {csp:?} lacks {want}");
    }
    assert!(!csp.contains("unsafe"), "CSP {csp:?} allows unsafe sources");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains(" style=") && !html.contains("<style"),
        "the page has inline script or style"
    );

    let driver = webdriver::chromedriver(&chromedriver);
    let b = Browser::open(&driver, &chromium, 1280, 900).await;
    // The walk runs as its own task so that a failing step still ends the browser session
    // (chromedriver then stops its Chromium) before the failure is reported.
    let standin = std::sync::Arc::new(standin);
    let walked = tokio::spawn({
        let (b, base, http, standin) = (b.clone(), base.clone(), http.clone(), standin.clone());
        async move {
            walk(
                &b,
                &base,
                &nordlys_key,
                &svea_key,
                &http,
                &standin,
                shots.as_deref(),
            )
            .await;
        }
    })
    .await;
    b.close().await;
    drop(driver);
    drop(serve);
    if let Err(e) = walked {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn shot(b: &Browser, shots: Option<&Path>, name: &str) {
    if let Some(dir) = shots {
        std::fs::create_dir_all(dir).unwrap();
        b.screenshot(&dir.join(format!("{name}.png"))).await;
    }
}

async fn walk(
    b: &Browser,
    base: &str,
    nordlys_key: &str,
    svea_key: &str,
    http: &reqwest::Client,
    standin: &StandIn,
    shots: Option<&Path>,
) {
    // A wrong key is refused and not kept.
    sign_in(b, base, &format!("ucck_{NORDLYS}_{}", "x".repeat(56))).await;
    b.wait_text("#signin-error", "refused").await;
    let kept = b.js("return sessionStorage.length;", json!([])).await;
    assert_eq!(kept, 0, "a refused key stays out of the session");
    shot(b, shots, "signin").await;

    // Sign-in with the tenant key: Details.
    sign_in(b, base, nordlys_key).await;
    b.wait_text("#connection", "ok").await;
    b.wait_text("#panel", NORDLYS).await;
    b.wait_text("#panel", "costedTransaction").await;
    b.wait("#count-rejected").await;
    b.wait_text("#masked-key", "ucck_").await;
    let masked = b.text_of("#masked-key").await;
    assert!(
        !masked.contains(&nordlys_key[20..]),
        "the key is shown masked"
    );
    // The key lives only in this tab's sessionStorage.
    let where_ = b
        .js(
            "return [sessionStorage.getItem('ucc.key') === arguments[0], localStorage.length, document.cookie, location.href.includes(arguments[0])];",
            json!([nordlys_key]),
        )
        .await;
    assert_eq!(where_, json!([true, 0, "", false]), "key storage");
    shot(b, shots, "details").await;

    // Logs: find the rejected session by its transaction id and read UC's answer.
    open_tab(b, "logs", "#log-form").await;
    b.fill("#log-ref", "77700001").await;
    b.click("#log-search").await;
    b.wait_js(
        "location.hash.includes('ref=77700001') && document.querySelector('#panel').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#log-list > li.entry').length > 0",
        "log results for 77700001",
    )
    .await;
    let refs = b
        .js(
            "return [...document.querySelectorAll('#log-list > li.entry .ref')].map(e => e.textContent);",
            json!([]),
        )
        .await;
    assert!(
        refs.as_array().unwrap().iter().all(|r| r == "77700001"),
        "only the searched session: {refs}"
    );
    // The 422 entry: expand it, see the request payload and UC's answer.
    b.js(
        "const li = [...document.querySelectorAll('#log-list > li.entry')].find(l => l.textContent.includes('422')); li.querySelector('button.summary').click(); return true;",
        json!([]),
    )
    .await;
    b.wait_text(
        "#log-list .detail:not([hidden])",
        "\"transactionId\": \"77700001\"",
    )
    .await;
    b.wait_text("#log-list .detail:not([hidden])", "Response")
        .await;
    let link = b
        .js(
            "return document.querySelector('#log-list .detail:not([hidden]) a.share').getAttribute('href');",
            json!([]),
        )
        .await;
    shot(b, shots, "logs").await;
    // The shareable link opens that one entry, expanded.
    b.goto(&format!("{base}/{}", link.as_str().unwrap())).await;
    b.wait_text("#log-list .detail:not([hidden])", "77700001")
        .await;
    let n = b
        .js(
            "return document.querySelectorAll('#log-list > li').length;",
            json!([]),
        )
        .await;
    assert_eq!(n, 1, "a shared link shows one entry");

    // Deliveries: the rejected one is retried and delivered.
    b.goto(&format!("{base}/#/deliveries?state=rejected")).await;
    b.wait_text("#delivery-list", "77700001").await;
    b.js(
        "const li = [...document.querySelectorAll('#delivery-list > li')].find(l => l.textContent.includes('77700001')); li.querySelector('button.summary').click(); return true;",
        json!([]),
    )
    .await;
    b.wait_text(
        "#delivery-list .detail:not([hidden])",
        "Utility Cloud's last answer",
    )
    .await;
    shot(b, shots, "deliveries").await;
    b.click("#delivery-list .detail:not([hidden]) button.retry")
        .await;
    b.wait_text("#delivery-list .detail:not([hidden])", "now delivered")
        .await;
    assert!(
        standin
            .accepted_transactions()
            .iter()
            .any(|t| t["transactionId"] == "77700001"),
        "UC holds the retried transaction"
    );

    // A credit of a delivered transaction.
    b.goto(&format!("{base}/#/deliveries?state=delivered"))
        .await;
    b.wait_text("#delivery-list", "77700001").await;
    b.fill("#credit-tx", "77700001").await;
    b.fill("#credit-reason", "charged twice").await;
    b.click("#credit-submit").await;
    b.wait_text("#credit-result", "issued").await;

    // Advanced settings: a server-side error shown at its field.
    open_tab(b, "settings", "#settings-form").await;
    shot(b, shots, "settings").await;
    b.fill("#set-accountingPointPattern", "^[A-Z").await;
    b.click("#settings-save").await;
    b.wait_js(
        "!document.querySelector('#set-accountingPointPattern-err').hidden && document.querySelector('#set-accountingPointPattern').getAttribute('aria-invalid') === 'true'",
        "the pattern error at its field",
    )
    .await;
    assert!(b
        .text_of("#set-accountingPointPattern-err")
        .await
        .contains("accountingPointPattern"));
    // The pattern tester.
    b.fill("#set-accountingPointPattern", "^[A-Za-z0-9-]{5,18}$")
        .await;
    b.fill("#pattern-probe", "NO-7070-99").await;
    b.click("#pattern-test").await;
    b.wait_text("#pattern-result", "matches").await;
    // A change made elsewhere since the form was loaded: reported, not overwritten.
    let (s, _) = api(
        http,
        reqwest::Method::PUT,
        &format!("{base}/api/tenants/{NORDLYS}/settings"),
        nordlys_key,
        Some(json!({"serviceBusTopic": "changed-elsewhere"})),
    )
    .await;
    assert_eq!(s, 200);
    b.click("#settings-save").await;
    b.wait_text("#settings-banner", "changed by someone else")
        .await;
    let (_, now) = api(
        http,
        reqwest::Method::GET,
        &format!("{base}/api/tenants/{NORDLYS}/settings"),
        nordlys_key,
        None,
    )
    .await;
    assert_eq!(
        now["serviceBusTopic"], "changed-elsewhere",
        "not overwritten"
    );
    assert_eq!(now["accountingPointPattern"], "^[A-Za-z0-9]{5,18}$");
    // Reload, fix the pattern, save.
    b.click("#settings-reload").await;
    b.wait_js(
        "document.querySelector('#set-serviceBusTopic') && document.querySelector('#set-serviceBusTopic').value === 'changed-elsewhere'",
        "the reloaded settings",
    )
    .await;
    b.fill("#set-accountingPointPattern", "^[A-Za-z0-9-]{5,18}$")
        .await;
    b.click("#settings-save").await;
    b.wait_text("#settings-banner", "Settings saved").await;

    // Parked: the refused contract event replays now that the pattern allows its id.
    open_tab(b, "parked", "#parked-list").await;
    b.wait_text("#parked-list", "NO-7070-99").await;
    b.js(
        "const li = [...document.querySelectorAll('#parked-list > li')].find(l => l.textContent.includes('NO-7070-99')); li.querySelector('button.summary').click(); return true;",
        json!([]),
    )
    .await;
    shot(b, shots, "parked").await;
    b.click("#parked-list .detail:not([hidden]) button.replay")
        .await;
    b.wait_text("#parked-list .detail:not([hidden])", "Replayed: applied")
        .await;

    // Drivers: the replayed activation made a driver.
    open_tab(b, "drivers", "#driver-list").await;
    b.wait_text("#driver-list", "NO-7070-99").await;
    shot(b, shots, "drivers").await;

    // Keyboard only: arrows, Home and End move between tabs and open them.
    open_tab(b, "details", "#connection").await;
    b.js(
        "document.querySelector('#tab-details').focus(); return true;",
        json!([]),
    )
    .await;
    b.keys(ARROW_RIGHT).await;
    b.wait_js(
        "document.activeElement.id === 'tab-settings' && document.querySelector('#tab-settings').getAttribute('aria-selected') === 'true'",
        "ArrowRight to Advanced settings",
    )
    .await;
    b.wait("#settings-form").await;
    b.keys(END).await;
    b.wait_js(
        "document.activeElement.id === 'tab-drivers' && document.querySelector('#tab-drivers').getAttribute('aria-selected') === 'true'",
        "End to the last tab",
    )
    .await;
    b.keys(HOME).await;
    b.wait_js("document.activeElement.id === 'tab-details'", "Home")
        .await;
    b.keys(ARROW_LEFT).await;
    b.wait_js(
        "document.activeElement.id === 'tab-drivers'",
        "ArrowLeft wraps",
    )
    .await;
    b.keys(HOME).await;
    b.wait_js("document.activeElement.id === 'tab-details'", "Home")
        .await;
    // Tab leaves the tab list for the panel (one tab stop per tab list).
    b.wait("#connection").await;
    b.keys(TAB).await;
    b.wait_js("document.activeElement.id === 'panel'", "Tab to the panel")
        .await;
    let roles = b
        .js(
            "return [document.querySelector('[role=tablist]') !== null, document.querySelectorAll('[role=tab][tabindex=\"0\"]').length, document.querySelector('#panel').getAttribute('role'), document.querySelector('#panel').getAttribute('aria-labelledby')];",
            json!([]),
        )
        .await;
    assert_eq!(roles, json!([true, 1, "tabpanel", "tab-details"]));

    // Widths: no horizontal scrolling on a 390 px phone or at 1280 px, on every tab.
    for (width, height, mobile) in [(390, 844, true), (1280, 900, false)] {
        b.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        for (tab, ready) in [
            ("details", "#connection"),
            ("settings", "#settings-form"),
            ("logs", "#log-list"),
            ("deliveries", "#delivery-list"),
            ("parked", "#parked-list"),
            ("drivers", "#driver-list"),
        ] {
            open_tab(b, tab, ready).await;
            // Expanded entries too: payloads are the widest content.
            b.js(
                "document.querySelectorAll('#panel button.summary[aria-expanded=false]').forEach((x, i) => { if (i < 3) x.click(); }); return true;",
                json!([]),
            )
            .await;
            // A phone widens its layout viewport to fit content that is too wide.
            let inner = b.js("return window.innerWidth;", json!([])).await;
            assert_eq!(
                inner, width,
                "{tab}: the {width} px viewport grew to fit content wider than the screen"
            );
            assert_fits(b, &format!("{tab} at {width} px")).await;
            if width == 390 && tab == "logs" {
                shot(b, shots, "logs-phone").await;
            }
        }
    }
    b.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;

    // authBlocked reads at a glance, with its reason: UC refuses the connector's calls.
    standin.push_fault(Route::PostTransaction, Fault::Status(401));
    standin.push_fault(Route::PostTransaction, Fault::Status(401));
    let mut session: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("examples/nordlys/events/110-session-kari-borettslag-site.json"),
        )
        .unwrap(),
    )
    .unwrap();
    session["transactionId"] = json!("77700002");
    let res = http
        .post(format!("{base}/session-completed"))
        .json(&session)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    b.goto(&format!("{base}/#/details?after=401")).await;
    b.wait_text("#connection", "authBlocked").await;
    let reason = b.text_of("#connection .reason").await;
    assert!(!reason.trim().is_empty(), "authBlocked shows its reason");
    b.wait_text("#connection", "since").await;
    shot(b, shots, "details-authblocked").await;

    // Another tenant is out of reach of this key, whatever the page is told.
    b.js(
        "sessionStorage.setItem('ucc.gln', arguments[0]); location.hash = '#/details'; return true;",
        json!([SVEA]),
    )
    .await;
    b.goto(&format!("{base}/#/parked")).await;
    b.wait_text("#panel", "does not give access").await;
    assert!(
        b.find("#tab-tenants").await.is_none(),
        "no tenant list for a tenant key"
    );
    let _ = svea_key;

    // The platform key: the tenant list and creating a tenant from a pasted config.
    sign_in(b, base, PLATFORM_KEY).await;
    b.wait("#tenant-list").await;
    b.wait_text("#tenant-list", NORDLYS).await;
    b.wait_text("#tenant-list", SVEA).await;
    let new_gln = gln("708001000999");
    let mut fresh: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/nordlys/tenants/svea.json")).unwrap(),
    )
    .unwrap();
    fresh["gln"] = json!(new_gln);
    fresh["customerId"] = json!("browser-test-new");
    fresh["name"] = json!("Ny Energi AS");
    // A bad config first: the server's error is shown.
    let mut bad = fresh.clone();
    bad["currency"] = json!(12);
    b.fill("#new-tenant", &bad.to_string()).await;
    b.click("#tenant-save").await;
    b.wait_text("#new-tenant-err", "currency").await;
    b.fill("#new-tenant", &fresh.to_string()).await;
    b.click("#tenant-save").await;
    b.wait_text("#new-tenant-result", &format!("Created tenant {new_gln}"))
        .await;
    b.wait_text("#tenant-list", "Ny Energi AS").await;
    shot(b, shots, "tenants").await;
    // Opening a tenant shows its Details.
    b.js(
        "const li = [...document.querySelectorAll('#tenant-list > li')].find(l => l.textContent.includes(arguments[0])); li.querySelector('button').click(); return true;",
        json!([SVEA]),
    )
    .await;
    b.wait_text("#panel", SVEA).await;
    b.wait("#connection").await;
}
