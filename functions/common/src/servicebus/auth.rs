//! The `Authorization` header for Service Bus: a SAS token (SPEC §10 formula) or an Entra
//! access token, each cached until near its expiry. Neither is ever logged.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Mutex;
use ucc_shared::uc::entra::parse_token_answer;
use ucc_shared::uc::secrets::{self, Secret};

use super::config::{Auth, Config, SCOPE};

/// Lifetime of a SAS token we sign.
pub const SAS_LIFETIME: Duration = Duration::from_secs(3600);
/// A cached header is replaced this long before it expires.
pub const RENEW_MARGIN: Duration = Duration::from_secs(300);

/// Why no header could be made: a configuration problem (fatal) or a transient one.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Config(String),
    #[error("Entra refused the Service Bus credential: {0}")]
    Rejected(String),
    #[error("token request failed: {0}")]
    Transient(String),
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `SharedAccessSignature sr=<enc uri>&sig=<enc base64 HMAC-SHA256(key, enc uri + "\n" +
/// expiry)>&se=<expiry>&skn=<key name>` (SPEC §10).
pub fn sas_token(resource_uri: &str, key_name: &str, key: &str, expiry_unix: u64) -> String {
    use base64::Engine;
    let sr = url_encode(resource_uri);
    let to_sign = format!("{sr}\n{expiry_unix}");
    // HMAC accepts a key of any length; this cannot fail.
    let sig = match <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!(
        "SharedAccessSignature sr={sr}&sig={}&se={expiry_unix}&skn={}",
        url_encode(&sig),
        url_encode(key_name)
    )
}

struct Cached {
    header: String,
    valid_until: Instant,
}

/// Makes and caches the header for one configuration.
pub struct Authorizer {
    auth: Auth,
    resource_uri: String,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl Authorizer {
    pub fn new(cfg: &Config, http: reqwest::Client) -> Self {
        Authorizer {
            auth: cfg.auth.clone(),
            resource_uri: cfg.entity_url(),
            http,
            cached: Mutex::new(None),
        }
    }

    /// Forgets the cached header (after a 401, so a rotated key is picked up once).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// The `Authorization` header value.
    pub async fn header(&self) -> Result<String, AuthError> {
        let mut guard = self.cached.lock().await;
        if let Some(c) = guard.as_ref().filter(|c| c.valid_until > Instant::now()) {
            return Ok(c.header.clone());
        }
        let (header, valid_for) = match &self.auth {
            Auth::Sas { key_name, key_ref } => {
                let key = resolve("UCC_SERVICEBUS_SAS_KEY_REF", key_ref).await?;
                let expiry = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .saturating_add(SAS_LIFETIME)
                    .as_secs();
                (
                    sas_token(&self.resource_uri, key_name, key.expose(), expiry),
                    SAS_LIFETIME.saturating_sub(RENEW_MARGIN),
                )
            }
            Auth::Entra {
                tenant_id,
                client_id,
                secret_ref,
                authority,
            } => {
                let secret = resolve("UCC_SERVICEBUS_CLIENT_SECRET_REF", secret_ref).await?;
                let url = format!("{authority}/{tenant_id}/oauth2/v2.0/token");
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose()),
                    ("scope", SCOPE),
                ];
                let resp = self
                    .http
                    .post(&url)
                    .form(&form)
                    .send()
                    .await
                    .map_err(|e| AuthError::Transient(e.without_url().to_string()))?;
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                let issued = parse_token_answer(status, &body).map_err(|e| match e {
                    ucc_shared::uc::entra::TokenError::Rejected { .. } => {
                        AuthError::Rejected(e.to_string())
                    }
                    other => AuthError::Transient(other.to_string()),
                })?;
                (
                    format!("Bearer {}", issued.token.bearer()),
                    issued.valid_for,
                )
            }
        };
        let now = Instant::now();
        *guard = Some(Cached {
            header: header.clone(),
            valid_until: now.checked_add(valid_for).unwrap_or(now),
        });
        Ok(header)
    }
}

/// Resolves a secret reference (SPEC §11); a secret store that cannot be reached is a
/// transient failure (receive again later), anything else a configuration error.
async fn resolve(var: &str, reference: &str) -> Result<Secret, AuthError> {
    secrets::resolve(reference).await.map_err(|e| {
        if e.is_transient() {
            AuthError::Transient(format!("{var}: {e}"))
        } else {
            AuthError::Config(format!("{var}: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_token_follows_the_documented_formula() {
        let t = sas_token(
            "https://ns.servicebus.windows.net/t/subscriptions/s",
            "RootManageSharedAccessKey",
            "c2VjcmV0",
            1_700_000_000,
        );
        assert!(t.starts_with(
            "SharedAccessSignature sr=https%3A%2F%2Fns.servicebus.windows.net%2Ft%2Fsubscriptions%2Fs&sig="
        ));
        assert!(t.ends_with("&se=1700000000&skn=RootManageSharedAccessKey"));
        assert!(!t.contains("c2VjcmV0"));
    }
}
