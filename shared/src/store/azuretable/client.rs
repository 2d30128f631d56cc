//! The Table service REST API over reqwest: SharedKey signing or a managed-identity bearer
//! token, point and range queries with continuation, `$batch` change sets, table creation.
//! Transient answers (500, 503, timeouts, refused connections) are retried a few times with
//! backoff where a retry cannot apply a write twice, and otherwise reported as
//! `StoreError::Unavailable`, which every handler treats as "redeliver later".

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use tokio::sync::Mutex;

use super::batch::{self, EntityOp, Outcome};
use crate::store::StoreError;
use crate::uc::secrets::Secret;

const API_VERSION: &str = "2019-02-02";
/// Attempts of a request that is safe to repeat (reads, and batches the service refused
/// before doing anything: 503 ServerBusy, a connection never made).
const ATTEMPTS: u32 = 4;
/// The managed identity's token is renewed this long before it expires.
const TOKEN_MARGIN_S: i64 = 300;

pub enum Credential {
    /// The storage account key (base64), for SharedKey signing.
    SharedKey(Secret),
    /// The Function App's managed identity (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`).
    ManagedIdentity { endpoint: String, header: Secret },
}

pub struct Client {
    http: reqwest::Client,
    /// `https://ACCOUNT.table.core.windows.net` or, for Azurite, `http://host:port/ACCOUNT`.
    endpoint: String,
    /// The path part of `endpoint` (`""` or `/ACCOUNT`): SharedKey signs it.
    base_path: String,
    account: String,
    table: String,
    credential: Credential,
    token: Mutex<Option<(Secret, i64)>>,
    counts: Counts,
}

/// Requests sent to the service, as billed: every query page and every `$batch` is one
/// transaction; `entity_writes` counts the entities inside the batches.
#[derive(Default)]
struct Counts {
    queries: AtomicU64,
    batches: AtomicU64,
    entity_writes: AtomicU64,
}

/// What [`Client::requests`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    pub queries: u64,
    pub batches: u64,
    pub entity_writes: u64,
}

/// One entity as read: its properties (with PartitionKey and RowKey) and ETag.
#[derive(Debug, Clone)]
pub struct Entity {
    pub props: Map<String, Value>,
    pub etag: String,
}

impl Entity {
    pub fn row(&self) -> &str {
        self.props
            .get("RowKey")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A page of a query and the service's continuation, if any.
pub struct QueryPage {
    pub entities: Vec<Entity>,
    pub next: Option<(String, String)>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("Azure Table Storage: {e}"))
}

impl Client {
    pub fn new(
        endpoint: &str,
        account: &str,
        table: &str,
        credential: Credential,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let url = url::Url::parse(endpoint).map_err(|e| {
            StoreError::Invalid(format!(
                "Azure Table endpoint {endpoint:?} is not a URL: {e}"
            ))
        })?;
        let loopback = matches!(
            url.host_str(),
            Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
        );
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(StoreError::Invalid(format!(
                "Azure Table endpoint {endpoint:?} must be https:// (plain http only on loopback)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StoreError::Invalid(format!("HTTP client: {e}")))?;
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Ok(Client {
            http,
            base_path: url.path().trim_end_matches('/').to_owned(),
            endpoint,
            account: account.to_owned(),
            table: table.to_owned(),
            credential,
            token: Mutex::new(None),
            counts: Counts::default(),
        })
    }

    /// Requests sent so far, for `make bench`: batches with their retries, query pages
    /// once each (a page repeated after a 503 is not counted again).
    pub fn requests(&self) -> RequestCounts {
        RequestCounts {
            queries: self.counts.queries.load(Ordering::Relaxed),
            batches: self.counts.batches.load(Ordering::Relaxed),
            entity_writes: self.counts.entity_writes.load(Ordering::Relaxed),
        }
    }

    pub fn table_url(&self) -> String {
        format!("{}/{}", self.endpoint, self.table)
    }

    /// Creates the table unless it exists.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let body = serde_json::json!({ "TableName": self.table }).to_string();
        let (status, text, _) = self
            .send_retrying("POST", "Tables", "", Some(("application/json", body)), &[])
            .await?;
        match status {
            201 | 204 | 409 => Ok(()),
            _ => Err(self.error("create the table", status, &text)),
        }
    }

    /// Entities of `partition` (and, when given, RowKey `>= from` / `> after`, `< to` or
    /// `<= to_incl`), in RowKey order, from the service's continuation `cont`.
    pub async fn query(
        &self,
        filter: &str,
        top: usize,
        cont: Option<&(String, String)>,
        select: Option<&str>,
    ) -> Result<QueryPage, StoreError> {
        let mut query = format!(
            "$filter={}&$top={}",
            batch::encode(filter),
            top.clamp(1, 1000)
        );
        if let Some(s) = select {
            query.push_str(&format!("&$select={}", batch::encode(s)));
        }
        if let Some((pk, rk)) = cont {
            query.push_str(&format!(
                "&NextPartitionKey={}&NextRowKey={}",
                batch::encode(pk),
                batch::encode(rk)
            ));
        }
        let path = format!("{}()", self.table);
        self.counts.queries.fetch_add(1, Ordering::Relaxed);
        let (status, text, headers) = self.send_retrying("GET", &path, &query, None, &[]).await?;
        if status != 200 {
            return Err(self.error("query", status, &text));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| unavailable(format!("unreadable query answer: {e}")))?;
        let entities = v["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        let props = e.as_object()?.clone();
                        let etag = props
                            .get("odata.etag")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        Some(Entity { props, etag })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        };
        let next = match (
            header("x-ms-continuation-nextpartitionkey"),
            header("x-ms-continuation-nextrowkey"),
        ) {
            (Some(p), r) => Some((p, r.unwrap_or_default())),
            _ => None,
        };
        Ok(QueryPage { entities, next })
    }

    /// Runs one change set on `partition`. A batch whose fate is unknown (a 500, a timeout
    /// after it was sent) is not repeated: it may have committed, and the caller's own
    /// conditions decide what a redelivery does.
    pub async fn batch(&self, partition: &str, ops: &[EntityOp]) -> Result<Outcome, StoreError> {
        let id = {
            let mut r = [0u8; 8];
            let _ = getrandom::fill(&mut r);
            hex::encode(r)
        };
        let (content_type, body) = batch::request(&self.table_url(), partition, ops, &id);
        if body.len() > MAX_BATCH_BYTES {
            return Err(StoreError::Invalid(format!(
                "a transaction of {} bytes is over Azure's 4 MiB limit for one",
                body.len()
            )));
        }
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=ATTEMPTS {
            self.counts.batches.fetch_add(1, Ordering::Relaxed);
            self.counts
                .entity_writes
                .fetch_add(ops.len() as u64, Ordering::Relaxed);
            let sent = self
                .send_once(
                    "POST",
                    "$batch",
                    "",
                    Some((&content_type, body.clone())),
                    &[],
                )
                .await;
            match sent {
                Ok((202, text, _)) => {
                    return batch::parse_response(&text).map_err(unavailable);
                }
                // ServerBusy: refused before doing anything, safe to repeat.
                Ok((503, _, _)) if attempt < ATTEMPTS => {}
                Ok((status, text, _)) if status >= 500 => {
                    return Err(self.error("commit a transaction", status, &text))
                }
                Ok((status, text, _)) => {
                    // A 4xx for the whole batch (not one operation): a malformed request.
                    let (code, message) = batch::error_of(&text);
                    return Err(StoreError::Invalid(format!(
                        "Azure Table Storage refused a transaction: {status} {code} {message}"
                    )));
                }
                Err(Transport::NotSent(e)) if attempt < ATTEMPTS => {
                    tracing::debug!(error = %e, "Azure Table batch not sent, retrying");
                }
                Err(Transport::NotSent(e) | Transport::Unknown(e)) => return Err(unavailable(e)),
            }
            tokio::time::sleep(jittered(delay)).await;
            delay *= 2;
        }
        Err(unavailable("the service stayed busy"))
    }

    fn error(&self, what: &str, status: u16, text: &str) -> StoreError {
        let (code, message) = batch::error_of(text);
        let first_line = message.lines().next().unwrap_or_default();
        let msg = format!(
            "cannot {what} on table {}: {status} {code} {first_line}",
            self.table
        );
        if status >= 500 || status == 408 || status == 429 {
            unavailable(msg)
        } else if status == 401 || status == 403 {
            // Credentials are configuration, and a wrong key fails every request alike;
            // still, a message is never worth losing over it: the platform redelivers.
            unavailable(format!(
                "{msg} (check the account key or the identity's role)"
            ))
        } else {
            StoreError::Invalid(msg)
        }
    }

    /// A request that is safe to repeat, retried on transient failures.
    async fn send_retrying(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<(&str, String)>,
        extra: &[(&str, &str)],
    ) -> Result<(u16, String, reqwest::header::HeaderMap), StoreError> {
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=ATTEMPTS {
            let r = self
                .send_once(method, path, query, body.clone(), extra)
                .await;
            match r {
                Ok((s, _, _)) if (s == 500 || s == 503) && attempt < ATTEMPTS => {}
                Ok(ok) => return Ok(ok),
                Err(_) if attempt < ATTEMPTS => {}
                Err(Transport::NotSent(e) | Transport::Unknown(e)) => return Err(unavailable(e)),
            }
            tokio::time::sleep(jittered(delay)).await;
            delay *= 2;
        }
        Err(unavailable("the service stayed unavailable"))
    }

    async fn send_once(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<(&str, String)>,
        extra: &[(&str, &str)],
    ) -> Result<(u16, String, reqwest::header::HeaderMap), Transport> {
        let url = if query.is_empty() {
            format!("{}/{path}", self.endpoint)
        } else {
            format!("{}/{path}?{query}", self.endpoint)
        };
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let content_type = body.as_ref().map(|(ct, _)| *ct).unwrap_or_default();
        let authorization = self
            .authorization(method, content_type, &date, path)
            .await
            .map_err(Transport::NotSent)?;
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Transport::NotSent(e.to_string()))?;
        let mut req = self
            .http
            .request(m, &url)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("Accept", "application/json;odata=minimalmetadata")
            .header("DataServiceVersion", "3.0;NetFx")
            .header("MaxDataServiceVersion", "3.0;NetFx")
            .header("Authorization", authorization);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some((ct, b)) = body {
            req = req.header("Content-Type", ct).body(b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                Transport::NotSent(format!("cannot connect: {e}"))
            } else {
                Transport::Unknown(format!("no answer: {e}"))
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp
            .text()
            .await
            .map_err(|e| Transport::Unknown(format!("answer cut off: {e}")))?;
        Ok((status, text, headers))
    }

    async fn authorization(
        &self,
        method: &str,
        content_type: &str,
        date: &str,
        path: &str,
    ) -> Result<String, String> {
        match &self.credential {
            Credential::SharedKey(key) => {
                let resource = format!("/{}{}/{path}", self.account, self.base_path);
                let to_sign = format!("{method}\n\n{content_type}\n{date}\n{resource}");
                let sig = shared_key_signature(key, &to_sign)?;
                Ok(format!("SharedKey {}:{sig}", self.account))
            }
            Credential::ManagedIdentity { endpoint, header } => {
                let token = self.identity_token(endpoint, header).await?;
                Ok(format!("Bearer {}", token.expose()))
            }
        }
    }

    /// The identity's token for `https://storage.azure.com/`, cached until shortly before
    /// it expires; one refresh at a time.
    async fn identity_token(&self, endpoint: &str, header: &Secret) -> Result<Secret, String> {
        let mut cached = self.token.lock().await;
        let now = crate::store::now_unix();
        if let Some((t, exp)) = cached.as_ref() {
            if *exp - TOKEN_MARGIN_S > now {
                return Ok(t.clone());
            }
        }
        let (token, expires_on) = crate::azure_identity::request_token(
            &self.http,
            endpoint,
            header.expose(),
            "https://storage.azure.com/",
        )
        .await?;
        *cached = Some((token.clone(), expires_on));
        Ok(token)
    }
}

/// The body of an Azure Table `$batch` may be at most 4 MiB.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

enum Transport {
    /// The request never reached the service: repeating it cannot apply anything twice.
    NotSent(String),
    /// Sent, outcome unknown.
    Unknown(String),
}

fn jittered(d: Duration) -> Duration {
    let mut r = [0u8; 1];
    let _ = getrandom::fill(&mut r);
    d + Duration::from_millis(u64::from(r[0]) % 50)
}

/// base64(HMAC-SHA256(base64-decoded key, text)).
pub fn shared_key_signature(key: &Secret, text: &str) -> Result<String, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key.expose().trim())
        .map_err(|_| "the storage account key is not base64".to_owned())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&raw)
        .map_err(|_| "the storage account key cannot be used for HMAC".to_owned())?;
    mac.update(text.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // HMAC-SHA256 with key "key" of the pangram (RFC 4231-style published example).
        let key = Secret::new(base64::engine::general_purpose::STANDARD.encode("key"));
        assert_eq!(
            shared_key_signature(&key, "The quick brown fox jumps over the lazy dog").unwrap(),
            base64::engine::general_purpose::STANDARD.encode(
                hex::decode("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
                    .unwrap()
            )
        );
        assert!(shared_key_signature(&Secret::new("not base64!"), "x").is_err());
    }
}
