//! The admin API (SPEC §7) over real HTTP on loopback, on both stores: every endpoint's
//! success path, every error status, log pagination while entries are being written, a
//! refused settings change that leaves the old settings in place, and the OpenAPI document
//! checked against the router.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod admin_common;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use admin_common::{fill, Api, PLATFORM_KEY};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use ucc_shared::gln::Gln;
use ucc_shared::log::{self, Direction, LogEntry};
use ucc_shared::store::Store;
use ucc_standins::uc::{Fault, Route};
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{event, tenant_json, FJORD, NORDLYS, SVEA};

ucc_tests::store_tests!(
    a_held_correction_is_listed_with_its_reason_and_released_by_retrying_its_credit,
    details_show_status_counts_last_delivery_and_a_masked_key,
    platform_creates_and_replaces_tenants,
    rotating_the_key_shows_it_once_and_revokes_the_old_one,
    settings_round_trip_and_a_refused_change_keeps_the_old_settings,
    logs_filter_by_time_action_status_reference_and_text,
    log_pages_have_no_gaps_or_repeats_while_entries_are_written,
    parked_messages_list_show_and_replay_after_a_settings_fix,
    deliveries_list_by_state_and_a_rejected_one_is_retried,
    credits_are_created_once_and_refused_with_reasons,
    drivers_list_and_get,
    every_error_status_has_the_json_error_body,
    log_retention_is_per_tenant,
    openapi_document_matches_the_router,
    details_cost_a_fixed_number_of_store_requests_for_a_small_tenant,
    large_log_pages_stop_at_the_byte_budget_without_losing_entries,
    a_settings_write_over_a_changed_config_is_refused,
    a_migration_is_scheduled_read_and_cancelled_by_the_platform,
    the_tenant_list_is_for_the_platform_key_only,
    a_settings_save_based_on_an_old_read_is_refused,
    the_page_and_every_answer_carry_the_security_headers,
);

fn g(s: &str) -> Gln {
    Gln::parse(s).unwrap()
}

async fn details_show_status_counts_last_delivery_and_a_masked_key(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    api.seed_one_of_each("7001", "7002", "bad-ap", "2026-11-02T08:00:00Z")
        .await;
    let (status, d) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}"),
            Some(&api.nordlys_key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["gln"], NORDLYS);
    assert_eq!(d["mode"], "costedTransaction");
    assert_eq!(d["status"], "ok");
    assert_eq!(
        d["counts"],
        json!({"pending": 0, "rejected": 1, "held": 0, "parked": 1})
    );
    assert_eq!(d["lastDelivery"]["transactionId"], "7001");
    assert_eq!(d["logRetentionDays"], 90);
    let masked = d["apiKey"]["masked"].as_str().unwrap();
    assert!(masked.starts_with(&format!("ucck_{NORDLYS}_")), "{masked}");
    let secret_part = &api.nordlys_key[24..];
    assert!(
        !d.to_string().contains(secret_part),
        "the key is never shown again"
    );
    // The platform key sees the same details.
    let (status, d2) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    assert_eq!((status, &d2["counts"]), (200, &d["counts"]));
}

async fn platform_creates_and_replaces_tenants(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let path = format!("/api/tenants/{FJORD}");
    let cfg = tenant_json(FJORD, "emb-cust-fjord");
    let (status, body) = api
        .call("PUT", &path, Some(PLATFORM_KEY), Some(cfg.clone()))
        .await;
    assert_eq!((status, &body["created"]), (201, &json!(true)), "{body}");
    let mut renamed = cfg.clone();
    renamed["name"] = json!("Fjord Kraft");
    let (status, body) = api
        .call("PUT", &path, Some(PLATFORM_KEY), Some(renamed))
        .await;
    assert_eq!((status, &body["created"]), (200, &json!(false)), "{body}");
    let (_, d) = api.call("GET", &path, Some(PLATFORM_KEY), None).await;
    assert_eq!(d["name"], "Fjord Kraft");
    // A tenant key cannot create or replace tenants, not even its own.
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/tenants/{NORDLYS}"),
            Some(&api.nordlys_key),
            Some(cfg.clone()),
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    // Invalid configs are refused naming the field.
    let mut bad = cfg.clone();
    bad["accountingPointPattern"] = json!("^[a-z");
    let (status, body) = api.call("PUT", &path, Some(PLATFORM_KEY), Some(bad)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("accountingPointPattern")),
        "{body}"
    );
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/tenants/{SVEA}"),
            Some(PLATFORM_KEY),
            Some(cfg.clone()),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("gln")),
        "{body}"
    );
    let mut taken = tenant_json(FJORD, COSTED_CUSTOMER);
    taken["name"] = json!("x");
    let (status, body) = api
        .call("PUT", &path, Some(PLATFORM_KEY), Some(taken))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("customerId")),
        "{body}"
    );
    let (status, body) = api
        .call(
            "PUT",
            "/api/tenants/7080010002489",
            Some(PLATFORM_KEY),
            Some(cfg),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("gln")),
        "{body}"
    );
}

async fn rotating_the_key_shows_it_once_and_revokes_the_old_one(store: Arc<dyn Store>) {
    let api = Api::start(store.clone()).await;
    let old = api.nordlys_key.clone();
    let new = api.rotate(NORDLYS, &old).await;
    assert_ne!(old, new);
    let path = format!("/api/tenants/{NORDLYS}/settings");
    assert_eq!(api.call("GET", &path, Some(&old), None).await.0, 401);
    assert_eq!(api.call("GET", &path, Some(&new), None).await.0, 200);
    let item = store
        .get(&ucc_shared::apikey::key(&g(NORDLYS)))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !item.doc.contains(&new) && !item.doc.contains(&new[24..]),
        "hash only"
    );
    // Rotating an unknown tenant's key is a 404 for the platform.
    let (status, body) = api
        .call(
            "POST",
            &format!("/api/tenants/{FJORD}/api-key"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

async fn settings_round_trip_and_a_refused_change_keeps_the_old_settings(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let path = format!("/api/tenants/{NORDLYS}/settings");
    let key = Some(api.nordlys_key.as_str());
    let (status, before) = api.call("GET", &path, key, None).await;
    assert_eq!(status, 200);
    assert_eq!(before["defaultSiteId"], 1001);
    assert_eq!(before["virtualTokenPrefix"], "v:");
    let change = json!({
        "productSites": {"LADEABO-BORETTSLAG": 1042},
        "virtualTokenPrefix": "nl:",
        "serviceBusTopic": "uc-prod",
        "sites": {"1042": {"revenueShareId": 5501}, "1050": {"revenueShareId": 7}},
        "logRetentionDays": 30
    });
    let (status, after) = api.call("PUT", &path, key, Some(change)).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["virtualTokenPrefix"], "nl:");
    assert_eq!(after["sites"]["1050"]["revenueShareId"], 7);
    assert_eq!(after["defaultSiteId"], 1001, "fields not given stay");
    let (_, now) = api.call("GET", &path, key, None).await;
    assert_eq!(now, after);
    for (patch, field) in [
        (
            json!({"accountingPointPattern": "^[a-z"}),
            "accountingPointPattern",
        ),
        (
            json!({"virtualTokenPrefix": "has space"}),
            "virtualTokenPrefix",
        ),
        (json!({"defaultSiteId": -5}), "defaultSiteId"),
        (json!({"productSites": {"X": "abc"}}), "productSites.X"),
        (json!({"siteTariffs": {"1042": "NOPE"}}), "siteTariffs.1042"),
        (json!({"sites": {"abc": {}}}), "sites.abc"),
        (json!({"tariffs": [{"id": "broken"}]}), "tariffs[0]"),
        (json!({"logRetentionDays": 0}), "logRetentionDays"),
        (json!({"uc": {"baseUrl": "https://evil.example"}}), "uc"),
        (json!({"gln": SVEA}), "gln"),
        (
            json!({"virtualTokenPrefix": "ok:", "defaultSiteId": 0}),
            "defaultSiteId",
        ),
    ] {
        let (status, body) = api.call("PUT", &path, key, Some(patch.clone())).await;
        assert_eq!(status, 422, "{patch} → {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["field"].as_str().unwrap().starts_with(field),
            "{patch} → {body}"
        );
        let (_, still) = api.call("GET", &path, key, None).await;
        assert_eq!(still, after, "a refused change leaves everything as it was");
    }
    let (status, body) = api
        .raw(
            "PUT",
            &path,
            &[("x-api-key", &api.nordlys_key)],
            b"{not json",
        )
        .await;
    assert_eq!(status, 422, "{body}");
    // null resets a setting to its default.
    let (_, reset) = api
        .call("PUT", &path, key, Some(json!({"virtualTokenPrefix": null})))
        .await;
    assert_eq!(reset["virtualTokenPrefix"], "v:");
}

fn entry(
    gln: &str,
    time: chrono::DateTime<Utc>,
    action: &str,
    code: u16,
    reference: &str,
    payload: &str,
) -> LogEntry {
    LogEntry {
        id: log::new_id(time),
        tenant: Some(g(gln)),
        time,
        direction: Direction::Outbound,
        endpoint: "/se/invoicelineimport/v1/transaction".into(),
        action: action.into(),
        response_code: code,
        outcome: None,
        reason: None,
        reference_id: Some(reference.into()),
        event_id: None,
        duration_ms: 3,
        request_payload: payload.into(),
        request_truncated: false,
        request_properties: None,
        response_body: None,
    }
}

async fn logs_filter_by_time_action_status_reference_and_text(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let ctx = &api.env.d.ctx;
    let t0 = Utc::now() - Duration::hours(5);
    let rows = [
        (0, "InvoiceLineImport", 201, "T-1", "alpha"),
        (1, "InvoiceLineImport", 422, "T-2", "bravo needle"),
        (2, "Token", 400, "T-3", "charlie"),
        (3, "GetTransaction", 404, "T-2", "delta"),
        (4, "InvoiceLineImport", 503, "T-4", "echo needle"),
    ];
    for (h, action, code, r, p) in rows {
        log::write(
            ctx,
            &entry(NORDLYS, t0 + Duration::hours(h), action, code, r, p),
        )
        .await
        .unwrap();
    }
    // Another tenant's entries never show up.
    log::write(
        ctx,
        &entry(SVEA, t0, "InvoiceLineImport", 422, "T-2", "svea needle"),
    )
    .await
    .unwrap();
    let q = |query: &str| {
        let api = &api;
        let query = query.to_owned();
        async move {
            let (status, body) = api
                .call(
                    "GET",
                    &format!("/api/tenants/{NORDLYS}/logs?{query}"),
                    Some(&api.nordlys_key),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{query}: {body}");
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["endpoint"] == "/se/invoicelineimport/v1/transaction")
                .map(|e| e["requestPayload"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(q("status=4xx").await, ["delta", "charlie", "bravo needle"]);
    assert_eq!(q("status=422").await, ["bravo needle"]);
    assert_eq!(
        q("action=InvoiceLineImport").await,
        ["echo needle", "bravo needle", "alpha"]
    );
    assert_eq!(q("ref=T-2").await, ["delta", "bravo needle"]);
    assert_eq!(q("q=needle").await, ["echo needle", "bravo needle"]);
    let from = (t0 + Duration::minutes(90)).to_rfc3339();
    let to = (t0 + Duration::hours(3)).to_rfc3339();
    let window = format!("from={}&to={}", urlenc(&from), urlenc(&to));
    assert_eq!(q(&window).await, ["charlie"]);
    assert_eq!(q("from=6h&status=5xx").await, ["echo needle"]);
    assert_eq!(
        q("action=InvoiceLineImport&limit=2").await,
        ["echo needle", "bravo needle"]
    );
    for bad in [
        "status=4x",
        "status=999",
        "from=yesterday",
        "limit=0",
        "limit=100000",
        "cursor=%%%",
        "cursor=AAAA",
        "colour=red",
        "status=4xx&status=5xx",
    ] {
        let (status, body) = api
            .call(
                "GET",
                &format!("/api/tenants/{NORDLYS}/logs?{bad}"),
                Some(&api.nordlys_key),
                None,
            )
            .await;
        // A cursor that decodes to something harmless is only a position: 200 is fine for it.
        assert!(
            status == 422 || (bad == "cursor=AAAA" && status == 200),
            "{bad}: {status} {body}"
        );
        if status == 422 {
            assert_eq!(body["error"], "invalid_request", "{bad}");
        }
    }
}

fn urlenc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn log_pages_have_no_gaps_or_repeats_while_entries_are_written(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let ctx = api.env.d.ctx.clone();
    let t0 = Utc::now() - Duration::hours(1);
    let mut expected = BTreeSet::new();
    for i in 0..90 {
        let e = entry(
            NORDLYS,
            t0 + Duration::milliseconds(i * 7),
            "InvoiceLineImport",
            201,
            &format!("P-{i}"),
            "page-test",
        );
        expected.insert(e.id.clone());
        log::write(&ctx, &e).await.unwrap();
    }
    let path = format!("/api/tenants/{NORDLYS}/logs?q=page-test&limit=20");
    let (status, first) = api.call("GET", &path, Some(&api.nordlys_key), None).await;
    assert_eq!(status, 200);
    // From now on, a writer keeps adding entries (newer, as real traffic is).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                log::write(
                    &ctx,
                    &entry(
                        NORDLYS,
                        Utc::now(),
                        "InvoiceLineImport",
                        201,
                        &format!("N-{n}"),
                        "page-test",
                    ),
                )
                .await
                .unwrap();
                n += 1;
                // Let the reader's page requests interleave with these writes.
                tokio::task::yield_now().await;
            }
            n
        })
    };
    let mut seen: Vec<String> = Vec::new();
    let mut page = first;
    let mut pages = 1;
    loop {
        let items = page["items"].as_array().unwrap();
        let times: Vec<&str> = items.iter().map(|e| e["time"].as_str().unwrap()).collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first within a page");
        seen.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        let Some(next) = page["next"].as_str() else {
            break;
        };
        let (status, p) = api
            .call(
                "GET",
                &format!("{path}&cursor={next}"),
                Some(&api.nordlys_key),
                None,
            )
            .await;
        assert_eq!(status, 200, "{p}");
        page = p;
        pages += 1;
        tokio::task::yield_now().await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written_meanwhile = writer.await.unwrap();
    assert!(written_meanwhile > 0, "entries were written while paging");
    assert!(pages >= 3, "{pages} pages");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry is repeated");
    let seen_old: BTreeSet<String> = seen
        .iter()
        .filter(|id| expected.contains(*id))
        .cloned()
        .collect();
    assert_eq!(seen_old, expected, "no entry is skipped");
}

async fn parked_messages_list_show_and_replay_after_a_settings_fix(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let key = Some(api.nordlys_key.as_str());
    api.env
        .contract(event(
            NORDLYS,
            "ContractActivated",
            "ev-hyphen",
            "2026-11-03T08:00:00Z",
            "AP-12345",
            json!({"Rfid": "AABBCC"}),
        ))
        .await;
    let (status, list) = api
        .call("GET", &format!("/api/tenants/{NORDLYS}/parked"), key, None)
        .await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["reason"], "invalidAccountingPoint");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let (status, shown) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/parked/{id}"),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(shown["body"].as_str().unwrap().contains("AP-12345"));
    // Replay before the fix parks it again (same id) and reports that.
    let (status, again) = api
        .call(
            "POST",
            &format!("/api/tenants/{NORDLYS}/parked/{id}/replay"),
            key,
            None,
        )
        .await;
    assert_eq!(
        (status, again["outcome"].as_str()),
        (200, Some("parked")),
        "{again}"
    );
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/tenants/{NORDLYS}/settings"),
            key,
            Some(json!({"accountingPointPattern": "^[A-Za-z0-9-]{5,18}$"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, replayed) = api
        .call(
            "POST",
            &format!("/api/tenants/{NORDLYS}/parked/{id}/replay"),
            key,
            None,
        )
        .await;
    assert_eq!(
        (status, replayed["outcome"].as_str()),
        (200, Some("applied")),
        "{replayed}"
    );
    let (_, list) = api
        .call("GET", &format!("/api/tenants/{NORDLYS}/parked"), key, None)
        .await;
    assert_eq!(list["items"], json!([]));
    let (status, _) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/parked/{id}"),
            key,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

async fn deliveries_list_by_state_and_a_rejected_one_is_retried(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let key = Some(api.nordlys_key.as_str());
    api.env
        .send(&session("8001", COSTED_CUSTOMER, RFID, None))
        .await;
    api.env
        .standin
        .push_fault(Route::PostTransaction, Fault::Status(400));
    api.env
        .send(&session("8002", COSTED_CUSTOMER, RFID, None))
        .await;
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["transactionId"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = format!("/api/tenants/{NORDLYS}/deliveries");
    let (status, all) = api.call("GET", &base, key, None).await;
    assert_eq!(
        (status, ids(&all)),
        (200, vec!["8001".to_owned(), "8002".to_owned()])
    );
    let (_, rejected) = api
        .call("GET", &format!("{base}?state=rejected"), key, None)
        .await;
    assert_eq!(ids(&rejected), ["8002"]);
    assert_eq!(rejected["items"][0]["lastStatus"], 400);
    assert_eq!(rejected["items"][0]["payload"]["transactionId"], "8002");
    let (_, delivered) = api
        .call("GET", &format!("{base}?state=delivered&limit=1"), key, None)
        .await;
    assert_eq!(ids(&delivered), ["8001"]);
    let (status, one) = api.call("GET", &format!("{base}/8002"), key, None).await;
    assert_eq!((status, one["state"].as_str()), (200, Some("rejected")));
    let (status, retried) = api
        .call("POST", &format!("{base}/8002/retry"), key, None)
        .await;
    assert_eq!(
        (status, retried["state"].as_str()),
        (200, Some("delivered")),
        "{retried}"
    );
    let (status, body) = api
        .call("POST", &format!("{base}/8001/retry"), key, None)
        .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
    let (status, _) = api
        .call("POST", &format!("{base}/nope/retry"), key, None)
        .await;
    assert_eq!(status, 404);
    let (status, body) = api
        .call("GET", &format!("{base}?state=lost"), key, None)
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("state")));
    // Paging by cursor.
    let (_, p1) = api.call("GET", &format!("{base}?limit=1"), key, None).await;
    let next = p1["next"].as_str().unwrap();
    let (_, p2) = api
        .call("GET", &format!("{base}?limit=1&cursor={next}"), key, None)
        .await;
    assert_eq!(
        (ids(&p1), ids(&p2)),
        (vec!["8001".to_owned()], vec!["8002".to_owned()])
    );
    assert!(p2["next"].is_null());
}

async fn credits_are_created_once_and_refused_with_reasons(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let key = Some(api.nordlys_key.as_str());
    api.env
        .send(&session("8101", COSTED_CUSTOMER, RFID, None))
        .await;
    let path = format!("/api/tenants/{NORDLYS}/credits");
    let (status, body) = api
        .call(
            "POST",
            &path,
            key,
            Some(json!({"transactionId": "8101", "reason": "customer complaint"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["credit"]["transactionId"], "8101-C1");
    assert!(
        api.env.standin.transaction("8101-C1").is_some(),
        "UC got the credit"
    );
    let (status, body) = api
        .call("POST", &path, key, Some(json!({"transactionId": "8101"})))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, _) = api
        .call("POST", &path, key, Some(json!({"transactionId": "none"})))
        .await;
    assert_eq!(status, 404);
    for (b, field) in [
        (json!({}), "transactionId"),
        (json!({"transactionId": 8101}), "transactionId"),
        (json!({"transactionId": ""}), "transactionId"),
        (
            json!({"transactionId": "8101", "reason": "x".repeat(2000)}),
            "reason",
        ),
        (json!({"transactionId": "8101", "extra": 1}), "(body)"),
    ] {
        let (status, body) = api.call("POST", &path, key, Some(b.clone())).await;
        assert_eq!(status, 422, "{b}: {body}");
        assert!(body["field"].as_str().is_some(), "{b}: {body}");
        let _ = field;
    }
    // Svea's key cannot credit Nordlys' transaction, even through its own path.
    let (status, _) = api
        .call(
            "POST",
            &format!("/api/tenants/{SVEA}/credits"),
            Some(&api.svea_key),
            Some(json!({"transactionId": "8101"})),
        )
        .await;
    assert_eq!(status, 404);
}

async fn drivers_list_and_get(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let key = Some(api.nordlys_key.as_str());
    let (status, list) = api
        .call("GET", &format!("/api/tenants/{NORDLYS}/drivers"), key, None)
        .await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["externalId"], AP);
    let (status, d) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/drivers/{AP}"),
            key,
            None,
        )
        .await;
    assert_eq!((status, d["active"].as_bool()), (200, Some(true)));
    assert_eq!(d["tokens"][0]["value"], RFID);
    let (status, body) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/drivers/{SV_AP}"),
            key,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "Svea's driver is not Nordlys'"
    );
}

async fn every_error_status_has_the_json_error_body(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let details = format!("/api/tenants/{NORDLYS}");
    let check = |status: u16, body: &Value, want: u16, code: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    };
    let (s, b) = api.call("GET", &details, None, None).await;
    check(s, &b, 401, "unauthorized");
    let (s, b) = api.call("GET", &details, Some("wrong"), None).await;
    check(s, &b, 401, "unauthorized");
    // The same 401 for an unknown tenant: no hint whether it exists.
    let (s, b2) = api
        .call("GET", &format!("/api/tenants/{FJORD}"), Some("wrong"), None)
        .await;
    check(s, &b2, 401, "unauthorized");
    assert_eq!(b, b2);
    let (s, b) = api
        .call(
            "GET",
            &format!("/api/tenants/{SVEA}"),
            Some(&api.nordlys_key),
            None,
        )
        .await;
    check(s, &b, 403, "forbidden");
    let (s, b2) = api
        .call(
            "GET",
            &format!("/api/tenants/{FJORD}"),
            Some(&api.nordlys_key),
            None,
        )
        .await;
    check(s, &b2, 403, "forbidden");
    assert_eq!(b, b2, "an unknown tenant looks like another tenant's");
    let (s, b) = api
        .call(
            "GET",
            &format!("/api/tenants/{FJORD}"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    check(s, &b, 404, "not_found");
    let (s, b) = api
        .call(
            "PUT",
            &format!("{details}/settings"),
            Some(&api.nordlys_key),
            Some(json!({"defaultSiteId": "x"})),
        )
        .await;
    check(s, &b, 422, "invalid_request");
    assert_eq!(b["field"], "defaultSiteId");
    let (s, b) = api.call("DELETE", &details, Some(PLATFORM_KEY), None).await;
    check(s, &b, 405, "method_not_allowed");
    let (s, b) = api
        .call("GET", "/api/nothing-here", Some(PLATFORM_KEY), None)
        .await;
    check(s, &b, 404, "not_found");
    let big = vec![b'x'; ucc_functions::admin::MAX_BODY_BYTES + 10];
    let (s, b) = api
        .raw(
            "PUT",
            &format!("{details}/settings"),
            &[
                ("x-api-key", &api.nordlys_key),
                ("content-type", "application/json"),
            ],
            &big,
        )
        .await;
    assert_eq!(s, 413, "{b}");
    assert!(b.contains("payload_too_large"), "{b}");
}

async fn log_retention_is_per_tenant(store: Arc<dyn Store>) {
    let api = Api::start(store.clone()).await;
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/tenants/{SVEA}/settings"),
            Some(&api.svea_key),
            Some(json!({"logRetentionDays": 7})),
        )
        .await;
    assert_eq!(status, 200);
    // A fresh instance reads the new setting; each tenant's entries carry its own TTL. The
    // hand-moved clock goes forward so these entries sort after the setup's.
    api.env.clock.advance(std::time::Duration::from_secs(60));
    let d = api.env.other_instance();
    api.env
        .send(&session("8201", COSTED_CUSTOMER, RFID, None))
        .await;
    ucc_shared::delivery::intake::handle(
        &d,
        &ucc_shared::contract::InboundMessage::from_body(
            session("8202", METER_CUSTOMER, SV_RFID, None).to_string(),
        ),
    )
    .await
    .unwrap();
    let ttl_days = |gln: &str| {
        let store = store.clone();
        let gln = gln.to_owned();
        async move {
            let page = store
                .query(&ucc_shared::store::Query {
                    pk: ucc_shared::keys::tenant(&g(&gln), ucc_shared::keys::LOGS),
                    range: ucc_shared::store::SkRange::Between("0".into(), "9~".into()),
                    limit: 1,
                    cursor: None,
                })
                .await
                .unwrap();
            let item = &page.items[0];
            let e: LogEntry = serde_json::from_str(&item.doc).unwrap();
            (item.expires_at.unwrap() - e.time.timestamp()) / 86_400
        }
    };
    assert_eq!(ttl_days(NORDLYS).await, 90);
    assert_eq!(ttl_days(SVEA).await, 7);
    let (_, d) = api
        .call(
            "GET",
            &format!("/api/tenants/{SVEA}"),
            Some(&api.svea_key),
            None,
        )
        .await;
    assert_eq!(d["logRetentionDays"], 7);
}

async fn openapi_document_matches_the_router(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let doc: Value = serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ucc_functions::admin::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, routed,
        "docs/openapi.json and the router list the same routes"
    );
    // Real ids, so every documented route reaches its handler.
    api.seed_one_of_each("8301", "8302", "oa-bad", "2026-11-03T08:00:00Z")
        .await;
    let (_, parked) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/parked"),
            Some(PLATFORM_KEY),
            None,
        )
        .await;
    let parked_id = parked["items"][0]["id"].as_str().unwrap().to_owned();
    let cfg = serde_json::to_value(
        ucc_shared::registry::get(api.env.store.as_ref(), &g(NORDLYS))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    for (method, path) in ucc_functions::admin::ROUTES {
        let id = if path.contains("{id}") {
            parked_id.as_str()
        } else if path.contains("{accountingPoint}") {
            AP
        } else if path.ends_with("/retry") {
            "8302"
        } else {
            "8301"
        };
        let url = fill(path, NORDLYS, id);
        let body = match (*method, *path) {
            ("PUT", "/api/tenants/{gln}") => Some(cfg.clone()),
            ("PUT", "/api/tenants/{gln}/migration") => Some(json!({
                "to": "costedTransaction",
                "cutover": (api.env.d.ctx.now() + Duration::days(3)).to_rfc3339(),
            })),
            ("PUT", _) => Some(json!({})),
            ("POST", "/api/tenants/{gln}/credits") => Some(json!({"transactionId": "8301"})),
            _ => None,
        };
        let (status, b) = api.call(method, &url, Some(PLATFORM_KEY), body).await;
        assert!(
            status != 404 && status != 405,
            "{method} {url}: {status} {b}"
        );
        // Nordlys is Type B: its migration routes answer the refusal (handler reached).
        let refused_migration = path.ends_with("/migration") && method != &"GET" && status == 409;
        assert!(
            (200..300).contains(&status) || refused_migration,
            "{method} {url}: {status} {b}"
        );
        // Undocumented methods on documented paths are refused.
        for other in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            if !routed.contains(&(other.to_owned(), (*path).to_owned())) {
                let (s, _) = api.call(other, &url, Some(PLATFORM_KEY), None).await;
                assert_eq!(s, 405, "{other} {url}");
            }
        }
    }
}

/// Store requests of one Details call (config cached): key check (1 get, whose record is
/// also what is shown masked), status (1 get), the counts (1 query) and the newest log page
/// (1 query); with the platform key, the key record is read for showing instead. The same
/// four requests whatever the backlog: more rejected and parked messages than a page holds
/// cost nothing more, and are counted exactly.
async fn details_cost_a_fixed_number_of_store_requests_for_a_small_tenant(store: Arc<dyn Store>) {
    let counting = Arc::new(ucc_shared::store::counting::CountingStore::new(store));
    let api = Api::start(counting.clone()).await;
    api.env
        .send(&session("8401", COSTED_CUSTOMER, RFID, None))
        .await;
    let path = format!("/api/tenants/{NORDLYS}");
    // Warm the tenant-config cache as a running instance has it.
    assert_eq!(
        api.call("GET", &path, Some(&api.nordlys_key), None).await.0,
        200
    );
    counting.reset();
    assert_eq!(
        api.call("GET", &path, Some(&api.nordlys_key), None).await.0,
        200
    );
    let c = counting.counts();
    // Status and key reads; the counts and log queries.
    let expected = (2, 2, 0, 4);
    assert_eq!(
        (c.get, c.query, c.query_index, c.total()),
        expected,
        "{c:?}"
    );
    counting.reset();
    assert_eq!(
        api.call("GET", &path, Some(PLATFORM_KEY), None).await.0,
        200
    );
    let c = counting.counts();
    assert_eq!(
        (c.get, c.query, c.query_index, c.total()),
        expected,
        "{c:?}"
    );
    // A longer delivery history costs Details nothing more.
    for tx in ["8402", "8403", "8404", "8405"] {
        // The test clock stands still unless moved; deliveries happen at distinct times.
        api.env.clock.advance(std::time::Duration::from_secs(1));
        api.env
            .send(&session(tx, COSTED_CUSTOMER, RFID, None))
            .await;
    }
    counting.reset();
    let (status, body) = api.call("GET", &path, Some(&api.nordlys_key), None).await;
    assert_eq!(status, 200);
    let c = counting.counts();
    assert_eq!(
        (c.get, c.query, c.query_index, c.total()),
        expected,
        "{c:?}"
    );
    assert_eq!(body["lastDelivery"]["transactionId"], "8405");
    // A backlog longer than a page of every kind costs Details nothing more either.
    for i in 0..205 {
        api.env
            .standin
            .push_fault(Route::PostTransaction, Fault::Status(400));
        api.env
            .send(&session(&format!("85{i:03}"), COSTED_CUSTOMER, RFID, None))
            .await;
        let mut bad = session(&format!("86{i:03}"), COSTED_CUSTOMER, RFID, None);
        bad["meterReadEndWh"] = json!(1);
        api.env.send(&bad).await;
    }
    counting.reset();
    let (status, body) = api.call("GET", &path, Some(&api.nordlys_key), None).await;
    assert_eq!(status, 200);
    let c = counting.counts();
    // The counts are one query; only the search for the last delivery may read a few more
    // log pages (at most 5) when the newest entries are all failures.
    assert_eq!((c.get, c.query_index), (2, 0), "{c:?}");
    assert!(c.query <= 1 + 5, "{c:?}");
    assert_eq!(
        body["counts"],
        json!({"pending": 0, "rejected": 205, "held": 0, "parked": 205})
    );
}

async fn large_log_pages_stop_at_the_byte_budget_without_losing_entries(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let ctx = api.env.d.ctx.clone();
    let t0 = Utc::now() - Duration::hours(2);
    let big = format!("big-{}", "x".repeat(60 * 1024));
    for i in 0..80 {
        let e = entry(
            NORDLYS,
            t0 + Duration::seconds(i),
            "InvoiceLineImport",
            201,
            &format!("B-{i}"),
            &big,
        );
        log::write(&ctx, &e).await.unwrap();
    }
    let path = format!("/api/tenants/{NORDLYS}/logs?q=big-&limit=500");
    let (status, first) = api.call("GET", &path, Some(&api.nordlys_key), None).await;
    assert_eq!(status, 200);
    let n1 = first["items"].as_array().unwrap().len();
    assert!(
        n1 < 80,
        "the first page stopped at the byte budget ({n1} entries)"
    );
    let next = first["next"].as_str().expect("a cursor to continue");
    let (_, second) = api
        .call(
            "GET",
            &format!("{path}&cursor={next}"),
            Some(&api.nordlys_key),
            None,
        )
        .await;
    assert_eq!(n1 + second["items"].as_array().unwrap().len(), 80);
    assert!(second["next"].is_null());
}

/// The read-merge-write of a settings change only lands on the version it read.
async fn a_settings_write_over_a_changed_config_is_refused(store: Arc<dyn Store>) {
    let api = Api::start(store.clone()).await;
    let (cfg, version) = ucc_shared::registry::get_versioned(store.as_ref(), &g(NORDLYS))
        .await
        .unwrap()
        .unwrap();
    // Another admin saves in between.
    let (status, _) = api
        .call(
            "PUT",
            &format!("/api/tenants/{NORDLYS}/settings"),
            Some(&api.nordlys_key),
            Some(json!({"serviceBusTopic": "theirs"})),
        )
        .await;
    assert_eq!(status, 200);
    let mine = ucc_functions::admin::tenants::merge_settings(
        &cfg,
        &json!({"virtualTokenPrefix": "mine:"}),
    )
    .unwrap();
    let r = ucc_shared::registry::put_if_version(store.as_ref(), &mine, version).await;
    assert!(
        matches!(r, Err(ucc_shared::registry::RegistryError::Store(ref e)) if e.is_condition_failure()),
        "{r:?}"
    );
    let (_, now) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/settings"),
            Some(&api.nordlys_key),
            None,
        )
        .await;
    assert_eq!(
        (
            now["serviceBusTopic"].as_str(),
            now["virtualTokenPrefix"].as_str()
        ),
        (Some("theirs"), Some("v:"))
    );
}

/// SPEC §6 through the admin API: a correction whose credit UC rejects is listed as held
/// with the reason and counted in Details; retrying the credit sends both, in order.
async fn a_held_correction_is_listed_with_its_reason_and_released_by_retrying_its_credit(
    store: Arc<dyn Store>,
) {
    let api = Api::start(store).await;
    api.env
        .send(&session("8801", COSTED_CUSTOMER, RFID, None))
        .await;
    api.env
        .standin
        .push_fault(Route::PostTransaction, Fault::Status(400));
    ucc_shared::delivery::credit::correct(&api.env.d, None, "8801", None)
        .await
        .unwrap();
    let key = Some(api.nordlys_key.as_str());
    let (status, held) = api
        .call(
            "GET",
            &format!("/api/tenants/{NORDLYS}/deliveries?state=held"),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["items"].as_array().map(Vec::len), Some(1), "{held}");
    assert_eq!(held["items"][0]["transactionId"], "8801-R1");
    assert_eq!(held["items"][0]["waitsFor"], "8801-C1");
    assert!(
        held["items"][0]["lastResult"]
            .as_str()
            .is_some_and(|r| r.contains("8801-C1") && r.contains("rejected")),
        "{held}"
    );
    let (_, d) = api
        .call("GET", &format!("/api/tenants/{NORDLYS}"), key, None)
        .await;
    assert_eq!(d["counts"]["held"], 1, "{d}");
    assert_eq!(d["counts"]["rejected"], 1, "{d}");
    assert_eq!(api.env.standin.post_attempts("8801-R1"), 0);
    let (status, retried) = api
        .call(
            "POST",
            &format!("/api/tenants/{NORDLYS}/deliveries/8801-C1/retry"),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["state"], "delivered");
    let order: Vec<String> = api
        .env
        .standin
        .accepted_transactions()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(order, ["8801", "8801-C1", "8801-R1"]);
    let (_, d) = api
        .call("GET", &format!("/api/tenants/{NORDLYS}"), key, None)
        .await;
    assert_eq!(
        d["counts"],
        json!({"pending": 0, "rejected": 0, "held": 0, "parked": 0})
    );
}

/// `GET|PUT|DELETE /api/tenants/{gln}/migration` (SPEC §12): the platform schedules and
/// cancels, the tenant reads; each refusal is a 4xx with the JSON error body naming the
/// field; Details shows the scheduled migration; the credit route refuses a session
/// delivered as meter values.
async fn a_migration_is_scheduled_read_and_cancelled_by_the_platform(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let path = format!("/api/tenants/{SVEA}/migration");
    let (status, body) = api.call("GET", &path, Some(&api.svea_key), None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("none")),
        "{body}"
    );
    let future = (api.env.d.ctx.now() + Duration::days(3)).to_rfc3339();
    let req = json!({ "to": "costedTransaction", "cutover": future });
    // Svea as the environment has it: no tariffs for Type B.
    let (status, body) = api
        .call("PUT", &path, Some(PLATFORM_KEY), Some(req.clone()))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("tariffs")),
        "{body}"
    );
    let mut cfg = meter_tenant(
        &api.env.standin,
        &format!("file:{}", api.env.secret_file.display()),
    );
    cfg["currency"] = json!("NOK");
    cfg["vatPercent"] = json!("25");
    cfg["timeZone"] = json!("Europe/Oslo");
    cfg["tariffs"] = json!([tariff()]);
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/tenants/{SVEA}"),
            Some(PLATFORM_KEY),
            Some(cfg),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A tenant key may read but not schedule.
    let (status, body) = api
        .call("PUT", &path, Some(&api.svea_key), Some(req.clone()))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let past = json!({ "to": "costedTransaction", "cutover": "2020-01-01T00:00:00Z" });
    let (status, body) = api.call("PUT", &path, Some(PLATFORM_KEY), Some(past)).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("cutover")),
        "{body}"
    );
    let unknown = json!({ "to": "costedTransaction", "cutover": future, "x": 1 });
    let (status, _) = api
        .call("PUT", &path, Some(PLATFORM_KEY), Some(unknown))
        .await;
    assert_eq!(status, 422);
    let nordlys = format!("/api/tenants/{NORDLYS}/migration");
    let (status, body) = api
        .call("PUT", &nordlys, Some(PLATFORM_KEY), Some(req.clone()))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("mode")),
        "{body}"
    );
    let (status, body) = api.call("PUT", &path, Some(PLATFORM_KEY), Some(req)).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("scheduled")),
        "{body}"
    );
    let (status, d) = api
        .call(
            "GET",
            &format!("/api/tenants/{SVEA}"),
            Some(&api.svea_key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(d["mode"], "meterValue");
    assert_eq!(d["migration"]["state"], "scheduled");
    // A session before the cutover goes as meter values; its credit is refused.
    api.env
        .send(&session("SV-9", METER_CUSTOMER, SV_RFID, None))
        .await;
    let (status, body) = api
        .call(
            "POST",
            &format!("/api/tenants/{SVEA}/credits"),
            Some(&api.svea_key),
            Some(json!({ "transactionId": "SV-9" })),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("delivered as meter values"),
        "{body}"
    );
    let (status, _) = api.call("DELETE", &path, Some(&api.svea_key), None).await;
    assert_eq!(status, 403);
    let (status, body) = api.call("DELETE", &path, Some(PLATFORM_KEY), None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("none")),
        "{body}"
    );
    let (status, body) = api.call("DELETE", &path, Some(PLATFORM_KEY), None).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("migration")),
        "{body}"
    );
}

/// SPEC §14 (FIXED): `GET /api/tenants` lists the tenants for the platform key only.
async fn the_tenant_list_is_for_the_platform_key_only(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let (status, body) = api.call("GET", "/api/tenants", None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = api
        .call("GET", "/api/tenants", Some("not-a-key"), None)
        .await;
    assert_eq!(status, 401);
    for key in [&api.nordlys_key, &api.svea_key] {
        let (status, body) = api.call("GET", "/api/tenants", Some(key), None).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
        assert!(body.get("items").is_none());
    }
    let (status, body) = api
        .call("GET", "/api/tenants", Some(PLATFORM_KEY), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    let glns: BTreeSet<&str> = items.iter().map(|t| t["gln"].as_str().unwrap()).collect();
    assert!(glns.contains(NORDLYS) && glns.contains(SVEA), "{body}");
    let nordlys = items.iter().find(|t| t["gln"] == NORDLYS).unwrap();
    assert_eq!(nordlys["name"], "Nordlys Energi AS");
    assert_eq!(nordlys["mode"], "costedTransaction");
    assert_eq!(
        nordlys.as_object().unwrap().len(),
        4,
        "gln, name, customerId, mode and nothing else: {nordlys}"
    );
    // POST is not a route: 405 like every undocumented method.
    let (status, _) = api
        .call("POST", "/api/tenants", Some(PLATFORM_KEY), Some(json!({})))
        .await;
    assert_eq!(status, 405);
}

/// The page's settings form sends the `ETag` of its read as `If-Match`: a save over a change
/// made since is refused with 409 and writes nothing; without `If-Match` a save applies.
async fn a_settings_save_based_on_an_old_read_is_refused(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let url = format!("{}/api/tenants/{NORDLYS}/settings", api.base);
    let get = || async {
        let r = api
            .http
            .get(&url)
            .header("x-api-key", &api.nordlys_key)
            .send()
            .await
            .unwrap();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        (etag, r.json::<Value>().await.unwrap())
    };
    let put = |etag: Option<String>, body: Value| {
        let mut req = api
            .http
            .put(&url)
            .header("x-api-key", &api.nordlys_key)
            .json(&body);
        if let Some(e) = etag {
            req = req.header("if-match", e);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, etag, r.json::<Value>().await.unwrap())
        }
    };
    let (read, _) = get().await;
    let (status, after, body) = put(Some(read.clone()), json!({"serviceBusTopic": "t-1"})).await;
    assert_eq!(status, 200, "{body}");
    let after = after.expect("a saved answer carries the new ETag");
    assert_ne!(after, read);
    assert_eq!(get().await.0, after, "the ETag is the stored version");
    // A second editor still holding the first read.
    let (status, _, body) = put(Some(read), json!({"serviceBusTopic": "t-2"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert_eq!(get().await.1["serviceBusTopic"], "t-1", "nothing written");
    let (status, _, body) = put(
        Some("\"v-nonsense\"".into()),
        json!({"serviceBusTopic": "t-3"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, _, _) = put(None, json!({"serviceBusTopic": "t-4"})).await;
    assert_eq!(status, 200);
    assert_eq!(get().await.1["serviceBusTopic"], "t-4");
}

/// SPEC §14: the page is served by the router itself, same-origin only, under a strict CSP;
/// every answer (page, asset, JSON, error) carries the security headers.
async fn the_page_and_every_answer_carry_the_security_headers(store: Arc<dyn Store>) {
    let api = Api::start(store).await;
    let check = |what: &str, h: &reqwest::header::HeaderMap| {
        let csp = h["content-security-policy"].to_str().unwrap();
        for want in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(want), "{what}: CSP {csp:?} lacks {want}");
        }
        assert!(!csp.contains("unsafe"), "{what}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
    };
    let page = api.http.get(format!("{}/", api.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    check("the page", page.headers());
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
    assert!(html.contains(r#"href="/assets/app.css""#));
    assert!(
        !html.contains("<style") && !html.contains(" style=") && !html.contains("<script>"),
        "no inline script or style"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "same origin only"
    );
    for (file, ct) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = api
            .http
            .get(format!("{}/assets/{file}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ct));
        check(file, r.headers());
    }
    let (status, body) = api.call("GET", "/assets/../Cargo.toml", None, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.call("GET", "/assets/nope.js", None, None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    for (path, key) in [
        (format!("/api/tenants/{NORDLYS}"), None),
        (
            format!("/api/tenants/{NORDLYS}"),
            Some(api.nordlys_key.as_str()),
        ),
        ("/nowhere".to_owned(), None),
    ] {
        let mut req = api.http.get(format!("{}{path}", api.base));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let r = req.send().await.unwrap();
        check(&path, r.headers());
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
}
