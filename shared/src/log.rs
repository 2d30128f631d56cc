//! The per-tenant request log behind the Logs tab (SPEC §7): every request between UC and
//! the connector, newest first, kept for the retention period (TTL).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Ctx;
use crate::gln::Gln;
use crate::keys;
use crate::store::{Item, Key, Query, SkRange, Store, StoreError};

/// Request payloads are kept up to this size; the entry says when it was cut.
pub const MAX_LOGGED_PAYLOAD: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Inbound,
    Outbound,
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
    pub fn to_item(&self, retention_days: i64) -> Result<Item, StoreError> {
        let doc = serde_json::to_string(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let expires = (self.time + Duration::days(retention_days)).timestamp();
        Ok(Item::new(
            Key::new(
                keys::scoped(self.tenant.as_ref(), keys::LOGS),
                self.id.clone(),
            ),
            doc,
            1,
        )
        .with_ttl(expires))
    }
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
        descending: true,
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
