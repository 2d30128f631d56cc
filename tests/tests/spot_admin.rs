//! `GET /api/spot/{area}/{day}` (SPEC §13) over loopback HTTP: the day as `ucc spot show
//! --json` reports it, for any valid key; 401 without one; 422 naming a bad field.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod admin_common;

use std::sync::Arc;

use admin_common::{Api, PLATFORM_KEY};
use ucc_shared::spot::{parse_a44, store as spot_store};
use ucc_shared::store::Store;

ucc_tests::store_tests!(spot_day_is_served_to_any_valid_key);

async fn spot_day_is_served_to_any_valid_key(store: Arc<dyn Store>) {
    let api = Api::start(store.clone()).await;
    let doc = parse_a44(include_str!(
        "../../examples/nordlys/spot/a44-2026-10-25.xml"
    ))
    .unwrap();
    spot_store::put_document(store.as_ref(), &doc, chrono::Utc::now())
        .await
        .unwrap();
    let path = "/api/spot/NO1/2026-10-25";
    for key in [PLATFORM_KEY, api.nordlys_key.as_str()] {
        let (status, body) = api.call("GET", path, Some(key), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expectedIntervals"], 100);
        assert_eq!(body["storedIntervals"], 100);
        assert_eq!(body["complete"], true);
        assert_eq!(body["intervals"][12]["eurMwh"], "-2.35");
        assert_eq!(body["intervals"][12]["start"], "2026-10-25T01:00:00Z");
    }
    let (status, _) = api.call("GET", path, None, None).await;
    assert_eq!(status, 401);
    let (status, _) = api.call("GET", path, Some("wrong"), None).await;
    assert_eq!(status, 401);
    let (status, body) = api
        .call("GET", "/api/spot/NO9/2026-10-25", Some(PLATFORM_KEY), None)
        .await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("area"), "{body}");
    let (status, body) = api
        .call("GET", "/api/spot/NO1/25.10.2026", Some(PLATFORM_KEY), None)
        .await;
    assert_eq!(status, 422);
    assert!(body.to_string().contains("day"), "{body}");
    // A day not imported: empty, incomplete, 96 expected.
    let (status, body) = api
        .call("GET", "/api/spot/NO1/2026-10-27", Some(PLATFORM_KEY), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expectedIntervals"], 96);
    assert_eq!(body["complete"], false);
}
