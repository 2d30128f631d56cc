//! Who is calling: the platform key (from `UCC_ADMIN_KEY_REF`), a tenant's key, or nobody.
//! Every route resolves the caller before it looks at anything else, so a caller without
//! a valid key gets the same 401 whether or not the tenant in the path exists.

use std::sync::Arc;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use ucc_shared::apikey;
use ucc_shared::gln::Gln;
use ucc_shared::tenant::TenantConfig;
use ucc_shared::uc::secrets;

use super::errors::{ApiError, ApiResult};
use super::AdminState;

pub const HEADER: &str = "x-api-key";
/// Longer keys are refused before hashing (tenant keys are 62 characters).
pub const MAX_PRESENTED_LEN: usize = 512;
/// Below this a platform key is guessable enough to warn about.
pub const MIN_PLATFORM_KEY_LEN: usize = 32;
/// The environment variable naming the platform key's secret reference (SPEC §7).
pub const PLATFORM_KEY_REF_VAR: &str = "UCC_ADMIN_KEY_REF";

/// The platform key, held only as its SHA-256 so it can be compared in constant time.
#[derive(Clone, Default)]
pub struct AdminKeys {
    platform: Option<[u8; 32]>,
}

impl std::fmt::Debug for AdminKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKeys")
            .field("platform", &self.platform.map(|_| "[REDACTED]"))
            .finish()
    }
}

impl AdminKeys {
    /// No platform key: only tenant keys work.
    pub fn none() -> Self {
        AdminKeys { platform: None }
    }

    pub fn with_platform_key(key: &str) -> Self {
        AdminKeys {
            platform: (!key.is_empty()).then(|| Sha256::digest(key.as_bytes()).into()),
        }
    }

    pub fn platform_enabled(&self) -> bool {
        self.platform.is_some()
    }

    /// Resolves `UCC_ADMIN_KEY_REF`. Unset or unresolvable disables the platform key (fail
    /// closed) and says so once; the reference is logged, the secret never.
    pub async fn from_env() -> Self {
        match std::env::var(PLATFORM_KEY_REF_VAR) {
            Err(_) => {
                tracing::warn!(
                    "{PLATFORM_KEY_REF_VAR} is not set: the admin API's platform key is disabled, only tenant keys work"
                );
                Self::none()
            }
            Ok(reference) => match secrets::resolve(reference.trim()).await {
                Ok(s) => {
                    if s.expose().len() < MIN_PLATFORM_KEY_LEN {
                        // Said, not refused: a short key still beats none for a local setup.
                        tracing::warn!(
                            "the admin API's platform key ({PLATFORM_KEY_REF_VAR}) is shorter than {MIN_PLATFORM_KEY_LEN} characters"
                        );
                    }
                    Self::with_platform_key(s.expose())
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot resolve {PLATFORM_KEY_REF_VAR}: the admin API's platform key is disabled");
                    Self::none()
                }
            },
        }
    }

    fn is_platform(&self, presented: &str) -> bool {
        match &self.platform {
            Some(p) => {
                let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
                bool::from(p.ct_eq(&d))
            }
            None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Platform,
    Tenant(Gln),
}

/// The one `x-api-key` value, if it is usable at all.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(HEADER).iter();
    let v = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= MAX_PRESENTED_LEN).then_some(s)
}

pub async fn caller(state: &AdminState, headers: &HeaderMap) -> ApiResult<Caller> {
    authenticate(state, headers).await.map(|(c, _)| c)
}

/// The caller, and for a tenant key its stored record (already read to check the key).
async fn authenticate(
    state: &AdminState,
    headers: &HeaderMap,
) -> ApiResult<(Caller, Option<apikey::ApiKeyRecord>)> {
    let key = presented(headers).ok_or_else(ApiError::unauthorized)?;
    if state.keys.is_platform(key) {
        return Ok((Caller::Platform, None));
    }
    match apikey::verify_record(state.d.ctx.store.as_ref(), key).await? {
        Some((g, record)) => Ok((Caller::Tenant(g), Some(record))),
        None => Err(ApiError::unauthorized()),
    }
}

/// A tenant the caller may act on, with its configuration.
pub struct Access {
    pub caller: Caller,
    pub gln: Gln,
    pub config: Arc<TenantConfig>,
    /// The tenant key's record when a tenant key authenticated the call.
    pub key: Option<apikey::ApiKeyRecord>,
}

/// 401 without a valid key; 403 for a tenant key on any other path (existing or not, so a
/// tenant key cannot probe for tenants); 404 for the platform key on an unknown tenant.
pub async fn tenant(state: &AdminState, headers: &HeaderMap, raw_gln: &str) -> ApiResult<Access> {
    let (caller, key) = authenticate(state, headers).await?;
    let gln = match &caller {
        Caller::Tenant(own) if own.as_str() == raw_gln => own.clone(),
        Caller::Tenant(_) => return Err(ApiError::forbidden()),
        Caller::Platform => Gln::parse(raw_gln)
            .map_err(|_| ApiError::not_found("no tenant with this GLN (not a valid GLN)"))?,
    };
    let config = state.d.ctx.tenant(&gln).await?;
    match (config, &caller) {
        (Some(config), _) => Ok(Access {
            caller,
            gln,
            config,
            key,
        }),
        (None, Caller::Platform) => Err(ApiError::not_found(format!("no tenant with GLN {gln}"))),
        // A key whose tenant is gone: nothing to reach.
        (None, Caller::Tenant(_)) => Err(ApiError::forbidden()),
    }
}
