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
/// A token is cached at least this long (when Entra grants less than the margin) ...
pub const MIN_TOKEN_CACHE: Duration = Duration::from_secs(5);
/// ... and at most this long, whatever `expires_in` says (Entra's are about an hour).
pub const MAX_TOKEN_CACHE: Duration = Duration::from_secs(24 * 3600);

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
    /// Timeout, 3xx (never followed), 5xx, 429, network: try again later.
    #[error("token request failed: {0}")]
    Transient(String),
}

/// A token Entra issued and how long to reuse it: its lifetime minus [`EXPIRY_MARGIN`],
/// within [`MIN_TOKEN_CACHE`]..=[`MAX_TOKEN_CACHE`].
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: AccessToken,
    pub valid_for: Duration,
}

/// Entra's answer to a token request (SPEC §6), pure: a token only from a 2xx carrying a
/// non-empty `access_token`; 400/401 refuse the credential; anything else (3xx, 429, 5xx, a
/// 2xx without a token) is transient. Never panics, whatever the body.
pub fn parse_token_answer(status: u16, body: &str) -> Result<Issued, TokenError> {
    match status {
        200..=299 => match serde_json::from_str::<TokenResponse>(body) {
            Ok(t) if !t.access_token.is_empty() => {
                let lifetime = t
                    .expires_in
                    .as_ref()
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
                    .unwrap_or(300);
                let valid_for = Duration::from_secs(lifetime)
                    .saturating_sub(EXPIRY_MARGIN)
                    .clamp(MIN_TOKEN_CACHE, MAX_TOKEN_CACHE);
                Ok(Issued {
                    token: AccessToken(t.access_token),
                    valid_for,
                })
            }
            _ => Err(TokenError::Transient(
                "Entra answered 2xx without an access token".into(),
            )),
        },
        400 | 401 => {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            Err(TokenError::Rejected {
                status,
                error: v["error"]
                    .as_str()
                    .unwrap_or("unknown")
                    .chars()
                    .take(100)
                    .collect(),
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
        _ => Err(TokenError::Transient(format!(
            "HTTP {status}: {}",
            body.chars().take(300).collect::<String>()
        ))),
    }
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
        let reference = cfg.uc.client_secret_ref.as_str();
        let secret = secrets::resolve(reference).await?;
        let mut outcome = request(http, cfg, &secret, calls).await;
        if matches!(outcome, Err(TokenError::Rejected { .. })) && secrets::is_remote(reference) {
            // The cached value may be one rotated away: ask the store again, and try once
            // more only when it now says something else (SPEC §11).
            secrets::invalidate(reference);
            let fresh = secrets::resolve(reference).await?;
            if fresh != secret {
                tracing::info!(
                    tenant = %cfg.gln,
                    reference,
                    "Entra refused the cached client secret; retrying with the re-resolved one"
                );
                outcome = request(http, cfg, &fresh, calls).await;
            }
        }
        let issued = outcome?;
        let now = Instant::now();
        *guard = Some(Cached {
            token: issued.token.clone(),
            // Capped above, so this cannot overflow; if it did, do not cache.
            valid_until: now.checked_add(issued.valid_for).unwrap_or(now),
        });
        Ok(issued.token)
    }
}

/// One token request with `secret`; the call (redacted) goes to `calls`.
async fn request(
    http: &HttpClient,
    cfg: &TenantConfig,
    secret: &secrets::Secret,
    calls: &mut Vec<TokenCall>,
) -> Result<Issued, TokenError> {
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
    let outcome = match &result {
        CallResult::Answered { status, body, .. } => parse_token_answer(*status, body),
        other => Err(TokenError::Transient(other.describe())),
    };
    calls.push(TokenCall {
        url: cfg.uc.token_url.clone(),
        request: logged_request,
        status: result.log_code(),
        response: match &result {
            CallResult::Answered { body, .. } => redact_token_response(body),
            other => other.describe(),
        },
        duration,
    });
    outcome
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
    fn token_answers_are_parsed_without_trusting_them() {
        let ok = parse_token_answer(
            200,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"abc"}"#,
        );
        let ok = ok.map(|i| (i.token.bearer().to_owned(), i.valid_for));
        assert_eq!(
            ok.ok(),
            Some(("abc".to_owned(), Duration::from_secs(3599 - 120)))
        );
        // Absurd lifetimes are bounded both ways (an Instant + u64::MAX s would panic).
        for (expires_in, valid_for) in [
            ("18446744073709551615", MAX_TOKEN_CACHE),
            ("\"99999999999999999999\"", Duration::from_secs(300 - 120)),
            ("0", MIN_TOKEN_CACHE),
            ("-1", Duration::from_secs(300 - 120)),
            ("\" 7200 \"", Duration::from_secs(7200 - 120)),
        ] {
            let body = format!(r#"{{"access_token":"abc","expires_in":{expires_in}}}"#);
            let got = parse_token_answer(200, &body).map(|i| i.valid_for);
            assert_eq!(got.ok(), Some(valid_for), "{expires_in}");
        }
        // A token only ever comes from a 2xx.
        let body = r#"{"access_token":"abc","expires_in":3599}"#;
        for status in [
            100, 204, 301, 302, 307, 308, 400, 401, 403, 429, 500, 503, 999,
        ] {
            let got = parse_token_answer(status, body);
            assert_eq!(got.is_ok(), (200..300).contains(&status), "{status}");
        }
        assert!(matches!(
            parse_token_answer(307, body),
            Err(TokenError::Transient(_))
        ));
        assert!(matches!(
            parse_token_answer(401, "not json"),
            Err(TokenError::Rejected { status: 401, .. })
        ));
        assert!(matches!(
            parse_token_answer(200, r#"{"access_token":""}"#),
            Err(TokenError::Transient(_))
        ));
    }

    #[test]
    fn debug_of_a_token_is_redacted() {
        assert_eq!(
            format!("{:?}", AccessToken("abc".into())),
            "AccessToken([REDACTED])"
        );
    }
}
