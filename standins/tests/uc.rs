//! The UC + Entra stand-in over real HTTP, driven with reqwest as the connector drives it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use ucc_shared::delivery::meter_series::{build_meter_series, Resolution};
use ucc_shared::session::{MeterValue, SessionCompleted};
use ucc_shared::uc::payload::TransactionPayload;
use ucc_standins::uc::{
    Fault, Route, StandIn, StandInConfig, METER_VALUES_PATH, REDIRECT_TARGET_PATH, TRANSACTION_PATH,
};

const SPEC_EXAMPLE: &str = r#"{
  "transactionId": "88812345",
  "transactionOwnerId": "707057500012345678",
  "siteId": 1042,
  "authorizedTag": "v:7K2M9QXR4T8B3N5P",
  "authorizedTagName": "Kari sin brikke",
  "timestampStart": "2026-11-20T16:42:10Z",
  "timestampEnd": "2026-11-20T21:03:55Z",
  "fullConsumptionKWh": 22.750,
  "currency": "NOK",
  "vatPercent": 25,
  "totalCostInclVat": 56.88,
  "totalCostExclVat": 45.50,
  "totalVat": 11.38,
  "creditReferenceTransactionId": null,
  "revenueShareId": 5501
}"#;

fn example(id: &str) -> Value {
    let mut v: Value = serde_json::from_str(SPEC_EXAMPLE).unwrap();
    v["transactionId"] = json!(id);
    v
}

fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn start() -> StandIn {
    StandIn::start(StandInConfig::default()).await.unwrap()
}

async fn token_with(s: &StandIn, http: &reqwest::Client, secret: &str) -> reqwest::Response {
    http.post(s.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ucc-standin-client"),
            ("client_secret", secret),
            ("scope", "api://utility-cloud/.default"),
        ])
        .send()
        .await
        .unwrap()
}

async fn token(s: &StandIn, http: &reqwest::Client) -> String {
    let resp = token_with(s, http, "ucc-standin-secret").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Status and JSON body (`null` when there is none) of one request.
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post_tx(
    s: &StandIn,
    http: &reqwest::Client,
    bearer: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let url = format!("{}{TRANSACTION_PATH}", s.base_url());
    send(http.post(url).bearer_auth(bearer).json(body)).await
}

async fn get_tx(
    s: &StandIn,
    http: &reqwest::Client,
    bearer: &str,
    id: &str,
) -> (StatusCode, Value) {
    let url = format!("{}{TRANSACTION_PATH}/{id}", s.base_url());
    send(http.get(url).bearer_auth(bearer)).await
}

async fn post_mv(
    s: &StandIn,
    http: &reqwest::Client,
    bearer: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let url = format!("{}{METER_VALUES_PATH}", s.base_url());
    send(http.post(url).bearer_auth(bearer).json(body)).await
}

#[tokio::test]
async fn token_then_post_then_get() {
    let s = start().await;
    let http = client();
    let resp = token_with(&s, &http, "ucc-standin-secret").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let bearer = body["access_token"].as_str().unwrap().to_owned();
    assert!(bearer.len() >= 32);

    let (status, echoed) = post_tx(&s, &http, &bearer, &example("88812345")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(echoed, example("88812345"));
    assert_eq!(s.accepted_transactions(), vec![example("88812345")]);
    // Exact decimals survive: UC keeps what was sent, digit for digit.
    assert_eq!(
        s.accepted_transactions()[0]["fullConsumptionKWh"].to_string(),
        "22.750"
    );

    let (status, got) = get_tx(&s, &http, &bearer, "88812345").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, example("88812345"));
    let (status, _) = get_tx(&s, &http, &bearer, "nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(s.token_requests(), 1);
    assert_eq!(s.post_attempts("88812345"), 1);
    assert_eq!(s.duplicate_posts(), 0);
    assert!(s.schema_violations().is_empty());
    let reqs = s.requests();
    let shape: Vec<(String, u16, bool, Option<String>)> = reqs
        .iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.path),
                r.status,
                r.had_bearer,
                r.transaction_id.clone(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (
                "POST /ucc-standin-tenant/oauth2/v2.0/token".into(),
                200,
                false,
                None
            ),
            (
                format!("POST {TRANSACTION_PATH}"),
                201,
                true,
                Some("88812345".into())
            ),
            (
                format!("GET {TRANSACTION_PATH}/88812345"),
                200,
                true,
                Some("88812345".into())
            ),
            (
                format!("GET {TRANSACTION_PATH}/nope"),
                404,
                true,
                Some("nope".into())
            ),
        ]
    );
    for r in &reqs {
        assert!(!r.body.contains("ucc-standin-secret"), "{}", r.body);
        assert!(!r.body.contains(&bearer));
    }
    assert!(reqs[0].body.contains("client_secret=[redacted]"));
}

#[tokio::test]
async fn entra_refuses_bad_credentials_like_entra() {
    let s = StandIn::start(StandInConfig {
        scope: Some("api://utility-cloud/.default".into()),
        ..StandInConfig::default()
    })
    .await
    .unwrap();
    let http = client();

    let resp = token_with(&s, &http, "wrong").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215: Invalid client secret provided."));
    assert!(!body.to_string().contains("wrong"));

    let resp = http
        .post(s.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "someone-else"),
            ("client_secret", "ucc-standin-secret"),
            ("scope", "api://utility-cloud/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let resp = http
        .post(s.token_url())
        .form(&[("client_id", "ucc-standin-client")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    let resp = http
        .post(s.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ucc-standin-client"),
            ("client_secret", "ucc-standin-secret"),
            ("scope", "api://other/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );

    // Secret rotation: the old one stops working, the new one works.
    s.set_client_secret("rotated");
    assert_eq!(
        token_with(&s, &http, "ucc-standin-secret").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token_with(&s, &http, "rotated").await.status(),
        StatusCode::OK
    );
    assert_eq!(s.token_requests(), 6);
    assert!(s
        .requests()
        .iter()
        .all(|r| !r.body.contains("rotated") && !r.body.contains("ucc-standin-secret")));
}

#[tokio::test]
async fn uc_needs_a_valid_unexpired_token() {
    let s = start().await;
    let http = client();
    let body = example("1");

    let resp = http
        .post(format!("{}{TRANSACTION_PATH}", s.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    assert_eq!(
        post_tx(&s, &http, "forged", &body).await.0,
        StatusCode::UNAUTHORIZED
    );

    let bearer = token(&s, &http).await;
    s.expire_tokens();
    assert_eq!(
        post_tx(&s, &http, &bearer, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_tx(&s, &http, &bearer, "1").await.0,
        StatusCode::UNAUTHORIZED
    );

    let bearer = token(&s, &http).await;
    s.set_unauthorized(true);
    assert_eq!(
        post_tx(&s, &http, &bearer, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_mv(&s, &http, &bearer, &json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The 401 window is UC's; Entra still issues tokens.
    let fresh = token(&s, &http).await;
    assert_eq!(
        post_tx(&s, &http, &fresh, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    s.set_unauthorized(false);
    assert_eq!(
        post_tx(&s, &http, &fresh, &body).await.0,
        StatusCode::CREATED
    );
    assert_eq!(s.post_attempts("1"), 6);
    assert_eq!(s.accepted_transactions().len(), 1);
    let unauthorized = s.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorized, 7);
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let s = StandIn::start(StandInConfig {
        token_lifetime_secs: 0,
        ..StandInConfig::default()
    })
    .await
    .unwrap();
    let http = client();
    let resp = token_with(&s, &http, "ucc-standin-secret").await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 0);
    let bearer = body["access_token"].as_str().unwrap();
    assert_eq!(
        post_tx(&s, &http, bearer, &example("1")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bodies_outside_the_schema_are_refused_with_the_reasons() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;

    let mut old_names = example("old");
    old_names["MeteringPointId"] = json!("707057500012345678");
    let (status, body) = post_tx(&s, &http, &bearer, &old_names).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let violations = body["violations"].as_array().unwrap();
    assert!(violations
        .iter()
        .any(|v| v.as_str().unwrap().contains("MeteringPointId")));

    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut v = example("fraction-of-cent");
    v["totalVat"] = number("11.385");
    cases.push(("/totalVat", v));
    let mut v = example("kwh-4dp");
    v["fullConsumptionKWh"] = number("22.7501");
    cases.push(("/fullConsumptionKWh", v));
    let mut v = example("no-owner");
    v.as_object_mut().unwrap().remove("transactionOwnerId");
    cases.push(("transactionOwnerId", v));
    let mut v = example("lower-currency");
    v["currency"] = json!("nok");
    cases.push(("/currency", v));
    let mut v = example("offset-time");
    v["timestampStart"] = json!("2026-11-20T17:42:10+01:00");
    cases.push(("/timestampStart", v));
    let mut v = example("money-as-string");
    v["totalCostInclVat"] = json!("56.88");
    cases.push(("/totalCostInclVat", v));
    let mut v = example("site-below-minus-one");
    v["siteId"] = json!(-2);
    cases.push(("/siteId", v));
    let mut v = example("incl-not-excl-plus-vat");
    v["totalCostInclVat"] = number("56.89");
    cases.push(("/totalCostInclVat", v));
    let mut v = example("end-before-start");
    v["timestampEnd"] = json!("2026-11-20T16:00:00Z");
    cases.push(("/timestampEnd", v));

    for (path, body) in &cases {
        let (status, answer) = post_tx(&s, &http, &bearer, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(answer.to_string().contains(path), "{path}: {answer}");
    }
    let resp = http
        .post(format!("{}{TRANSACTION_PATH}", s.base_url()))
        .bearer_auth(&bearer)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let recorded = s.schema_violations();
    assert_eq!(recorded.len(), cases.len() + 2);
    assert!(recorded[0].contains("MeteringPointId"), "{}", recorded[0]);
    assert!(recorded[1].contains("fraction-of-cent"), "{}", recorded[1]);
    assert!(s.accepted_transactions().is_empty());

    // Optional fields may be null or absent; exact decimals that f64 would misjudge pass.
    let mut v = example("minimal");
    v["authorizedTagName"] = Value::Null;
    v.as_object_mut().unwrap().remove("revenueShareId");
    v["totalCostInclVat"] = number("0.07");
    v["totalCostExclVat"] = number("0.06");
    v["totalVat"] = number("0.01");
    v["siteId"] = json!(-1);
    assert_eq!(post_tx(&s, &http, &bearer, &v).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_second_post_of_an_accepted_id_is_a_conflict() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    assert_eq!(
        post_tx(&s, &http, &bearer, &example("7")).await.0,
        StatusCode::CREATED
    );
    let (status, body) = post_tx(&s, &http, &bearer, &example("7")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "duplicate");
    assert_eq!(s.duplicate_posts(), 1);
    assert_eq!(s.post_attempts("7"), 2);
    assert_eq!(s.accepted_transactions().len(), 1);
}

#[tokio::test]
async fn credits_must_fully_reverse_a_delivered_transaction_once() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    let original: TransactionPayload = serde_json::from_value(example("500")).unwrap();
    let credit = serde_json::to_value(original.credit("500-C1".into())).unwrap();

    // Not delivered yet.
    let (status, body) = post_tx(&s, &http, &bearer, &credit).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    assert_eq!(
        post_tx(
            &s,
            &http,
            &bearer,
            &serde_json::to_value(&original).unwrap()
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let mut partial = credit.clone();
    partial["totalCostInclVat"] = number("-50.00");
    partial["totalVat"] = number("-4.50");
    let (status, body) = post_tx(&s, &http, &bearer, &partial).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("totalCostInclVat"));

    let (status, echoed) = post_tx(&s, &http, &bearer, &credit).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(echoed["totalCostInclVat"].to_string(), "-56.88");
    assert_eq!(echoed["fullConsumptionKWh"].to_string(), "-22.750");

    let mut again = credit.clone();
    again["transactionId"] = json!("500-C2");
    let (status, body) = post_tx(&s, &http, &bearer, &again).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("500-C1"));
    assert_eq!(s.accepted_transactions().len(), 2);
}

#[tokio::test]
async fn status_and_429_faults_are_one_shot_and_in_order() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    s.push_fault(Route::PostTransaction, Fault::Status(503));
    s.push_fault(
        Route::PostTransaction,
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
    );
    s.push_fault(Route::PostTransaction, Fault::Status(400));
    s.push_fault(Route::GetTransaction, Fault::Status(502));
    assert_eq!(s.pending_faults(Route::PostTransaction), 3);

    let body = example("42");
    assert_eq!(
        post_tx(&s, &http, &bearer, &body).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let resp = http
        .post(format!("{}{TRANSACTION_PATH}", s.base_url()))
        .bearer_auth(&bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(
        post_tx(&s, &http, &bearer, &body).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get_tx(&s, &http, &bearer, "42").await.0,
        StatusCode::BAD_GATEWAY
    );
    assert!(s.accepted_transactions().is_empty());
    assert_eq!(
        get_tx(&s, &http, &bearer, "42").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_tx(&s, &http, &bearer, &body).await.0,
        StatusCode::CREATED
    );
    assert_eq!(s.post_attempts("42"), 4);
    assert_eq!(s.pending_faults(Route::PostTransaction), 0);
    // An injected 400 is not a schema violation.
    assert!(s.schema_violations().is_empty());
}

#[tokio::test]
async fn raw_retry_after_and_redirect_faults() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    s.push_fault(
        Route::PostTransaction,
        Fault::RetryAfter {
            status: 429,
            value: "99999999999999".into(),
        },
    );
    s.push_fault(
        Route::GetTransaction,
        Fault::RetryAfter {
            status: 503,
            value: "Sun, 06 Nov 1994 08:49:37 GMT".into(),
        },
    );
    let resp = http
        .post(format!("{}{TRANSACTION_PATH}", s.base_url()))
        .bearer_auth(&bearer)
        .json(&example("43"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "99999999999999");
    let resp = http
        .get(format!("{}{TRANSACTION_PATH}/43", s.base_url()))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        resp.headers()["retry-after"],
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );

    // A redirect names a target on the stand-in that answers 200 to whoever follows it.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    s.push_fault(Route::PostTransaction, Fault::Redirect(302));
    let resp = no_follow
        .post(format!("{}{TRANSACTION_PATH}", s.base_url()))
        .bearer_auth(&bearer)
        .json(&example("43"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}{REDIRECT_TARGET_PATH}{TRANSACTION_PATH}", s.base_url())
    );
    assert!(s.redirect_target_hits().is_empty());
    // A client that follows a 307 re-sends the token form, secret included, to the target.
    s.push_fault(Route::Token, Fault::Redirect(307));
    let resp = token_with(&s, &http, "ucc-standin-secret").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let hits = s.redirect_target_hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].method, "POST");
    assert!(
        !hits[0].body.contains("ucc-standin-secret"),
        "kept redacted: {}",
        hits[0].body
    );
    assert_eq!(s.secret_sent_elsewhere(), 1);
    assert!(s.accepted_transactions().is_empty());
    assert_eq!(s.pending_faults(Route::Token), 0);
}

#[tokio::test]
async fn token_route_faults() {
    let s = start().await;
    let http = client();
    s.push_fault(Route::Token, Fault::Status(500));
    s.push_fault(Route::Token, Fault::Status(401));
    let resp = token_with(&s, &http, "ucc-standin-secret").await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let resp = token_with(&s, &http, "ucc-standin-secret").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));
    token(&s, &http).await;
    assert_eq!(s.token_requests(), 3);
}

#[tokio::test]
async fn accept_then_stall_is_the_ambiguous_case() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    s.push_fault(
        Route::PostTransaction,
        Fault::AcceptThenStall(Duration::from_millis(1500)),
    );
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .post(format!("{}{TRANSACTION_PATH}", s.base_url()))
        .bearer_auth(&bearer)
        .json(&example("9"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // UC has it although the client never heard so; the GET settles it.
    assert_eq!(s.accepted_transactions(), vec![example("9")]);
    let (status, got) = get_tx(&s, &http, &bearer, "9").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, example("9"));
    let pending = s
        .requests()
        .into_iter()
        .find(|r| r.transaction_id.as_deref() == Some("9") && r.method == "POST")
        .unwrap();
    assert_eq!(pending.status, 0, "answer still held");
    s.wait_until(|s| s.requests().iter().all(|r| r.status != 0))
        .await;
    let answered = s
        .requests()
        .into_iter()
        .find(|r| r.transaction_id.as_deref() == Some("9") && r.method == "POST")
        .unwrap();
    assert_eq!(answered.status, 201);
    // Re-posting blindly would be the bug the GET exists to prevent.
    assert_eq!(
        post_tx(&s, &http, &bearer, &example("9")).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(s.duplicate_posts(), 1);
}

#[tokio::test]
async fn a_patient_client_gets_the_answer_after_accept_then_stall() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    s.push_fault(
        Route::PostTransaction,
        Fault::AcceptThenStall(Duration::from_millis(300)),
    );
    let t = Instant::now();
    assert_eq!(
        post_tx(&s, &http, &bearer, &example("10")).await.0,
        StatusCode::CREATED
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_stall_accepts_nothing_and_blocks_no_one_else() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    s.push_fault(Route::PostTransaction, Fault::Stall(Duration::from_secs(3)));

    let stalled = {
        let http = http.clone();
        let url = format!("{}{TRANSACTION_PATH}", s.base_url());
        let bearer = bearer.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let resp = http
                .post(url)
                .bearer_auth(bearer)
                .json(&example("11"))
                .send()
                .await
                .unwrap();
            (resp.status(), t.elapsed())
        })
    };
    // Let the stalled request arrive and take its fault first.
    s.wait_until(|s| s.post_attempts("11") > 0).await;
    let t = Instant::now();
    assert_eq!(
        post_tx(&s, &http, &bearer, &example("12")).await.0,
        StatusCode::CREATED
    );
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(s.accepted_transactions(), vec![example("12")]);

    let (status, waited) = stalled.await.unwrap();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(waited >= Duration::from_secs(3));
    assert_eq!(
        get_tx(&s, &http, &bearer, "11").await.0,
        StatusCode::NOT_FOUND
    );
}

fn spec_series() -> Value {
    json!({
        "AccountingPointIdentifier": "707057500012345678",
        "TransactionId": "88812345",
        "Start": "2026-11-20T16:42:10Z",
        "End": "2026-11-20T18:03:55Z",
        "Unit": "kWh",
        "Resolution": "PT60M",
        "Values": [
            { "From": "2026-11-20T16:42:10Z", "To": "2026-11-20T17:00:00Z", "Quantity": number("2.210") },
            { "From": "2026-11-20T17:00:00Z", "To": "2026-11-20T18:00:00Z", "Quantity": number("7.400") },
            { "From": "2026-11-20T18:00:00Z", "To": "2026-11-20T18:03:55Z", "Quantity": number("0.390") }
        ]
    })
}

#[tokio::test]
async fn meter_value_series_are_checked_and_kept() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    let (status, echoed) = post_mv(&s, &http, &bearer, &spec_series()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(echoed, spec_series());
    assert_eq!(s.accepted_meter_series(), vec![spec_series()]);
    assert_eq!(s.meter_series("88812345"), Some(spec_series()));
    assert_eq!(s.meter_series("other"), None);
    assert_eq!(
        post_mv(&s, &http, &bearer, &spec_series()).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(s.duplicate_posts(), 1);
    assert_eq!(s.post_attempts("88812345"), 2);

    type Mutation = Box<dyn Fn(&mut Value)>;
    let bad: Vec<(&str, Mutation)> = vec![
        (
            "'currency' was unexpected",
            Box::new(|v: &mut Value| v["currency"] = json!("NOK")),
        ),
        (
            "'siteId' was unexpected",
            Box::new(|v: &mut Value| v["siteId"] = json!(1042)),
        ),
        ("/Unit", Box::new(|v: &mut Value| v["Unit"] = json!("Wh"))),
        (
            "/Resolution",
            Box::new(|v: &mut Value| v["Resolution"] = json!("PT30M")),
        ),
        (
            "/Values/1/Quantity",
            Box::new(|v: &mut Value| v["Values"][1]["Quantity"] = number("7.4001")),
        ),
        (
            "/Values/1/Quantity",
            Box::new(|v: &mut Value| v["Values"][1]["Quantity"] = number("-1.000")),
        ),
        (
            "/Values/1/From",
            Box::new(|v: &mut Value| v["Values"][1]["From"] = json!("2026-11-20T17:00:01Z")),
        ),
        (
            "/Values: the intervals end",
            Box::new(|v: &mut Value| v["End"] = json!("2026-11-20T18:05:00Z")),
        ),
        (
            "not on a UTC resolution boundary",
            Box::new(|v: &mut Value| {
                v["Values"][0]["To"] = json!("2026-11-20T17:30:00Z");
                v["Values"][1]["From"] = json!("2026-11-20T17:30:00Z");
            }),
        ),
        (
            "exceeds",
            Box::new(|v: &mut Value| v["Values"][2]["Quantity"] = number("500.000")),
        ),
        ("/Values", Box::new(|v: &mut Value| v["Values"] = json!([]))),
    ];
    for (i, (needle, mutate)) in bad.iter().enumerate() {
        let mut v = spec_series();
        v["TransactionId"] = json!(format!("bad-{i}"));
        mutate(&mut v);
        let (status, body) = post_mv(&s, &http, &bearer, &v).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{needle}");
        assert!(body.to_string().contains(needle), "{needle}: {body}");
    }
    assert_eq!(s.schema_violations().len(), bad.len());
    assert_eq!(s.accepted_meter_series().len(), 1);
}

fn session(start: &str, end: &str, wh: (i64, i64), mvs: &[(&str, i64)]) -> SessionCompleted {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    SessionCompleted {
        customer_id: "emb-cust-0042".into(),
        transaction_id: "88812345".into(),
        charger_id: None,
        socket_id: None,
        site_id: Some(1042),
        authorized_id_tag: "v:7K2M9QXR4T8B3N5P".into(),
        authorized_tag_name: None,
        timestamp_start: t(start),
        timestamp_end: t(end),
        meter_read_start_wh: Decimal::from(wh.0),
        meter_read_end_wh: Decimal::from(wh.1),
        meter_values: mvs
            .iter()
            .map(|(ts, e)| MeterValue {
                timestamp: t(ts),
                energy_wh: Decimal::from(*e),
            })
            .collect(),
        charging_periods: None,
    }
}

/// What the connector builds is what the stand-in (and so the published schema) accepts.
#[tokio::test]
async fn connector_payloads_pass_the_stand_in() {
    let s = start().await;
    let http = client();
    let bearer = token(&s, &http).await;
    let sessions = [
        session(
            "2026-11-20T16:42:10Z",
            "2026-11-20T21:03:55Z",
            (1_523_400, 1_546_150),
            &[("2026-11-20T17:00:00Z", 1_525_610)],
        ),
        session(
            "2026-03-29T00:10:00Z",
            "2026-03-29T03:50:00Z",
            (0, 41_234),
            &[],
        ),
        session("2026-03-29T00:10:00Z", "2026-03-29T00:10:00Z", (7, 7), &[]),
    ];
    for (i, sess) in sessions.iter().enumerate() {
        for res in [Resolution::PT60M, Resolution::PT15M] {
            let mut sess = sess.clone();
            sess.transaction_id = format!("{i}-{res}");
            let payload = build_meter_series(&sess, "707057500012345678", res);
            let body = serde_json::to_value(&payload).unwrap();
            let (status, answer) = post_mv(&s, &http, &bearer, &body).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            let sum: Decimal = answer["Values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| Decimal::from_str(&v["Quantity"].to_string()).unwrap())
                .sum();
            assert_eq!(sum, sess.full_consumption_kwh());
        }
    }

    let tx: TransactionPayload = serde_json::from_value(example("88812345")).unwrap();
    let body = serde_json::to_value(&tx).unwrap();
    assert_eq!(
        post_tx(&s, &http, &bearer, &body).await.0,
        StatusCode::CREATED
    );
    assert!(
        s.schema_violations().is_empty(),
        "{:?}",
        s.schema_violations()
    );
}

#[tokio::test]
async fn unknown_routes_and_shutdown() {
    let s = start().await;
    let http = client();
    let resp = http
        .get(format!("{}/se/unknown", s.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = http
        .get(format!("{}{METER_VALUES_PATH}", s.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(s.requests().len(), 2);

    let url = s.token_url();
    s.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.post(&url).send().await.is_err());

    let s = start().await;
    let url = s.token_url();
    drop(s);
    // The abort takes effect when the runtime next polls the server task: wait for that by
    // yielding, not by time; the listener closes within a few polls.
    let mut refused = false;
    for _ in 0..1000 {
        if fresh.post(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "a dropped stand-in stops answering");
}
