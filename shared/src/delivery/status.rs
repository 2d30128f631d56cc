//! A tenant's connection status (Details tab): `ok`, `authBlocked`, `disabled`.
//! Written only on transitions, so the happy path pays nothing for it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::gln::Gln;
use crate::keys;
use crate::store::{Condition, Item, Key, Store, StoreError, WriteOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Connection {
    Ok,
    AuthBlocked,
    Disabled,
}

impl Connection {
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Ok => "ok",
            Connection::AuthBlocked => "authBlocked",
            Connection::Disabled => "disabled",
        }
    }
}

/// Who refused the credential: it decides how the retry timer probes a blocked tenant. A
/// token from Entra proves nothing when it was UC that answered 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlockSource {
    /// Entra refused the client credential: a token request is the probe.
    Entra,
    /// UC answered 401 twice, the second time with a fresh token: only a UC call is the probe.
    Uc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    pub status: Connection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// While authBlocked: who refused (absent on records written before it was kept: Entra).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BlockSource>,
}

pub fn key(gln: &Gln) -> Key {
    Key::new(keys::tenant(gln, "STATUS"), "STATUS")
}

pub fn put_op(
    gln: &Gln,
    status: Connection,
    reason: Option<String>,
    source: Option<BlockSource>,
    now: DateTime<Utc>,
) -> Result<WriteOp, StoreError> {
    let s = TenantStatus {
        status,
        since: Some(now),
        reason,
        source,
    };
    let doc = serde_json::to_string(&s).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(WriteOp::Put {
        item: Item::new(key(gln), doc, 1),
        condition: Condition::Always,
    })
}

pub async fn get(store: &dyn Store, gln: &Gln) -> Result<TenantStatus, StoreError> {
    Ok(store
        .get(&key(gln))
        .await?
        .and_then(|i| serde_json::from_str(&i.doc).ok())
        .unwrap_or(TenantStatus {
            status: Connection::Ok,
            since: None,
            reason: None,
            source: None,
        }))
}
