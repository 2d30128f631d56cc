//! Tenant API keys: what Utility Cloud sends as `x-api-key` to reach its own tenant through
//! the admin API (SPEC §7). Only the SHA-256 of a key is stored; the key itself exists in
//! the one answer that created it.
//!
//! A key is `ucck_<gln>_<43 base64url chars = 256 random bits>`. The GLN in the key is not
//! secret: it says which tenant's hash to compare with, so checking a key costs one read
//! and a constant-time comparison, and no cross-tenant key directory exists to keep in sync.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::gln::Gln;
use crate::keys;
use crate::store::{Condition, Item, Key, Store, StoreError, WriteOp};

pub const PREFIX: &str = "ucck_";
/// Random bytes in a key.
const SECRET_BYTES: usize = 32;
/// base64url without padding of [`SECRET_BYTES`].
const SECRET_CHARS: usize = 43;
/// Anything longer is refused before hashing: a key has a fixed length.
pub const MAX_KEY_LEN: usize = PREFIX.len() + 13 + 1 + SECRET_CHARS;
pub const KIND: &str = "APIKEY";

/// The stored form of a tenant's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    /// Hex SHA-256 of the whole key.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl ApiKeyRecord {
    /// What the Details tab shows: the key's non-secret part and a short hash a holder can
    /// check their copy against (`sha256sum`), never any character of the secret part.
    pub fn masked(&self, gln: &Gln) -> String {
        format!("{PREFIX}{gln}_…{}", self.fingerprint())
    }

    pub fn fingerprint(&self) -> &str {
        self.sha256.get(..8).unwrap_or(&self.sha256)
    }
}

pub fn key(gln: &Gln) -> Key {
    Key::new(keys::tenant(gln, KIND), KIND)
}

fn digest(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

/// The tenant a presented key claims to belong to, if it has the shape of a key at all.
pub fn claimed_tenant(presented: &str) -> Option<Gln> {
    if presented.len() != MAX_KEY_LEN {
        return None;
    }
    let rest = presented.strip_prefix(PREFIX)?;
    let (gln, secret) = rest.split_once('_')?;
    if secret.len() != SECRET_CHARS
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Gln::parse(gln).ok()
}

/// Whether `presented` is the key `record` was made from, compared in constant time.
pub fn matches(record: &ApiKeyRecord, presented: &str) -> bool {
    let Ok(stored) = hex::decode(&record.sha256) else {
        return false;
    };
    if stored.len() != 32 {
        return false;
    }
    bool::from(stored.as_slice().ct_eq(&digest(presented)))
}

/// A new key for `gln` and the record to store for it.
pub fn generate(gln: &Gln, now: DateTime<Utc>) -> Result<(String, ApiKeyRecord), StoreError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("no randomness for a key: {e}")))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let plain = format!("{PREFIX}{gln}_{secret}");
    let record = ApiKeyRecord {
        sha256: hex::encode(digest(&plain)),
        created_at: now,
    };
    Ok((plain, record))
}

pub async fn get(store: &dyn Store, gln: &Gln) -> Result<Option<ApiKeyRecord>, StoreError> {
    Ok(store
        .get(&key(gln))
        .await?
        .and_then(|i| serde_json::from_str(&i.doc).ok()))
}

/// Replaces the tenant's key (the old one stops working at once) and returns the new key.
/// `None` when the tenant does not exist: the write is conditional on its config, so a key
/// can never outlive or precede its tenant.
pub async fn rotate(
    store: &dyn Store,
    gln: &Gln,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let (plain, record) = generate(gln, now)?;
    let doc = serde_json::to_string(&record).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let ops = vec![
        WriteOp::Check {
            key: Key::new(keys::tenant(gln, keys::CONFIG), keys::CONFIG),
            condition: Condition::Exists,
        },
        WriteOp::Put {
            item: Item::new(key(gln), doc, 1),
            condition: Condition::Always,
        },
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(Some(plain)),
        Err(e) if e.is_condition_failure() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The tenant whose key `presented` is, or `None` for anything else (malformed, unknown
/// tenant, no key yet, wrong key): callers answer all of those alike.
pub async fn verify(store: &dyn Store, presented: &str) -> Result<Option<Gln>, StoreError> {
    Ok(verify_record(store, presented).await?.map(|(g, _)| g))
}

/// As [`verify`], with the stored record, so a caller that shows it need not read it again.
pub async fn verify_record(
    store: &dyn Store,
    presented: &str,
) -> Result<Option<(Gln, ApiKeyRecord)>, StoreError> {
    let Some(gln) = claimed_tenant(presented) else {
        return Ok(None);
    };
    Ok(match get(store, &gln).await? {
        Some(r) if matches(&r, presented) => Some((gln, r)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nordlys() -> Gln {
        match Gln::parse("7080010002488") {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_generated_key_claims_its_tenant_and_matches_only_itself() {
        let g = nordlys();
        let (plain, rec) = match generate(&g, Utc::now()) {
            Ok(x) => x,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(claimed_tenant(&plain), Some(g.clone()));
        assert!(matches(&rec, &plain));
        assert!(!plain.contains(&rec.sha256));
        // Each single-character change is refused.
        for i in 0..plain.len() {
            let mut b = plain.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(b).unwrap_or_default();
            assert!(!matches(&rec, &changed), "changed at {i}");
        }
        assert!(!rec.masked(&g).contains(&plain[PREFIX.len() + 14..]));
    }

    #[test]
    fn malformed_keys_claim_nothing() {
        for k in [
            "",
            "ucck_",
            "ucck_7080010002488_",
            "ucck_7080010002489_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ucck_7080010002488_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "xxxx_7080010002488_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(claimed_tenant(k), None, "{k}");
        }
    }
}
