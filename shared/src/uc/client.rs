//! The HTTP calls to UC and Entra, with timeouts, classified so the delivery state machine
//! can decide: accepted, definitely not accepted, or ambiguous (UC may have stored it).

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// What came back from one HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    Answered {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// No answer in time: the request may or may not have been processed.
    TimedOut,
    /// The connection could not be opened: the request was certainly not processed.
    ConnectFailed(String),
    /// The connection broke after the request may have been sent.
    Broken(String),
}

impl CallResult {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallResult::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The code logged for this call: the HTTP status, or 0 when there was no answer.
    pub fn log_code(&self) -> u16 {
        self.status().unwrap_or(0)
    }

    pub fn describe(&self) -> String {
        match self {
            CallResult::Answered { status, body, .. } => {
                format!(
                    "HTTP {status}: {}",
                    body.chars().take(300).collect::<String>()
                )
            }
            CallResult::TimedOut => "timed out waiting for the answer".into(),
            CallResult::ConnectFailed(e) => format!("connection failed: {e}"),
            CallResult::Broken(e) => format!("connection broken: {e}"),
        }
    }
}

#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
}

/// Retry-After as seconds (HTTP dates are rare from UC; treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!(
                "utility-cloud-connector/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpClient { http })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (CallResult, Duration) {
        let started = Instant::now();
        let result = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let ra = retry_after(resp.headers());
                match resp.text().await {
                    Ok(body) => CallResult::Answered {
                        status,
                        body,
                        retry_after: ra,
                    },
                    Err(e) if e.is_timeout() => CallResult::TimedOut,
                    Err(e) => CallResult::Broken(without_url(&e)),
                }
            }
            Err(e) if e.is_timeout() => CallResult::TimedOut,
            Err(e) if e.is_connect() => CallResult::ConnectFailed(without_url(&e)),
            Err(e) => CallResult::Broken(without_url(&e)),
        };
        (result, started.elapsed())
    }

    pub async fn post_json(&self, url: &str, bearer: &str, body: &str) -> (CallResult, Duration) {
        self.send(
            self.http
                .post(url)
                .bearer_auth(bearer)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    pub async fn get(&self, url: &str, bearer: &str) -> (CallResult, Duration) {
        self.send(self.http.get(url).bearer_auth(bearer)).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> (CallResult, Duration) {
        self.send(self.http.post(url).form(form)).await
    }
}

/// reqwest errors print the URL; ours carry no secrets, but keep messages short and stable.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
