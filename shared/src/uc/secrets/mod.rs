//! Secret references resolved at the moment of use (SPEC §11):
//!
//! - `env:NAME` and `file:PATH` ([`local`]): read on every use (nothing to save);
//! - `aws-sm:NAME_OR_ARN[#KEY]` ([`aws_sm`]): AWS Secrets Manager `GetSecretValue`;
//! - `keyvault:https://VAULT.vault.azure.net/secrets/NAME` ([`keyvault`]): the Key Vault
//!   REST API with the managed identity's token.
//!
//! Remote values are cached in process memory for [`CACHE_TTL`], keyed by the reference, so
//! a rotated secret is used at the latest 5 minutes later without a restart; [`invalidate`]
//! drops one at once (Entra refused it: re-resolve before blocking the tenant). A resolved
//! secret is never stored, logged, displayed or put in an error message.

pub mod aws_sm;
pub mod keyvault;
pub mod local;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a remote secret value is reused before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// A resolved secret. `Debug` is redacted and there is deliberately no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (the token request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret reference {reference}: environment variable is not set")]
    MissingEnv { reference: String },
    #[error("secret reference {reference}: cannot read the file ({reason})")]
    Unreadable { reference: String, reason: String },
    #[error("secret reference {reference}: the secret is empty")]
    Empty { reference: String },
    /// The reference is malformed (e.g. a Key Vault URL that is not https).
    #[error("secret reference {reference}: {reason}")]
    Invalid { reference: String, reason: String },
    /// The secret store answered and refused: not found, access denied, no such JSON key.
    /// Retrying the same thing will not help.
    #[error("secret reference {reference}: {reason}")]
    Refused { reference: String, reason: String },
    /// The secret store could not be asked (network, timeout, throttling, 5xx): try later.
    #[error("secret reference {reference}: secret store unavailable ({reason})")]
    Unavailable { reference: String, reason: String },
    #[error("{0:?} is not a secret reference (env:NAME, file:PATH, aws-sm:NAME_OR_ARN[#KEY] or keyvault:https://VAULT/secrets/NAME)")]
    NotAReference(String),
}

impl SecretError {
    /// Worth retrying later as it is (the store was unreachable), rather than a refusal.
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretError::Unavailable { .. })
    }
}

struct Entry {
    secret: Secret,
    fetched: Instant,
}

fn cache() -> &'static Mutex<HashMap<String, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn cached(reference: &str) -> Option<Secret> {
    let map = cache().lock().ok()?;
    map.get(reference)
        .filter(|e| e.fetched.elapsed() < CACHE_TTL)
        .map(|e| e.secret.clone())
}

fn remember(reference: &str, secret: &Secret) {
    if let Ok(mut map) = cache().lock() {
        let now = Instant::now();
        map.retain(|_, e| now.duration_since(e.fetched) < CACHE_TTL);
        map.insert(
            reference.to_owned(),
            Entry {
                secret: secret.clone(),
                fetched: now,
            },
        );
    }
}

/// Forgets the cached value of `reference`: the next [`resolve`] fetches it again.
pub fn invalidate(reference: &str) {
    if let Ok(mut map) = cache().lock() {
        map.remove(reference.trim());
    }
}

/// Whether [`resolve`] caches values of this reference (the remote schemes do).
pub fn is_remote(reference: &str) -> bool {
    let r = reference.trim();
    r.starts_with(aws_sm::SCHEME) || r.starts_with(keyvault::SCHEME)
}

/// Resolves a reference. Errors name the reference (never the value).
pub async fn resolve(reference: &str) -> Result<Secret, SecretError> {
    let reference = reference.trim();
    let value = if let Some(rest) = reference.strip_prefix(aws_sm::SCHEME) {
        if let Some(s) = cached(reference) {
            return Ok(s);
        }
        // Boxed: the SDK's future is large and deep, and every caller of a token awaits it.
        Box::pin(aws_sm::fetch(reference, rest)).await?
    } else if let Some(rest) = reference.strip_prefix(keyvault::SCHEME) {
        if let Some(s) = cached(reference) {
            return Ok(s);
        }
        Box::pin(keyvault::fetch(reference, rest)).await?
    } else {
        return local::resolve(reference);
    };
    let secret = non_empty(reference, value)?;
    remember(reference, &secret);
    Ok(secret)
}

fn non_empty(reference: &str, value: String) -> Result<Secret, SecretError> {
    if value.is_empty() {
        return Err(SecretError::Empty {
            reference: reference.to_owned(),
        });
    }
    Ok(Secret(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
    }

    #[tokio::test]
    async fn file_references_trim_the_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("ucc-secret-{}", std::process::id()));
        let _ = std::fs::write(&dir, "s3cret\n");
        let got = resolve(&format!("file:{}", dir.display()))
            .await
            .map(|s| s.expose().to_owned());
        let _ = std::fs::remove_file(&dir);
        assert_eq!(got, Ok("s3cret".to_owned()));
    }

    #[tokio::test]
    async fn errors_name_the_reference_not_the_value() {
        let e = resolve("env:UCC_SURELY_NOT_SET_1234")
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("UCC_SURELY_NOT_SET_1234")));
        let e = resolve("plain-secret-value")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!e.contains("plain-secret-value"));
    }

    #[test]
    fn the_cache_expires_and_can_be_invalidated() {
        let r = "aws-sm:ucc-unit-cache-test";
        remember(r, &Secret::new("v1"));
        assert_eq!(cached(r), Some(Secret::new("v1")));
        invalidate(r);
        assert_eq!(cached(r), None);
        if let Ok(mut map) = cache().lock() {
            map.insert(
                r.to_owned(),
                Entry {
                    secret: Secret::new("old"),
                    fetched: Instant::now()
                        .checked_sub(CACHE_TTL + Duration::from_secs(1))
                        .unwrap_or_else(Instant::now),
                },
            );
        }
        // On a host up for less than the TTL the entry above is fresh; nothing to check then.
        if Instant::now().checked_sub(CACHE_TTL).is_some() {
            assert_eq!(cached(r), None);
        }
    }
}
