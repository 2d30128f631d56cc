//! One delivery attempt: token, GET-before-POST when a previous POST may have landed, POST,
//! classification per SPEC §6. Every HTTP call becomes an outbound log entry (Authorization
//! and secrets never included); the caller writes them with the record's new state in one
//! transaction.

use std::time::Duration;

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

fn retry(result: &CallResult, ambiguous: bool) -> AttemptResult {
    let (status, retry_after) = match result {
        CallResult::Answered {
            status,
            retry_after,
            ..
        } => (Some(*status), *retry_after),
        _ => (None, None),
    };
    AttemptResult::Retry {
        ambiguous,
        retry_after,
        status,
        error: result.describe(),
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
        match &r {
            CallResult::Answered { status, body, .. } if (200..300).contains(status) => {
                return AttemptResult::Accepted {
                    status: *status,
                    body: body.chars().take(2000).collect(),
                }
            }
            CallResult::Answered { status: 401, .. } if !fresh_retry_done => {
                // Maybe only our cached token went stale: one more try with a fresh one.
                fresh_retry_done = true;
                token = match calls.token(true).await {
                    Ok(t) => t,
                    Err(r) => return r,
                };
            }
            CallResult::Answered { status: 401, .. } => {
                return AttemptResult::AuthBlocked {
                    error: "UC answered 401 twice, the second time with a fresh token".into(),
                    source: BlockSource::Uc,
                }
            }
            CallResult::Answered {
                status: 409, body, ..
            } => {
                // UC says the id exists: confirm it is ours before calling it delivered.
                if !can_get {
                    return AttemptResult::AlreadyThere;
                }
                return match lookup(calls, &mut token, &rec.transaction_id).await {
                    Lookup::Found => AttemptResult::AlreadyThere,
                    Lookup::Missing => AttemptResult::Rejected {
                        status: 409,
                        body: body.chars().take(2000).collect(),
                    },
                    Lookup::Failed(r) => r,
                };
            }
            CallResult::Answered { status: 429, .. } => return retry(&r, false),
            CallResult::Answered { status, .. } if *status >= 500 => return retry(&r, true),
            CallResult::Answered { status, body, .. } => {
                return AttemptResult::Rejected {
                    status: *status,
                    body: body.chars().take(2000).collect(),
                }
            }
            CallResult::ConnectFailed(_) => return retry(&r, false),
            CallResult::TimedOut | CallResult::Broken(_) => return retry(&r, true),
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
        match r.status() {
            Some(200) => return Lookup::Found,
            Some(404) => return Lookup::Missing,
            Some(401) if !refreshed => {
                refreshed = true;
                match calls.token(true).await {
                    Ok(t) => *token = t,
                    Err(e) => return Lookup::Failed(e),
                }
            }
            Some(401) => {
                return Lookup::Failed(AttemptResult::AuthBlocked {
                    error: "UC answered 401 twice to GET, the second time with a fresh token"
                        .into(),
                    source: BlockSource::Uc,
                })
            }
            // Anything else leaves the question open: retry later, still verifying first.
            _ => return Lookup::Failed(retry(&r, true)),
        }
    }
}
