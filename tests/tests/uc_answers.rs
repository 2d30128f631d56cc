//! Hostile or broken UC / Entra answers end to end (SPEC §6, billing integrity rules): real
//! HTTP to the stand-in, on the embedded store and on DynamoDB Local.
//!
//! * Redirects are never followed: a 3xx to the invoice POST is pending (GET before any
//!   re-post), a 3xx to the GET leaves the question open, a 3xx from Entra is transient and
//!   the client secret never goes anywhere else.
//! * `Retry-After` (seconds or HTTP-date) is honoured up to one hour; larger or broken values
//!   count as one hour; nothing in an answer can crash a sweep or stop it serving others.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::delivery::record::DeliveryState;
use ucc_shared::delivery::status::{self, Connection};
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_standins::uc::{Fault, RecordedRequest, Route, REDIRECT_TARGET_PATH};
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::NORDLYS;

const HOUR: Duration = Duration::from_secs(3600);

fn nordlys() -> Gln {
    Gln::parse(NORDLYS).unwrap()
}

/// How long until the record's next attempt, by the environment's clock.
async fn wait_of(env: &Env, tx: &str) -> chrono::Duration {
    let r = rec(env.store.as_ref(), tx).await;
    assert_eq!(r.state, DeliveryState::Pending, "{tx}: {r:?}");
    r.next_attempt_at.expect("scheduled") - env.d.ctx.now()
}

/// The UC calls made for one transaction, as `METHOD status`.
fn calls_for(env: &Env, tx: &str) -> Vec<String> {
    env.standin
        .requests()
        .iter()
        .filter(|r| r.transaction_id.as_deref() == Some(tx))
        .map(|r| format!("{} {}", r.method, r.status))
        .collect()
}

fn assert_never_followed(env: &Env) {
    let hits: Vec<RecordedRequest> = env.standin.redirect_target_hits();
    assert!(
        hits.is_empty(),
        "a redirect was followed to {REDIRECT_TARGET_PATH}: {hits:?}"
    );
    assert_eq!(
        env.standin.secret_sent_elsewhere(),
        0,
        "the client secret went somewhere other than the token endpoint"
    );
}

fn assert_clean(env: &Env) {
    assert_eq!(env.standin.schema_violations(), Vec::<String>::new());
    assert_eq!(
        env.standin.duplicate_posts(),
        0,
        "UC never saw a second POST of an accepted id"
    );
}

ucc_tests::store_tests!(
    a_302_on_the_invoice_post_is_pending_and_never_followed,
    every_redirect_status_on_the_post_is_pending_and_never_followed,
    a_redirect_on_the_get_leaves_the_question_open,
    a_307_from_entra_is_transient_and_the_secret_goes_nowhere_else,
    a_huge_retry_after_counts_as_one_hour_and_nothing_panics,
    retry_after_values_are_honoured_up_to_one_hour,
    a_sweep_still_serves_the_next_record_after_a_huge_retry_after,
    an_absurd_token_lifetime_from_entra_cannot_crash_delivery,
);

async fn a_302_on_the_invoice_post_is_pending_and_never_followed(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin
        .push_fault(Route::PostTransaction, Fault::Redirect(302));
    let h = env
        .send(&session("9601", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(
        matches!(h.outcome, SessionOutcome::Pending { .. }),
        "a 302 is not a delivery: {h:?}"
    );
    assert_never_followed(&env);
    let r = rec(store.as_ref(), "9601").await;
    assert_eq!(
        (r.state, r.in_flight, r.last_status),
        (DeliveryState::Pending, true, Some(302)),
        "a 3xx is ambiguous like a 5xx: GET before any re-post"
    );
    assert!(env.standin.accepted_transactions().is_empty());

    let report = env.sweep_after(HOUR).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(
        rec(store.as_ref(), "9601").await.state,
        DeliveryState::Delivered
    );
    assert_eq!(
        calls_for(&env, "9601"),
        vec!["POST 302", "GET 404", "POST 201"],
        "GET first, then POST"
    );
    assert_eq!(env.standin.accepted_transactions().len(), 1, "exactly once");
    assert_never_followed(&env);
    assert_clean(&env);
}

async fn every_redirect_status_on_the_post_is_pending_and_never_followed(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let codes = [301u16, 302, 303, 307, 308];
    for (i, code) in codes.iter().enumerate() {
        let tx = format!("961{i}");
        env.standin
            .push_fault(Route::PostTransaction, Fault::Redirect(*code));
        env.clock.advance(Duration::from_secs(1));
        let h = env.send(&session(&tx, COSTED_CUSTOMER, RFID, None)).await;
        assert!(
            matches!(h.outcome, SessionOutcome::Pending { .. }),
            "{code}: {h:?}"
        );
        let r = rec(store.as_ref(), &tx).await;
        assert_eq!(
            (r.state, r.in_flight, r.last_status),
            (DeliveryState::Pending, true, Some(*code)),
            "{code}"
        );
    }
    assert_never_followed(&env);
    assert!(env.standin.accepted_transactions().is_empty());
    let report = env.sweep_after(HOUR).await;
    assert_eq!(report.delivered, codes.len(), "{report:?}");
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(
            calls_for(&env, &format!("961{i}")),
            vec![format!("POST {code}"), "GET 404".into(), "POST 201".into()]
        );
    }
    assert_never_followed(&env);
    assert_clean(&env);
}

async fn a_redirect_on_the_get_leaves_the_question_open(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin
        .push_fault(Route::PostTransaction, Fault::Status(503));
    env.send(&session("9620", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(rec(store.as_ref(), "9620").await.in_flight);
    // The lookup is redirected to a target answering 200: following it would call the
    // transaction delivered although UC never stored it.
    env.standin
        .push_fault(Route::GetTransaction, Fault::Redirect(302));
    let report = env.sweep_after(HOUR).await;
    assert_eq!(report.delivered, 0, "{report:?}");
    let r = rec(store.as_ref(), "9620").await;
    assert_eq!(
        (r.state, r.in_flight, r.last_status),
        (DeliveryState::Pending, true, Some(302)),
        "still unknown whether UC has it: ask again next time"
    );
    assert_never_followed(&env);
    let report = env.sweep_after(HOUR).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(
        calls_for(&env, "9620"),
        vec!["POST 503", "GET 302", "GET 404", "POST 201"]
    );
    assert_clean(&env);
}

async fn a_307_from_entra_is_transient_and_the_secret_goes_nowhere_else(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    for (tx, code) in [("9630", 307u16), ("9631", 308), ("9632", 302)] {
        env.d.tokens.invalidate(&nordlys()).await;
        env.standin.push_fault(Route::Token, Fault::Redirect(code));
        let h = env.send(&session(tx, COSTED_CUSTOMER, RFID, None)).await;
        assert!(
            matches!(h.outcome, SessionOutcome::Pending { .. }),
            "{code}: {h:?}"
        );
        assert_never_followed(&env);
        let r = rec(store.as_ref(), tx).await;
        assert!(
            !r.waiting_for_auth && !r.in_flight,
            "{code}: transient, nothing posted: {r:?}"
        );
        assert_eq!(
            status::get(store.as_ref(), &nordlys())
                .await
                .unwrap()
                .status,
            Connection::Ok,
            "{code}: a redirect is not a refused credential"
        );
    }
    assert!(env.standin.accepted_transactions().is_empty());
    let report = env.sweep_after(HOUR).await;
    assert_eq!(report.delivered, 3, "{report:?}");
    assert_never_followed(&env);
    assert_clean(&env);
}

async fn a_huge_retry_after_counts_as_one_hour_and_nothing_panics(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    env.standin.push_fault(
        Route::PostTransaction,
        Fault::RetryAfter {
            status: 429,
            value: "99999999999999".into(),
        },
    );
    let h = env
        .send(&session("9640", COSTED_CUSTOMER, RFID, None))
        .await;
    assert!(matches!(h.outcome, SessionOutcome::Pending { .. }), "{h:?}");
    let wait = wait_of(&env, "9640").await;
    assert!(
        wait <= chrono::Duration::hours(1) && wait >= chrono::Duration::minutes(59),
        "a Retry-After above an hour counts as an hour: {wait}"
    );
    assert!(!rec(store.as_ref(), "9640").await.in_flight);
    assert_eq!(
        env.sweep_after(Duration::from_secs(59 * 60))
            .await
            .delivered,
        0
    );
    let report = env.sweep_after(Duration::from_secs(61)).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(calls_for(&env, "9640"), vec!["POST 429", "POST 201"]);
    assert_eq!(env.standin.accepted_transactions().len(), 1);
    assert_clean(&env);
}

async fn retry_after_values_are_honoured_up_to_one_hour(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    let http_date = |d: chrono::Duration| {
        (env.d.ctx.now() + d)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    };
    let secs = chrono::Duration::seconds;
    // The first backoff is 15..30 s (30 s with jitter); Retry-After is a floor above it.
    let cases: Vec<(&str, String, chrono::Duration, chrono::Duration)> = vec![
        ("9650", "-5".into(), secs(3600), secs(3600)),
        ("9651", "abc".into(), secs(3600), secs(3600)),
        ("9652", "".into(), secs(3600), secs(3600)),
        ("9653", "600".into(), secs(600), secs(600)),
        ("9654", "3601".into(), secs(3600), secs(3600)),
        ("9655", http_date(secs(60)), secs(59), secs(60)),
        (
            "9656",
            "Fri, 31 Dec 9999 23:59:59 GMT".into(),
            secs(3600),
            secs(3600),
        ),
        ("9657", http_date(-secs(600)), secs(15), secs(30)),
        (
            "9658",
            "Sun, 06 Nov 1994 08:49:37 GMT".into(),
            secs(15),
            secs(30),
        ),
        (
            "9659",
            "18446744073709551616".into(),
            secs(3600),
            secs(3600),
        ),
    ];
    for (tx, value, min, max) in &cases {
        env.standin.push_fault(
            Route::PostTransaction,
            Fault::RetryAfter {
                status: 429,
                value: value.clone(),
            },
        );
        env.send(&session(tx, COSTED_CUSTOMER, RFID, None)).await;
        let wait = wait_of(&env, tx).await;
        assert!(
            *min <= wait && wait <= *max,
            "Retry-After {value:?}: next attempt in {wait}, expected {min}..={max}"
        );
    }
    let report = env.sweep_after(HOUR + Duration::from_secs(1)).await;
    assert_eq!(report.delivered, cases.len(), "{report:?}");
    assert_eq!(env.standin.accepted_transactions().len(), cases.len());
    assert_clean(&env);
}

async fn a_sweep_still_serves_the_next_record_after_a_huge_retry_after(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    for tx in ["9660", "9661"] {
        env.standin
            .push_fault(Route::PostTransaction, Fault::Status(503));
        env.clock.advance(Duration::from_secs(1));
        env.send(&session(tx, COSTED_CUSTOMER, RFID, None)).await;
    }
    // The sweep takes 9660 first (created first): its re-post gets the huge Retry-After.
    env.standin.push_fault(
        Route::PostTransaction,
        Fault::RetryAfter {
            status: 429,
            value: "99999999999999".into(),
        },
    );
    let report = env.sweep_after(HOUR).await;
    assert_eq!((report.delivered, report.pending), (1, 1), "{report:?}");
    assert_eq!(
        rec(store.as_ref(), "9661").await.state,
        DeliveryState::Delivered
    );
    let wait = wait_of(&env, "9660").await;
    assert!(wait <= chrono::Duration::hours(1), "{wait}");
    let report = env.sweep_after(HOUR).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(
        calls_for(&env, "9660"),
        vec!["POST 503", "GET 404", "POST 429", "POST 201"]
    );
    assert_eq!(env.standin.accepted_transactions().len(), 2, "each once");
    assert_clean(&env);
}

async fn an_absurd_token_lifetime_from_entra_cannot_crash_delivery(store: Arc<dyn Store>) {
    let env = Env::new(store.clone()).await;
    // Not a token this Entra issued: UC answers 401 and the connector fetches a fresh one.
    let body: serde_json::Value = serde_json::from_str(
        r#"{"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"not-issued"}"#,
    )
    .unwrap();
    env.standin
        .push_fault(Route::Token, Fault::Answer { status: 200, body });
    let h = env
        .send(&session("9670", COSTED_CUSTOMER, RFID, None))
        .await;
    assert_eq!(h.outcome, SessionOutcome::Delivered, "{h:?}");
    assert_eq!(calls_for(&env, "9670"), vec!["POST 401", "POST 201"]);
    assert_eq!(env.standin.token_requests(), 2);
    assert_clean(&env);
}
