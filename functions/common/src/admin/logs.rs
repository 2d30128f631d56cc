//! `GET /api/tenants/{gln}/logs`: the Logs tab, newest first, filtered while paging so a
//! page is full whenever enough entries match.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use ucc_shared::gln::Gln;
use ucc_shared::keys;
use ucc_shared::log::LogEntry;
use ucc_shared::store::{Store, StoreError};

use super::errors::{ApiError, ApiResult};
use super::{paging, query_params, AdminState};

pub const PARAMS: [&str; 8] = [
    "from", "to", "action", "status", "ref", "q", "limit", "cursor",
];
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
const MAX_TEXT: usize = 256;

/// What the Logs tab (and `ucc logs`) can search on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub action: Option<String>,
    /// Inclusive range of response codes: a code, or a class such as `4xx`.
    pub status: Option<(u16, u16)>,
    pub reference: Option<String>,
    pub text: Option<String>,
}

/// `404`, or a class `1xx`…`5xx`.
pub fn parse_status(raw: &str) -> Option<(u16, u16)> {
    // Digits only: `parse` would also take a sign (`+404`).
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(class) = raw.strip_suffix("xx").or_else(|| raw.strip_suffix("XX")) {
        if !digits(class) {
            return None;
        }
        let c: u16 = class.parse().ok()?;
        return (1..=5).contains(&c).then_some((c * 100, c * 100 + 99));
    }
    if !digits(raw) {
        return None;
    }
    let code: u16 = raw.parse().ok()?;
    (100..=599).contains(&code).then_some((code, code))
}

/// RFC 3339, or an age such as `30m`, `1h`, `7d` before `now`.
pub fn parse_time(raw: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let (num, unit) = raw.split_at(
        raw.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .len(),
    );
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = num.parse().ok().filter(|n| (0..=100_000).contains(n))?;
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return None,
    };
    Some(now - d)
}

impl LogFilter {
    pub fn keeps(&self, e: &LogEntry) -> bool {
        self.from.is_none_or(|t| e.time >= t)
            && self.to.is_none_or(|t| e.time < t)
            && self
                .action
                .as_ref()
                .is_none_or(|a| e.action.eq_ignore_ascii_case(a))
            && self
                .status
                .is_none_or(|(lo, hi)| (lo..=hi).contains(&e.response_code))
            && self
                .reference
                .as_ref()
                .is_none_or(|r| e.reference_id.as_deref() == Some(r.as_str()))
            && self.text.as_ref().is_none_or(|g| {
                e.request_payload.contains(g.as_str())
                    || e.endpoint.contains(g.as_str())
                    || e.reason.as_deref().is_some_and(|r| r.contains(g.as_str()))
                    || e.response_body
                        .as_ref()
                        .is_some_and(|b| b.to_string().contains(g.as_str()))
            })
    }

    fn from_params(p: &std::collections::HashMap<String, String>) -> ApiResult<LogFilter> {
        let now = Utc::now();
        let time = |name: &str| -> ApiResult<Option<DateTime<Utc>>> {
            p.get(name)
                .map(|raw| {
                    parse_time(raw, now).ok_or_else(|| {
                        ApiError::invalid(name, "must be an RFC 3339 time or an age like 1h, 7d")
                    })
                })
                .transpose()
        };
        let text = |name: &str| -> ApiResult<Option<String>> {
            match p.get(name) {
                Some(v) if v.is_empty() || v.chars().count() > MAX_TEXT => Err(ApiError::invalid(
                    name,
                    format!("must be 1 to {MAX_TEXT} characters"),
                )),
                other => Ok(other.cloned()),
            }
        };
        Ok(LogFilter {
            from: time("from")?,
            to: time("to")?,
            action: text("action")?,
            status: p
                .get("status")
                .map(|s| {
                    parse_status(s).ok_or_else(|| {
                        ApiError::invalid("status", "must be a code (404) or a class (4xx)")
                    })
                })
                .transpose()?,
            reference: text("ref")?,
            text: text("q")?,
        })
    }
}

/// One page of matching entries, newest first, and the cursor for the next page.
pub async fn search(
    store: &dyn Store,
    gln: &Gln,
    filter: &LogFilter,
    limit: usize,
    cursor: Option<&str>,
) -> Result<(Vec<LogEntry>, Option<String>), StoreError> {
    // Keys run newest first: `to` (exclusive) gives the lower bound, `from` the upper.
    let (mut lower, upper) = ucc_shared::log::time_range(filter.from, filter.to);
    if let Some(c) = cursor {
        if c > lower.as_str() {
            lower = c.to_owned();
        }
    }
    paging::scan(
        store,
        keys::tenant(gln, keys::LOGS),
        lower,
        upper,
        cursor,
        limit,
        |item| {
            serde_json::from_str::<LogEntry>(&item.doc)
                .ok()
                .filter(|e| filter.keeps(e))
        },
    )
    .await
}

pub async fn list(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let p = query_params(query, &PARAMS)?;
    let filter = LogFilter::from_params(&p)?;
    let (limit, cursor) = paging::request(&p, DEFAULT_LIMIT, MAX_LIMIT)?;
    let (entries, next) = search(
        s.d.ctx.store.as_ref(),
        &a.gln,
        &filter,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "items": entries, "next": next })))
}
