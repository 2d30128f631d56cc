//! The per-tenant request log behind the Logs tab (SPEC §7): every request between UC and
//! the connector, newest first, kept for the retention period (TTL).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Ctx;
use crate::gln::Gln;
use crate::keys;
use crate::store::{prefix_within, Item, Key, Query, SkRange, Store, StoreError, MAX_DOC_BYTES};

/// Request payloads are kept up to this size; the entry says when it was cut.
pub const MAX_LOGGED_PAYLOAD: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Inbound,
    Outbound,
    /// A decision of the connector's own, explained in the log (no request was made).
    Internal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Gln>,
    pub time: DateTime<Utc>,
    pub direction: Direction,
    pub endpoint: String,
    pub action: String,
    pub response_code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub duration_ms: u64,
    pub request_payload: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub request_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_properties: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<Value>,
}

/// Payload text for a log: UTF-8 as is (cut at a char boundary), other bytes as a note.
pub fn payload_text(body: &[u8]) -> (String, bool) {
    let cut = body.len() > MAX_LOGGED_PAYLOAD;
    let slice = &body[..body.len().min(MAX_LOGGED_PAYLOAD)];
    match std::str::from_utf8(slice) {
        Ok(s) => (s.to_owned(), cut),
        Err(e) if e.error_len().is_none() => {
            // Cut inside a multi-byte character: keep the valid prefix.
            let s = std::str::from_utf8(&slice[..e.valid_up_to()]).unwrap_or_default();
            (s.to_owned(), true)
        }
        Err(_) => (format!("<{} bytes, not UTF-8>", body.len()), cut),
    }
}

/// Sort key: time first (so a reverse query is newest first), then a random suffix so two
/// entries in the same nanosecond never collide.
pub fn new_id(time: DateTime<Utc>) -> String {
    let mut r = [0u8; 4];
    let _ = getrandom::fill(&mut r);
    format!(
        "{}#{}",
        time.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
        hex::encode(r)
    )
}

impl LogEntry {
    /// An entry that explains a state change the connector made without calling anyone
    /// (a correction held, a delivery waiting): no request, no answer.
    pub fn note(
        tenant: &Gln,
        now: DateTime<Utc>,
        action: &str,
        reference: &str,
        outcome: &str,
        reason: &str,
    ) -> LogEntry {
        LogEntry {
            id: new_id(now),
            tenant: Some(tenant.clone()),
            time: now,
            direction: Direction::Internal,
            endpoint: "connector".into(),
            action: action.to_owned(),
            response_code: 0,
            outcome: Some(outcome.to_owned()),
            reason: Some(reason.to_owned()),
            reference_id: Some(reference.to_owned()),
            event_id: None,
            duration_ms: 0,
            request_payload: String::new(),
            request_truncated: false,
            request_properties: None,
            response_body: None,
        }
    }

    pub fn to_item(&self, retention_days: i64) -> Result<Item, StoreError> {
        let mut doc =
            serde_json::to_string(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        if doc.len() > MAX_DOC_BYTES {
            doc = self.cut_to_fit(doc.len())?;
        }
        let expires = (self.time + Duration::days(retention_days)).timestamp();
        Ok(Item::new(
            Key::new(
                keys::scoped(self.tenant.as_ref(), keys::LOGS),
                sort_key(self.time, &self.id),
            ),
            doc,
            1,
        )
        .with_ttl(expires))
    }
}

impl LogEntry {
    /// The entry as stored when its payloads would not fit in an item (JSON escaping can
    /// double a payload): both payloads cut, and marked so.
    fn cut_to_fit(&self, size: usize) -> Result<String, StoreError> {
        let mut e = self.clone();
        let mut budget = MAX_DOC_BYTES / 4;
        loop {
            e.request_payload = prefix_within(&self.request_payload, budget).to_owned();
            e.request_truncated = true;
            if let Some(body) = &self.response_body {
                let text = match body {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                e.response_body = Some(Value::String(format!(
                    "{} … [cut: the answer was {} bytes]",
                    prefix_within(&text, budget),
                    text.len()
                )));
            }
            let doc = serde_json::to_string(&e).map_err(|x| StoreError::Invalid(x.to_string()))?;
            if doc.len() <= MAX_DOC_BYTES || budget == 0 {
                tracing::warn!(
                    size,
                    kept = doc.len(),
                    "log entry payloads cut to fit the store"
                );
                return Ok(doc);
            }
            budget /= 2;
        }
    }
}

/// Log entries are read newest first, and no store reads backwards (Azure Tables cannot):
/// so they are keyed newest first, by [`newest_first`] of their time, then their id.
pub fn sort_key(time: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", newest_first(time))
}

const NEWEST_FIRST_BASE: u64 = 9_999_999_999_999_999_999;

/// 19 digits that sort later times first: the base minus nanoseconds since 1970.
pub fn newest_first(time: DateTime<Utc>) -> String {
    let nanos = time
        .timestamp_nanos_opt()
        .map_or(0, |n| u64::try_from(n).unwrap_or(0));
    format!("{:019}", NEWEST_FIRST_BASE - nanos.min(NEWEST_FIRST_BASE))
}

/// The sort-key range of entries at `from` or later and before `to` (each when given).
pub fn time_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (String, String) {
    let lower = to.map_or_else(
        || "0".to_owned(),
        |t| newest_first(t - Duration::nanoseconds(1)),
    );
    let upper = from.map_or_else(|| "9~".to_owned(), |f| format!("{}#~", newest_first(f)));
    (lower, upper)
}

pub async fn write(ctx: &Ctx, entry: &LogEntry) -> Result<(), StoreError> {
    ctx.store
        .put(
            entry.to_item(ctx.log_retention_for(entry.tenant.as_ref()))?,
            crate::store::Condition::Always,
        )
        .await
}

/// A page of log entries, newest first.
pub async fn list(
    store: &dyn Store,
    tenant: Option<&Gln>,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<LogEntry>, Option<String>), StoreError> {
    let q = Query {
        pk: keys::scoped(tenant, keys::LOGS),
        range: SkRange::Between("0".into(), "9~".into()),
        limit,
        cursor,
    };
    let page = store.query(&q).await?;
    let entries = page
        .items
        .iter()
        .filter_map(|i| serde_json::from_str(&i.doc).ok())
        .collect();
    Ok((entries, page.next))
}
