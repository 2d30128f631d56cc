//! The Service Bus REST calls of peek-lock receive (SPEC §10): receive
//! (`POST {entity}/messages/head?timeout=N`: 201 message, 204 none), complete (`DELETE`
//! the lock URI), abandon (`PUT`), renew (`POST`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::auth::{AuthError, Authorizer};
use super::config::Config;

/// `BrokerProperties` of a received message (the fields we use).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BrokerProperties {
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub delivery_count: u32,
    #[serde(default)]
    pub lock_token: Option<String>,
    #[serde(default)]
    pub sequence_number: i64,
    /// RFC 1123 (`Sun, 06 Nov 1994 08:49:37 GMT`).
    #[serde(default)]
    pub locked_until_utc: Option<String>,
    #[serde(default)]
    pub enqueued_time_utc: Option<String>,
}

impl BrokerProperties {
    pub fn locked_until(&self) -> Option<DateTime<Utc>> {
        parse_http_date(self.locked_until_utc.as_deref()?)
    }

    pub fn enqueued(&self) -> Option<DateTime<Utc>> {
        parse_http_date(self.enqueued_time_utc.as_deref()?)
    }
}

fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    httpdate::parse_http_date(s)
        .ok()
        .map(DateTime::<Utc>::from)
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|d| d.to_utc()))
}

/// A message under lock.
#[derive(Debug, Clone)]
pub struct Locked {
    pub body: Vec<u8>,
    pub broker: BrokerProperties,
    /// Application properties, values JSON-decoded (`"\"x\""` → `"x"`).
    pub properties: Map<String, Value>,
    pub lock_uri: String,
    pub received_at: Instant,
}

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// 401/403: the key or token is wrong; nothing will work until it is fixed.
    #[error("Service Bus refused the credential (HTTP {0}): check UCC_SERVICEBUS_SAS_KEY_NAME / UCC_SERVICEBUS_SAS_KEY_REF or the Entra client")]
    Unauthorized(u16),
    /// The configuration cannot make a credential (unresolvable secret, Entra refusal).
    #[error("{0}")]
    Config(String),
    /// 404/410 on a lock URI: the lock expired or the message is gone.
    #[error("lock lost (HTTP {0})")]
    LockLost(u16),
    /// Anything worth trying again: 5xx, 429, network, timeout.
    #[error("{0}")]
    Transient(String),
}

impl From<AuthError> for BusError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Transient(m) => BusError::Transient(m),
            other => BusError::Config(other.to_string()),
        }
    }
}

/// Headers that are HTTP or broker plumbing, not application properties.
const NOT_PROPERTIES: [&str; 12] = [
    "brokerproperties",
    "location",
    "content-type",
    "content-length",
    "date",
    "server",
    "transfer-encoding",
    "strict-transport-security",
    "connection",
    "keep-alive",
    "x-ms-request-id",
    "x-ms-client-request-id",
];

pub struct Receiver {
    cfg: Config,
    http: reqwest::Client,
    auth: Authorizer,
}

impl Receiver {
    pub fn new(cfg: Config) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let auth = Authorizer::new(&cfg, http.clone());
        Ok(Receiver { cfg, http, auth })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, BusError> {
        let header = self.auth.header().await?;
        let resp = self
            .http
            .request(method, url)
            .header("Authorization", header)
            .header("Content-Length", "0")
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| BusError::Transient(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            self.auth.invalidate().await;
            return Err(BusError::Unauthorized(status));
        }
        Ok(resp)
    }

    /// Peek-lock receive, waiting up to `wait` for a message.
    pub async fn receive(&self, wait: Duration) -> Result<Option<Locked>, BusError> {
        let secs = wait.as_secs().max(1);
        let url = format!("{}/messages/head?timeout={secs}", self.cfg.entity_url());
        let resp = self
            .send(
                reqwest::Method::POST,
                &url,
                Duration::from_secs(secs) + self.cfg.http_timeout,
            )
            .await?;
        let status = resp.status().as_u16();
        match status {
            201 | 200 => {}
            204 => return Ok(None),
            _ => {
                return Err(BusError::Transient(format!(
                    "receive answered HTTP {status}"
                )))
            }
        }
        let headers = resp.headers().clone();
        let broker: BrokerProperties = headers
            .get("BrokerProperties")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| serde_json::from_str(v).ok())
            .ok_or_else(|| BusError::Transient("received without BrokerProperties".into()))?;
        let lock_uri = headers
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| BusError::Transient("received without a Location".into()))?;
        let mut properties = Map::new();
        for (name, value) in &headers {
            let n = name.as_str();
            if NOT_PROPERTIES.contains(&n) {
                continue;
            }
            let Ok(raw) = value.to_str() else { continue };
            let v = serde_json::from_str::<Value>(raw)
                .ok()
                .filter(|v| !v.is_object() && !v.is_array())
                .unwrap_or_else(|| Value::String(raw.to_owned()));
            properties.insert(n.to_owned(), v);
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| BusError::Transient(e.without_url().to_string()))?
            .to_vec();
        Ok(Some(Locked {
            body,
            broker,
            properties,
            lock_uri,
            received_at: Instant::now(),
        }))
    }

    async fn on_lock(
        &self,
        method: reqwest::Method,
        m: &Locked,
    ) -> Result<reqwest::Response, BusError> {
        let resp = self
            .send(method, &m.lock_uri, self.cfg.http_timeout)
            .await?;
        match resp.status().as_u16() {
            200..=299 => Ok(resp),
            s @ (404 | 410) => Err(BusError::LockLost(s)),
            s => Err(BusError::Transient(format!("HTTP {s}"))),
        }
    }

    pub async fn complete(&self, m: &Locked) -> Result<(), BusError> {
        self.on_lock(reqwest::Method::DELETE, m).await.map(|_| ())
    }

    pub async fn abandon(&self, m: &Locked) -> Result<(), BusError> {
        self.on_lock(reqwest::Method::PUT, m).await.map(|_| ())
    }

    /// Renews the lock; the new `LockedUntilUtc` when the broker says it.
    pub async fn renew(&self, m: &Locked) -> Result<Option<DateTime<Utc>>, BusError> {
        let resp = self.on_lock(reqwest::Method::POST, m).await?;
        Ok(resp
            .headers()
            .get("BrokerProperties")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| serde_json::from_str::<BrokerProperties>(v).ok())
            .and_then(|b| b.locked_until()))
    }
}
