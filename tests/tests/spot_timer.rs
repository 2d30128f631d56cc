//! The `spot-prices` timer (SPEC §13) against the loopback ENTSO-E/ECB stand-in
//! (`ucc_standins::entsoe`), on every store: nothing before 13:00 CET, then a correctly
//! formed A44 request per area until the whole day is stored, an alarm from 18:00 CET while
//! it is missing, the ECB rates alongside, and the token never in a report or error.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use ucc_shared::context::Ctx;
use ucc_shared::spot::fetch::{run, FetchConfig};
use ucc_shared::spot::{store as spot_store, Area};
use ucc_shared::store::Store;
use ucc_standins::entsoe::EntsoeStandIn;
use ucc_tests::delivery_env::ManualClock;
use ucc_tests::fixtures::put_tenant;

const TOKEN: &str = "entsoe-token-0f1e2d3c-SECRET";
const A44: &str = include_str!("../../examples/nordlys/spot/a44-2026-10-25.xml");
const ECB: &str = include_str!("../../examples/nordlys/spot/ecb-2026-10-23.xml");

ucc_tests::store_tests!(the_timer_fetches_tomorrow_until_complete_and_alarms_at_18);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn the_timer_fetches_tomorrow_until_complete_and_alarms_at_18(store: Arc<dyn Store>) {
    let standin = EntsoeStandIn::start(TOKEN).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("entsoe-token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let tenant: serde_json::Value = serde_json::from_str(include_str!(
        "../../examples/nordlys/spot/tenant-fjordlys-spot.json"
    ))
    .unwrap();
    put_tenant(store.as_ref(), &tenant).await;
    let clock = Arc::new(ManualClock::at(at("2026-10-24T10:00:00Z")));
    let mut ctx = Ctx::new(store.clone());
    ctx.clock = clock.clone();
    let cfg = FetchConfig {
        entsoe_url: standin.api_url(),
        ecb_url: standin.ecb_url(),
        token_ref: Some(format!("file:{}", token_file.display())),
        timeout: Duration::from_secs(5),
    };

    // 12:00 CEST: too early, nothing asked.
    let r = run(&ctx, &cfg).await.unwrap();
    assert_eq!(r.day, None);
    assert!(standin.requests().is_empty());

    // 13:30 CEST: asks for tomorrow (a 25-hour day), not published yet: incomplete, no alarm.
    clock.advance(Duration::from_secs(90 * 60));
    let r = run(&ctx, &cfg).await.unwrap();
    assert_eq!(r.day.as_deref(), Some("2026-10-25"));
    assert_eq!(r.areas, vec!["NO1"]);
    assert_eq!(r.incomplete.len(), 1, "{r:?}");
    assert!(!r.alarm);
    assert_eq!(
        standin.requests(),
        vec!["documentType=A44&in_Domain=10YNO-1--------2&out_Domain=10YNO-1--------2&periodEnd=202610252300&periodStart=202610242200&securityToken=***"]
    );

    // 18:05 CEST and still missing: the alarm.
    clock.advance(Duration::from_secs(4 * 3600 + 35 * 60));
    let r = run(&ctx, &cfg).await.unwrap();
    assert!(r.alarm, "{r:?}");
    assert!(!json!(r).to_string().contains(TOKEN));

    // Published: stored whole, rates too, no alarm; the next run asks nothing more.
    standin.publish("10YNO-1--------2", "202610242200", A44);
    standin.publish_ecb(ECB);
    let r = run(&ctx, &cfg).await.unwrap();
    assert_eq!(r.complete, vec!["NO1"]);
    assert!(r.incomplete.is_empty() && !r.alarm, "{r:?}");
    assert_eq!(r.rates_stored, 8);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    let shown = spot_store::day_report(store.as_ref(), Area::No1, day)
        .await
        .unwrap();
    assert!(shown.complete);
    let asked = standin.requests().len();
    run(&ctx, &cfg).await.unwrap();
    assert_eq!(
        standin.requests().len(),
        asked,
        "a complete day is not fetched again"
    );

    // A wrong token: ENTSO-E's 401 is reported, the token in no message.
    std::fs::write(&token_file, "wrong-token-value-XYZ").unwrap();
    clock.advance(Duration::from_secs(24 * 3600));
    ucc_shared::uc::secrets::invalidate(cfg.token_ref.as_deref().unwrap());
    let r = run(&ctx, &cfg).await.unwrap();
    let text = json!(r).to_string();
    assert!(text.contains("401"), "{text}");
    assert!(
        !text.contains("wrong-token-value-XYZ") && !text.contains(TOKEN),
        "{text}"
    );
}
