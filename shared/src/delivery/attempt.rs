//! One delivery attempt: token, GET-before-POST when a previous POST may have landed, POST,
//! classification per SPEC §6. Every HTTP call becomes an outbound log entry (Authorization
//! and secrets never included); the caller writes them with the record's new state in one
//! transaction.
//!
//! The classification of an answer is pure ([`classify_post`], [`classify_lookup`]), so it
//! is unit-tested and fuzzed (`fuzz/fuzz_targets/uc_answer.rs`) without I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::machine::{AttemptResult, BlockSource};
use super::record::{DeliveryRecord, PayloadKind};
use super::Deliverer;
use crate::log::{self, Direction, LogEntry};
use crate::tenant::TenantConfig;
use crate::uc::client::CallResult;
use crate::uc::entra::{AccessToken, TokenCall, TokenError};

pub const TRANSACTION_PATH: &str = "/se/invoicelineimport/v1/transaction";
pub const METER_VALUES_PATH: &str = "/v1/se/general-mv-adapter/CreateMeterValuesSeries";

/// What an attempt did: its result, whether it POSTed, and the log entries of its calls.
pub struct Attempted {
    pub result: AttemptResult,
    pub posted: bool,
    pub logs: Vec<LogEntry>,
}

struct Calls<'a> {
    d: &'a Deliverer,
    cfg: &'a TenantConfig,
    reference: String,
    logs: Vec<LogEntry>,
}

fn body_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.chars().take(4000).collect()))
}

impl Calls<'_> {
    fn record(
        &mut self,
        action: &str,
        endpoint: String,
        request: String,
        result: &CallResult,
        took: Duration,
    ) {
        let now = self.d.ctx.now();
        let response = match result {
            CallResult::Answered { body, .. } => Some(body_value(body)),
            other => Some(Value::String(other.describe())),
        };
        let (payload, truncated) = log::payload_text(request.as_bytes());
        self.logs.push(LogEntry {
            id: log::new_id(now),
            tenant: Some(self.cfg.gln.clone()),
            time: now,
            direction: Direction::Outbound,
            endpoint,
            action: action.to_owned(),
            response_code: result.log_code(),
            outcome: None,
            reason: None,
            reference_id: Some(self.reference.clone()),
            event_id: None,
            duration_ms: took.as_millis() as u64,
            request_payload: payload,
            request_truncated: truncated,
            request_properties: None,
            response_body: response,
        });
    }

    fn record_token_calls(&mut self, calls: Vec<TokenCall>) {
        for c in calls {
            let now = self.d.ctx.now();
            self.logs.push(LogEntry {
                id: log::new_id(now),
                tenant: Some(self.cfg.gln.clone()),
                time: now,
                direction: Direction::Outbound,
                endpoint: c.url,
                action: "Token".into(),
                response_code: c.status,
                outcome: None,
                reason: None,
                reference_id: Some(self.reference.clone()),
                event_id: None,
                duration_ms: c.duration.as_millis() as u64,
                request_payload: c.request,
                request_truncated: false,
                request_properties: None,
                response_body: Some(body_value(&c.response)),
            });
        }
    }

    async fn token(&mut self, fresh: bool) -> Result<AccessToken, AttemptResult> {
        if fresh {
            self.d.tokens.invalidate(&self.cfg.gln).await;
        }
        let mut calls = Vec::new();
        let r = self
            .d
            .tokens
            .token(&self.d.http, self.cfg, &mut calls)
            .await;
        self.record_token_calls(calls);
        r.map_err(|e| match e {
            // The secret store was unreachable: nothing is wrong with the credential yet.
            TokenError::Secret(s) if s.is_transient() => AttemptResult::Retry {
                ambiguous: false,
                retry_after: None,
                status: None,
                error: format!("token: {s}"),
            },
            TokenError::Rejected { .. } | TokenError::Secret(_) => AttemptResult::AuthBlocked {
                error: e.to_string(),
                source: BlockSource::Entra,
            },
            TokenError::Transient(msg) => AttemptResult::Retry {
                ambiguous: false,
                retry_after: None,
                status: None,
                error: format!("token: {msg}"),
            },
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.uc.base_url.trim_end_matches('/'))
    }

    async fn get(&mut self, token: &AccessToken, id: &str) -> CallResult {
        let url = format!("{}/{}", self.url(TRANSACTION_PATH), encode_segment(id));
        let (r, took) = self.d.http.get(&url, token.bearer()).await;
        self.record("GetTransaction", url, String::new(), &r, took);
        r
    }

    async fn post(&mut self, token: &AccessToken, kind: PayloadKind, body: &str) -> CallResult {
        let url = self.url(match kind {
            PayloadKind::InvoiceLine => TRANSACTION_PATH,
            PayloadKind::MeterValues => METER_VALUES_PATH,
        });
        let (r, took) = self.d.http.post_json(&url, token.bearer(), body).await;
        self.record(kind.action(), url, body.to_owned(), &r, took);
        r
    }
}

/// Transaction ids are ours (digits, `-C1`, `-R2`), but a path segment is escaped anyway.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A retry: `Retry-After` resolved against `now` (at most an hour, SPEC §6).
fn retry(result: &CallResult, ambiguous: bool, now: DateTime<Utc>) -> AttemptResult {
    let (status, retry_after) = match result {
        CallResult::Answered {
            status,
            retry_after,
            ..
        } => (Some(*status), retry_after.map(|ra| ra.delay_from(now))),
        _ => (None, None),
    };
    AttemptResult::Retry {
        ambiguous,
        retry_after,
        status,
        error: result.describe(),
    }
}

/// How an answer to the POST is taken, before any follow-up call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostVerdict {
    /// This attempt's result.
    Done(AttemptResult),
    /// 401: maybe only the cached token went stale; once more with a fresh one, then blocked.
    Unauthorized,
    /// 409: UC says the id exists; a GET must confirm it is ours before it counts as delivered.
    Conflict { body: String },
}

/// The SPEC §6 table for the POST (`now` resolves an HTTP-date `Retry-After`). Only a 2xx is
/// accepted. A 3xx is never followed and is treated like a 5xx: UC may have acted on the
/// POST before redirecting, so it is ambiguous (pending, GET before any re-post). 429 and a
/// refused connection are certainly not processed; other 4xx are rejected.
pub fn classify_post(result: &CallResult, now: DateTime<Utc>) -> PostVerdict {
    let truncated = |body: &str| body.chars().take(2000).collect::<String>();
    match result {
        CallResult::Answered { status, body, .. } => match *status {
            200..=299 => PostVerdict::Done(AttemptResult::Accepted {
                status: *status,
                body: truncated(body),
            }),
            401 => PostVerdict::Unauthorized,
            409 => PostVerdict::Conflict {
                body: truncated(body),
            },
            429 => PostVerdict::Done(retry(result, false, now)),
            400..=499 => PostVerdict::Done(AttemptResult::Rejected {
                status: *status,
                body: truncated(body),
            }),
            // 3xx, 5xx and anything outside the table: UC may have stored it.
            _ => PostVerdict::Done(retry(result, true, now)),
        },
        CallResult::ConnectFailed(_) => PostVerdict::Done(retry(result, false, now)),
        CallResult::TimedOut | CallResult::Broken(_) => PostVerdict::Done(retry(result, true, now)),
    }
}

/// How an answer to the GET lookup is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupVerdict {
    /// 200: UC has the transaction.
    Found,
    /// 404: UC does not have it; posting is safe.
    Missing,
    /// 401: once more with a fresh token, then blocked.
    Unauthorized,
    /// Anything else (3xx included: never followed) leaves the question open: retry later,
    /// still verifying first.
    Open(AttemptResult),
}

pub fn classify_lookup(result: &CallResult, now: DateTime<Utc>) -> LookupVerdict {
    match result.status() {
        Some(200) => LookupVerdict::Found,
        Some(404) => LookupVerdict::Missing,
        Some(401) => LookupVerdict::Unauthorized,
        _ => LookupVerdict::Open(retry(result, true, now)),
    }
}

/// Runs one attempt for `rec`. `verify_first`: a previous POST may have been processed.
pub async fn run(
    d: &Deliverer,
    cfg: &TenantConfig,
    rec: &DeliveryRecord,
    verify_first: bool,
) -> Attempted {
    let mut calls = Calls {
        d,
        cfg,
        reference: rec.transaction_id.clone(),
        logs: Vec::new(),
    };
    let mut posted = false;
    let result = attempt(&mut calls, rec, verify_first, &mut posted).await;
    Attempted {
        result,
        posted,
        logs: calls.logs,
    }
}

async fn attempt(
    calls: &mut Calls<'_>,
    rec: &DeliveryRecord,
    verify_first: bool,
    posted: &mut bool,
) -> AttemptResult {
    let mut token = match calls.token(false).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let can_get = rec.kind == PayloadKind::InvoiceLine;
    if verify_first && can_get {
        match lookup(calls, &mut token, &rec.transaction_id).await {
            Lookup::Found => return AttemptResult::AlreadyThere,
            Lookup::Missing => {}
            Lookup::Failed(r) => return r,
        }
    }
    let body = rec.payload.to_string();
    let mut fresh_retry_done = false;
    loop {
        let r = calls.post(&token, rec.kind, &body).await;
        *posted = true;
        match classify_post(&r, calls.d.ctx.now()) {
            PostVerdict::Done(result) => return result,
            PostVerdict::Unauthorized if !fresh_retry_done => {
                // Maybe only our cached token went stale: one more try with a fresh one.
                fresh_retry_done = true;
                token = match calls.token(true).await {
                    Ok(t) => t,
                    Err(r) => return r,
                };
            }
            PostVerdict::Unauthorized => {
                return AttemptResult::AuthBlocked {
                    error: "UC answered 401 twice, the second time with a fresh token".into(),
                    source: BlockSource::Uc,
                }
            }
            PostVerdict::Conflict { body } => {
                // UC says the id exists: confirm it is ours before calling it delivered.
                if !can_get {
                    return AttemptResult::AlreadyThere;
                }
                return match lookup(calls, &mut token, &rec.transaction_id).await {
                    Lookup::Found => AttemptResult::AlreadyThere,
                    Lookup::Missing => AttemptResult::Rejected { status: 409, body },
                    Lookup::Failed(r) => r,
                };
            }
        }
    }
}

enum Lookup {
    Found,
    Missing,
    Failed(AttemptResult),
}

async fn lookup(calls: &mut Calls<'_>, token: &mut AccessToken, id: &str) -> Lookup {
    let mut refreshed = false;
    loop {
        let r = calls.get(token, id).await;
        match classify_lookup(&r, calls.d.ctx.now()) {
            LookupVerdict::Found => return Lookup::Found,
            LookupVerdict::Missing => return Lookup::Missing,
            LookupVerdict::Unauthorized if !refreshed => {
                refreshed = true;
                match calls.token(true).await {
                    Ok(t) => *token = t,
                    Err(e) => return Lookup::Failed(e),
                }
            }
            LookupVerdict::Unauthorized => {
                return Lookup::Failed(AttemptResult::AuthBlocked {
                    error: "UC answered 401 twice to GET, the second time with a fresh token"
                        .into(),
                    source: BlockSource::Uc,
                })
            }
            LookupVerdict::Open(r) => return Lookup::Failed(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uc::client::{RetryAfter, MAX_RETRY_AFTER};

    fn answer(status: u16, retry_after: Option<RetryAfter>) -> CallResult {
        CallResult::Answered {
            status,
            body: "{}".into(),
            retry_after,
        }
    }

    fn post(status: u16) -> PostVerdict {
        classify_post(&answer(status, None), Utc::now())
    }

    fn is_retry(v: &PostVerdict, want_ambiguous: bool) -> bool {
        matches!(v, PostVerdict::Done(AttemptResult::Retry { ambiguous, .. }) if *ambiguous == want_ambiguous)
    }

    #[test]
    fn only_a_2xx_is_accepted() {
        for status in [200, 201, 202, 204, 299] {
            assert!(matches!(
                post(status),
                PostVerdict::Done(AttemptResult::Accepted { .. })
            ));
        }
        for status in 0..=999u16 {
            let delivered = matches!(
                post(status),
                PostVerdict::Done(AttemptResult::Accepted { .. } | AttemptResult::AlreadyThere)
            );
            assert_eq!(delivered, (200..300).contains(&status), "{status}");
        }
    }

    #[test]
    fn a_3xx_is_ambiguous_like_a_5xx() {
        for status in [
            300, 301, 302, 303, 304, 307, 308, 399, 500, 502, 503, 504, 599,
        ] {
            assert!(
                is_retry(&post(status), true),
                "{status}: {:?}",
                post(status)
            );
        }
    }

    #[test]
    fn the_rest_of_the_table() {
        assert_eq!(post(401), PostVerdict::Unauthorized);
        assert!(matches!(post(409), PostVerdict::Conflict { .. }));
        assert!(is_retry(&post(429), false));
        for status in [400, 403, 404, 410, 422, 499] {
            assert!(
                matches!(
                    post(status),
                    PostVerdict::Done(AttemptResult::Rejected { .. })
                ),
                "{status}"
            );
        }
        let now = Utc::now();
        assert!(is_retry(
            &classify_post(&CallResult::ConnectFailed("refused".into()), now),
            false
        ));
        assert!(is_retry(&classify_post(&CallResult::TimedOut, now), true));
        assert!(is_retry(
            &classify_post(&CallResult::Broken("reset".into()), now),
            true
        ));
    }

    #[test]
    fn retry_after_is_resolved_and_capped() {
        let now = Utc::now();
        let got = |ra| match classify_post(&answer(429, Some(ra)), now) {
            PostVerdict::Done(AttemptResult::Retry { retry_after, .. }) => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(got(RetryAfter::Seconds(u64::MAX)), Some(MAX_RETRY_AFTER));
        assert_eq!(got(RetryAfter::Invalid), Some(MAX_RETRY_AFTER));
        assert_eq!(
            got(RetryAfter::At(now + chrono::Duration::seconds(90))),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            got(RetryAfter::At(now - chrono::Duration::seconds(90))),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_redirected_lookup_leaves_the_question_open() {
        let now = Utc::now();
        assert_eq!(
            classify_lookup(&answer(200, None), now),
            LookupVerdict::Found
        );
        assert_eq!(
            classify_lookup(&answer(404, None), now),
            LookupVerdict::Missing
        );
        assert_eq!(
            classify_lookup(&answer(401, None), now),
            LookupVerdict::Unauthorized
        );
        for status in [204, 301, 302, 303, 307, 308, 410, 429, 500] {
            assert!(
                matches!(
                    classify_lookup(&answer(status, None), now),
                    LookupVerdict::Open(AttemptResult::Retry {
                        ambiguous: true,
                        ..
                    })
                ),
                "{status}"
            );
        }
    }
}
