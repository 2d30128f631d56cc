//! The admin API under attack, on both stores: cross-tenant attempts on every route, keys
//! one character off, empty and oversized keys, path traversal and injection strings in
//! every path and query parameter. None succeeds, none panics, none leaks another tenant's
//! data.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod admin_common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use admin_common::{fill, Api, PLATFORM_KEY, SERVER_PANICS};
use serde_json::json;
use ucc_functions::admin::ROUTES;

/// The routes behind `x-api-key`: all but the Integrations page and its assets, which any
/// browser may load (they hold no tenant data).
fn key_routes() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    ROUTES.iter().filter(|(_, p)| p.starts_with("/api/"))
}
use ucc_shared::store::Store;
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{event, FJORD, NORDLYS, SVEA};

ucc_tests::store_tests!(
    cross_tenant_attempts_fail_on_every_route,
    keys_one_character_off_are_refused,
    empty_oversized_and_odd_keys_are_refused,
    injection_in_every_path_parameter_fails,
    injection_in_every_query_parameter_stays_in_the_tenant,
);

/// Strings only Svea's data contains: a body with one of them leaked Svea's data.
const SVEA_MARKERS: [&str; 4] = [SV_RFID, "Svea Kraft", METER_CUSTOMER, "svea-secret-payload"];

/// Svea's real ids: a transaction, a parked message, a driver.
struct SveaIds {
    tx: String,
    parked: String,
}

async fn setup(store: Arc<dyn Store>) -> (Api, SveaIds) {
    let api = Api::start(store).await;
    api.env
        .send(&session("9901", COSTED_CUSTOMER, RFID, None))
        .await;
    let h = api
        .env
        .send(&session("9902", METER_CUSTOMER, SV_RFID, None))
        .await;
    assert_eq!(
        h.tenant.as_ref().map(|g| g.to_string()),
        Some(SVEA.to_owned())
    );
    api.env
        .contract(event(
            SVEA,
            "ContractActivated",
            "svea-bad",
            "2026-11-04T08:00:00Z",
            "svea-secret-payload!",
            json!({}),
        ))
        .await;
    let (_, parked) = api
        .call(
            "GET",
            &format!("/api/tenants/{SVEA}/parked"),
            Some(&api.svea_key),
            None,
        )
        .await;
    let parked = parked["items"][0]["id"].as_str().unwrap().to_owned();
    (
        api,
        SveaIds {
            tx: "9902".into(),
            parked,
        },
    )
}

fn assert_no_leak(what: &str, status: u16, body: &str) {
    for m in SVEA_MARKERS {
        assert!(!body.contains(m), "{what}: {status} leaked {m:?}: {body}");
    }
    assert!(status != 500 && status != 0, "{what}: {status} {body}");
}

fn body_for(method: &str, path: &str) -> Vec<u8> {
    match (method, path) {
        ("PUT", "/api/tenants/{gln}") => {
            json!({"gln": SVEA, "customerId": "x", "name": "x", "mode": "meterValue"})
                .to_string()
                .into_bytes()
        }
        ("PUT", _) => json!({"virtualTokenPrefix": "pwned:"})
            .to_string()
            .into_bytes(),
        ("POST", "/api/tenants/{gln}/credits") => {
            json!({"transactionId": "9902"}).to_string().into_bytes()
        }
        _ => Vec::new(),
    }
}

fn id_for(path: &str, ids: &SveaIds) -> String {
    if path.contains("{id}") {
        ids.parked.clone()
    } else if path.contains("{accountingPoint}") {
        SV_AP.to_owned()
    } else {
        ids.tx.clone()
    }
}

async fn svea_unchanged(api: &Api) {
    let (status, s) = api
        .call(
            "GET",
            &format!("/api/tenants/{SVEA}/settings"),
            Some(&api.svea_key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        s["virtualTokenPrefix"], "v:",
        "Svea's settings were not changed"
    );
    let (_, d) = api
        .call(
            "GET",
            &format!("/api/tenants/{SVEA}"),
            Some(&api.svea_key),
            None,
        )
        .await;
    assert_eq!(
        d["counts"]["parked"], 1,
        "Svea's parked message is still there"
    );
    assert!(
        api.env.standin.transaction("9902-C1").is_none(),
        "no credit was issued"
    );
}

async fn cross_tenant_attempts_fail_on_every_route(store: Arc<dyn Store>) {
    let (api, ids) = setup(store).await;
    // Tenant routes only: `/api/spot/…` is market data for any valid key (spot_admin.rs).
    for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains("{gln}")) {
        for (gln, key, who) in [
            (SVEA, api.nordlys_key.as_str(), "nordlys key on svea"),
            (
                FJORD,
                api.nordlys_key.as_str(),
                "nordlys key on an unknown tenant",
            ),
            (NORDLYS, api.svea_key.as_str(), "svea key on nordlys"),
        ] {
            let target = fill(path, gln, &id_for(path, &ids));
            let (status, body) = api
                .raw(
                    method,
                    &target,
                    &[("x-api-key", key), ("content-type", "application/json")],
                    &body_for(method, path),
                )
                .await;
            assert_eq!(status, 403, "{who}: {method} {target}: {body}");
            assert!(body.contains("\"forbidden\""), "{body}");
            assert_no_leak(&format!("{who} {method} {target}"), status, &body);
        }
        // Svea's ids under Nordlys' own path, with Nordlys' key: not found, nothing shown.
        if path.matches('{').count() > 1 {
            let target = fill(path, NORDLYS, &id_for(path, &ids));
            let (status, body) = api
                .raw(method, &target, &[("x-api-key", &api.nordlys_key)], &[])
                .await;
            assert_eq!(status, 404, "{method} {target}: {body}");
            assert_no_leak(&target, status, &body);
        }
    }
    // Svea's transaction cannot be credited through Nordlys' credits route.
    let (status, body) = api
        .raw(
            "POST",
            &format!("/api/tenants/{NORDLYS}/credits"),
            &[("x-api-key", &api.nordlys_key)],
            &body_for("POST", "/api/tenants/{gln}/credits"),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    svea_unchanged(&api).await;
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0);
}

fn one_off(key: &str, i: usize) -> String {
    let mut b = key.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

async fn keys_one_character_off_are_refused(store: Arc<dyn Store>) {
    let (api, ids) = setup(store).await;
    let details = format!("/api/tenants/{NORDLYS}");
    for key in [api.nordlys_key.clone(), PLATFORM_KEY.to_owned()] {
        for i in 0..key.len() {
            let k = one_off(&key, i);
            let (status, body) = api.raw("GET", &details, &[("x-api-key", &k)], &[]).await;
            assert_eq!(status, 401, "position {i}: {body}");
        }
        // Longer or shorter by one character.
        for k in [format!("{key}A"), key[..key.len() - 1].to_owned()] {
            let (status, _) = api.raw("GET", &details, &[("x-api-key", &k)], &[]).await;
            assert_eq!(status, 401);
        }
    }
    for (method, path) in key_routes() {
        for key in [
            one_off(&api.nordlys_key, 0),
            one_off(&api.nordlys_key, 61),
            one_off(PLATFORM_KEY, 5),
        ] {
            let target = fill(path, NORDLYS, &id_for(path, &ids));
            let (status, body) = api
                .raw(
                    method,
                    &target,
                    &[("x-api-key", &key), ("content-type", "application/json")],
                    &body_for(method, path),
                )
                .await;
            assert_eq!(status, 401, "{method} {target}: {body}");
            assert!(body.contains("\"unauthorized\""), "{body}");
        }
    }
    svea_unchanged(&api).await;
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0);
}

async fn empty_oversized_and_odd_keys_are_refused(store: Arc<dyn Store>) {
    let (api, ids) = setup(store).await;
    let huge = "k".repeat(10_000);
    let giant = "k".repeat(100_000);
    let with_nul = format!("{}%00", api.nordlys_key);
    let odd: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("x-api-key", "")],
        vec![("x-api-key", " ")],
        vec![("x-api-key", &huge)],
        vec![("x-api-key", &giant)],
        vec![("x-api-key", &with_nul)],
        vec![("x-api-key", "ключ")],
        vec![(
            "x-api-key",
            "ucck_7300011000017_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )],
        // Two keys, one valid: ambiguous, refused.
        vec![("x-api-key", &api.nordlys_key), ("x-api-key", "other")],
        vec![("X-API-KEY", "nope"), ("authorization", "Bearer x")],
    ];
    for (method, path) in key_routes() {
        let target = fill(path, NORDLYS, &id_for(path, &ids));
        for headers in &odd {
            let (status, body) = api
                .raw(method, &target, headers, &body_for(method, path))
                .await;
            // hyper itself may refuse a 100 kB header (431) before we see it.
            assert!(
                status == 401 || status == 431,
                "{method} {target} {:?}: {status} {body}",
                headers.iter().map(|h| h.1.len()).collect::<Vec<_>>()
            );
            assert_no_leak(&target, status, &body);
        }
    }
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0);
}

/// Request-target-ready hostile strings (already percent-encoded where the raw form could
/// not be sent at all).
fn injections(ids: &SveaIds) -> Vec<String> {
    let mut v: Vec<String> = [
        "..",
        ".",
        "%2e%2e",
        "..%2f..%2f7300011000017",
        "%2e%2e%2f%2e%2e%2fapi%2ftenants%2f7300011000017",
        "7300011000017",
        "7300011000017-0000000000000000",
        "%27%20OR%20%271%27%3D%271",
        "%22%3B%20DROP%20TABLE%20t%3B--",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%00",
        "%ff%fe",
        "T%237300011000017%23LOG",
        "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D",
        "*",
        "%2A",
        "%0d%0aX-Injected%3A%201",
        "7080010002488%00",
        "%7Bgln%7D",
        "-1",
        "9999999999999999999999999",
        SV_AP,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("a".repeat(5000));
    v.push(ids.tx.clone());
    v.push(ids.parked.clone());
    v
}

async fn injection_in_every_path_parameter_fails(store: Arc<dyn Store>) {
    let (api, ids) = setup(store).await;
    let inj = injections(&ids);
    // Tenant routes only: `/api/spot/…` refuses a bad area or day with 422 (spot_admin.rs).
    for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains("{gln}")) {
        let id = id_for(path, &ids);
        for s in &inj {
            // In the GLN position, with Nordlys' key: never Nordlys' own tenant, so 403 (or
            // hyper's 400 for a target it cannot parse).
            let target = fill(path, s, &id);
            let (status, body) = api
                .raw(
                    method,
                    &target,
                    &[
                        ("x-api-key", &api.nordlys_key),
                        ("content-type", "application/json"),
                    ],
                    &body_for(method, path),
                )
                .await;
            assert!(
                status == 403 || status == 400 || status == 404,
                "{method} {target}: {status} {body}"
            );
            assert_no_leak(&target, status, &body);
            // In an id position under Nordlys' path, with either key: nothing is found.
            if path.matches('{').count() > 1 {
                for key in [api.nordlys_key.as_str(), PLATFORM_KEY] {
                    let target = fill(path, NORDLYS, s);
                    let (status, body) = api.raw(method, &target, &[("x-api-key", key)], &[]).await;
                    assert!(
                        status == 404 || status == 400,
                        "{method} {target}: {status} {body}"
                    );
                    assert_no_leak(&target, status, &body);
                }
            }
        }
    }
    svea_unchanged(&api).await;
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0);
}

async fn injection_in_every_query_parameter_stays_in_the_tenant(store: Arc<dyn Store>) {
    let (api, ids) = setup(store).await;
    let inj = injections(&ids);
    let with_query: [(&str, &[&str]); 4] = [
        (
            "/api/tenants/{gln}/logs",
            &ucc_functions::admin::logs::PARAMS,
        ),
        ("/api/tenants/{gln}/parked", &["limit", "cursor"]),
        (
            "/api/tenants/{gln}/deliveries",
            &["state", "limit", "cursor"],
        ),
        ("/api/tenants/{gln}/drivers", &["limit", "cursor"]),
    ];
    for (path, params) in with_query {
        for p in params.iter().chain(["unknown", "gln"].iter()) {
            for s in &inj {
                for key in [api.nordlys_key.as_str(), PLATFORM_KEY] {
                    let target = format!("{}?{p}={s}", fill(path, NORDLYS, ""));
                    let (status, body) = api.raw("GET", &target, &[("x-api-key", key)], &[]).await;
                    assert!(
                        status == 200 || status == 422 || status == 400,
                        "{target}: {status} {body}"
                    );
                    assert_no_leak(&target, status, &body);
                }
            }
        }
    }
    // Routes without query parameters ignore a query string: it never reaches another tenant.
    for (method, path) in key_routes() {
        if with_query.iter().any(|(p, _)| p == path) || *method != "GET" {
            continue;
        }
        let target = format!("{}?gln={SVEA}", fill(path, NORDLYS, &id_for(path, &ids)));
        let (status, body) = api
            .raw(method, &target, &[("x-api-key", &api.nordlys_key)], &[])
            .await;
        assert_no_leak(&target, status, &body);
    }
    assert_eq!(SERVER_PANICS.load(Ordering::SeqCst), 0);
}
