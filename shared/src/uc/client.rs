//! The HTTP calls to UC and Entra, with timeouts, classified so the delivery state machine
//! can decide: accepted, definitely not accepted, or ambiguous (UC may have stored it).
//!
//! Redirects are never followed (SPEC §6): a 3xx is returned as the answer. Following one
//! would turn the invoice POST into a GET whose 2xx looks like a delivery, and re-send the
//! Entra client secret to whatever host the `Location` names.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// `Retry-After` is honoured up to this long; larger or unreadable values count as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A `Retry-After` header as UC sent it (RFC 9110 §10.2.3: delta-seconds or an HTTP-date).
/// Parsing is total: whatever the bytes, the result is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delta-seconds (saturating: a number too big for u64 is `u64::MAX`).
    Seconds(u64),
    /// An HTTP-date (IMF-fixdate, RFC 850 or asctime).
    At(DateTime<Utc>),
    /// Neither: empty, negative, fractional, garbage, not ASCII.
    Invalid,
}

impl RetryAfter {
    pub fn parse(raw: &[u8]) -> RetryAfter {
        let Ok(text) = std::str::from_utf8(raw) else {
            return RetryAfter::Invalid;
        };
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            // All digits: only its size can go wrong, and too big is "a long time".
            return RetryAfter::Seconds(text.parse().unwrap_or(u64::MAX));
        }
        match httpdate::parse_http_date(text) {
            Ok(t) => RetryAfter::At(DateTime::<Utc>::from(t)),
            Err(_) => RetryAfter::Invalid,
        }
    }

    /// How long to wait from `now`: at most [`MAX_RETRY_AFTER`]; an invalid value counts as
    /// the maximum, a date in the past as zero.
    pub fn delay_from(&self, now: DateTime<Utc>) -> Duration {
        let wait = match *self {
            RetryAfter::Seconds(s) => Duration::from_secs(s),
            RetryAfter::At(t) => (t - now).to_std().unwrap_or(Duration::ZERO),
            RetryAfter::Invalid => MAX_RETRY_AFTER,
        };
        wait.min(MAX_RETRY_AFTER)
    }
}

/// What came back from one HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    Answered {
        status: u16,
        body: String,
        /// The `Retry-After` header, if the answer had one.
        retry_after: Option<RetryAfter>,
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

/// The `Retry-After` header, parsed (an unreadable one is [`RetryAfter::Invalid`], which
/// counts as the maximum wait).
fn retry_after(headers: &HeaderMap) -> Option<RetryAfter> {
    headers
        .get(RETRY_AFTER)
        .map(|v| RetryAfter::parse(v.as_bytes()))
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // Never follow: a 3xx is an answer to classify, not a place to send the request
            // (or the client secret) again.
            .redirect(reqwest::redirect::Policy::none())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
        DateTime::from_timestamp(784_111_777, 0).unwrap_or_default()
    }

    fn delay(raw: &str) -> Duration {
        RetryAfter::parse(raw.as_bytes()).delay_from(now())
    }

    #[test]
    fn delta_seconds_are_honoured_up_to_an_hour() {
        assert_eq!(delay("0"), Duration::ZERO);
        assert_eq!(delay("120"), Duration::from_secs(120));
        assert_eq!(delay(" 600 "), Duration::from_secs(600));
        assert_eq!(delay("3600"), MAX_RETRY_AFTER);
        assert_eq!(delay("3601"), MAX_RETRY_AFTER);
        assert_eq!(delay("99999999999999"), MAX_RETRY_AFTER);
        assert_eq!(delay("18446744073709551616000"), MAX_RETRY_AFTER);
        assert_eq!(
            RetryAfter::parse(b"18446744073709551616"),
            RetryAfter::Seconds(u64::MAX)
        );
    }

    #[test]
    fn broken_values_count_as_an_hour() {
        for raw in ["", " ", "-5", "+5", "1.5", "abc", "5s", "0x10", "\u{0663}"] {
            assert_eq!(
                RetryAfter::parse(raw.as_bytes()),
                RetryAfter::Invalid,
                "{raw:?}"
            );
            assert_eq!(delay(raw), MAX_RETRY_AFTER, "{raw:?}");
        }
        assert_eq!(RetryAfter::parse(&[0xff, 0x31]), RetryAfter::Invalid);
    }

    #[test]
    fn http_dates_in_all_three_formats() {
        for raw in [
            "Sun, 06 Nov 1994 08:50:37 GMT",
            "Sunday, 06-Nov-94 08:50:37 GMT",
            "Sun Nov  6 08:50:37 1994",
        ] {
            assert_eq!(delay(raw), Duration::from_secs(60), "{raw:?}");
        }
    }

    #[test]
    fn http_dates_are_capped_and_the_past_is_now() {
        assert_eq!(delay("Sun, 06 Nov 1994 10:49:37 GMT"), MAX_RETRY_AFTER);
        assert_eq!(delay("Fri, 31 Dec 9999 23:59:59 GMT"), MAX_RETRY_AFTER);
        assert_eq!(delay("Sun, 06 Nov 1994 08:49:36 GMT"), Duration::ZERO);
        assert_eq!(delay("Thu, 01 Jan 1970 00:00:00 GMT"), Duration::ZERO);
        assert_eq!(
            RetryAfter::parse(b"Sun, 06 Nov 1994 08:49:37 GMT")
                .delay_from(DateTime::<Utc>::MAX_UTC),
            Duration::ZERO
        );
        assert_eq!(
            RetryAfter::parse(b"Fri, 31 Dec 9999 23:59:59 GMT")
                .delay_from(DateTime::<Utc>::MIN_UTC),
            MAX_RETRY_AFTER
        );
    }
}
