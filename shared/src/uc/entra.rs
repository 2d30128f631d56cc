//! OAuth2 client credentials against Microsoft Entra, cached per tenant.
//!
//! One token per tenant, reused until shortly before it expires. Concurrent callers for the
//! same tenant share one refresh (a per-tenant async lock around "check cache, else fetch"),
//! so a burst of sessions costs one token request, not one each.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::client::{CallResult, HttpClient};
use super::secrets::{self, SecretError};
use super::REDACTED;
use crate::gln::Gln;
use crate::tenant::TenantConfig;

/// Tokens are refreshed this long before Entra says they expire.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

/// A bearer token. `Debug` is redacted; it is never logged or stored.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn bearer(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([REDACTED])")
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// Entra refused the credential (400/401): the tenant is blocked until it is fixed.
    #[error("Entra refused the client credential (HTTP {status}, {error}): {description}")]
    Rejected {
        status: u16,
        error: String,
        description: String,
    },
    #[error("{0}")]
    Secret(#[from] SecretError),
    /// Timeout, 5xx, 429, network: try again later.
    #[error("token request failed: {0}")]
    Transient(String),
}

/// One token request as it should appear in the request log (secrets redacted).
#[derive(Debug, Clone)]
pub struct TokenCall {
    pub url: String,
    pub request: String,
    pub status: u16,
    pub response: String,
    pub duration: Duration,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<Value>,
}

struct Cached {
    token: AccessToken,
    valid_until: Instant,
}

#[derive(Default)]
pub struct TokenSource {
    slots: Mutex<HashMap<Gln, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
}

impl TokenSource {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, gln: &Gln) -> Arc<tokio::sync::Mutex<Option<Cached>>> {
        match self.slots.lock() {
            Ok(mut m) => m.entry(gln.clone()).or_default().clone(),
            // A poisoned map only loses the cache; a fresh slot still works.
            Err(_) => Arc::default(),
        }
    }

    /// Drops the cached token (after UC answered 401 with it).
    pub async fn invalidate(&self, gln: &Gln) {
        *self.slot(gln).lock().await = None;
    }

    /// A valid token for the tenant; `calls` receives the token request made, if any.
    pub async fn token(
        &self,
        http: &HttpClient,
        cfg: &TenantConfig,
        calls: &mut Vec<TokenCall>,
    ) -> Result<AccessToken, TokenError> {
        let slot = self.slot(&cfg.gln);
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref().filter(|c| c.valid_until > Instant::now()) {
            return Ok(c.token.clone());
        }
        let secret = secrets::resolve(&cfg.uc.client_secret_ref)?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", cfg.uc.client_id.as_str()),
            ("client_secret", secret.expose()),
            ("scope", cfg.uc.scope.as_str()),
        ];
        let (result, duration) = http.post_form(&cfg.uc.token_url, &form).await;
        let logged_request = format!(
            "grant_type=client_credentials&client_id={}&client_secret={REDACTED}&scope={}",
            cfg.uc.client_id, cfg.uc.scope
        );
        let mut call = TokenCall {
            url: cfg.uc.token_url.clone(),
            request: logged_request,
            status: result.log_code(),
            response: String::new(),
            duration,
        };
        let outcome = match &result {
            CallResult::Answered { status, body, .. } if (200..300).contains(status) => {
                match serde_json::from_str::<TokenResponse>(body) {
                    Ok(t) if !t.access_token.is_empty() => {
                        let lifetime = t
                            .expires_in
                            .as_ref()
                            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                            .unwrap_or(300);
                        let valid = Duration::from_secs(lifetime).saturating_sub(EXPIRY_MARGIN);
                        let token = AccessToken(t.access_token);
                        *guard = Some(Cached {
                            token: token.clone(),
                            valid_until: Instant::now() + valid.max(Duration::from_secs(5)),
                        });
                        Ok(token)
                    }
                    _ => Err(TokenError::Transient(
                        "Entra answered 2xx without an access token".into(),
                    )),
                }
            }
            CallResult::Answered { status, body, .. } if matches!(status, 400 | 401) => {
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                Err(TokenError::Rejected {
                    status: *status,
                    error: v["error"].as_str().unwrap_or("unknown").to_owned(),
                    description: v["error_description"]
                        .as_str()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(300)
                        .collect(),
                })
            }
            other => Err(TokenError::Transient(other.describe())),
        };
        call.response = match &result {
            CallResult::Answered { body, .. } => redact_token_response(body),
            other => other.describe(),
        };
        calls.push(call);
        outcome
    }
}

/// The token response as logged: the access token replaced.
fn redact_token_response(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut m)) => {
            for k in ["access_token", "refresh_token", "id_token"] {
                if m.contains_key(k) {
                    m.insert(k.to_owned(), Value::String(REDACTED.into()));
                }
            }
            Value::Object(m).to_string()
        }
        _ => body.chars().take(2000).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses_are_logged_without_the_token() {
        let logged = redact_token_response(
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Q"}"#,
        );
        assert!(!logged.contains("eyJ0"));
        assert!(logged.contains(REDACTED));
        assert!(logged.contains("3599"));
    }

    #[test]
    fn debug_of_a_token_is_redacted() {
        assert_eq!(
            format!("{:?}", AccessToken("abc".into())),
            "AccessToken([REDACTED])"
        );
    }
}
