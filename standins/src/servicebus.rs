//! A Service Bus stand-in written from Microsoft's REST protocol for peek-lock receive:
//! "Peek-Lock Message (Non-Destructive Read)" (`POST {entity}/messages/head?timeout=N`: 201
//! with the body, a `BrokerProperties` JSON header, application properties as headers and a
//! `Location` lock URI; 204 when nothing arrives within N seconds), "Delete Message"
//! (`DELETE` lock URI = complete), "Unlock Message" (`PUT` = abandon) and "Renew-Lock for a
//! Message" (`POST`). A settle or renewal with an expired or unknown lock answers 404.
//!
//! It models lock tokens with a lock duration (an expired lock makes the message available
//! again), `DeliveryCount` and `MaxDeliveryCount` (the message moves to an inspectable
//! dead-letter list), SAS signature checks (the HMAC is recomputed; a wrong key or an
//! expired token answers 401), long polls, and injected 500/503 answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::Notify;

/// How the stand-in behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// `TOPIC/subscriptions/SUBSCRIPTION`.
    pub entity: String,
    pub key_name: String,
    pub key: String,
    /// A `Bearer` token accepted instead of a SAS (Entra), if any.
    pub bearer: Option<String>,
    pub lock_duration: Duration,
    pub max_delivery_count: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            entity: "contracts/subscriptions/ucc".into(),
            key_name: "ucc-listen".into(),
            key: "c3RhbmQtaW4gc2VydmljZSBidXMga2V5".into(),
            bearer: None,
            lock_duration: Duration::from_secs(30),
            max_delivery_count: 10,
        }
    }
}

/// A dead-lettered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub delivery_count: u32,
    pub reason: String,
}

struct Lock {
    token: String,
    until: Instant,
    until_utc: DateTime<Utc>,
}

struct Msg {
    id: String,
    seq: i64,
    body: Vec<u8>,
    props: Vec<(String, String)>,
    enqueued: DateTime<Utc>,
    delivery_count: u32,
    lock: Option<Lock>,
}

#[derive(Default)]
struct Inner {
    next_seq: i64,
    next_lock: u64,
    messages: Vec<Msg>,
    completed: Vec<String>,
    dead: Vec<DeadLetter>,
    faults: VecDeque<u16>,
    refuse_renewals: bool,
    unauthorized: u64,
    settles_404: u64,
    renewals: u64,
}

struct Shared {
    opts: Options,
    inner: Mutex<Inner>,
    notify: Notify,
    /// Base URL the SAS resource URI must match (`http://127.0.0.1:PORT`).
    base: String,
}

/// A running stand-in; stops when dropped.
pub struct ServiceBusStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ServiceBusStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn rfc1123(t: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(t.into())
}

impl ServiceBusStandIn {
    /// Serves on a free loopback port.
    pub async fn start(opts: Options) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            opts,
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            base: format!("http://{addr}"),
        });
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ServiceBusStandIn { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`, for `UCC_SERVICEBUS_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.shared.base.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn options(&self) -> &Options {
        &self.shared.opts
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = match self.shared.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Enqueues a message with application properties (string values); returns its id.
    pub fn enqueue(&self, body: impl Into<Vec<u8>>, props: &[(&str, &str)]) -> String {
        let id = self.with(|i| {
            i.next_seq += 1;
            let id = format!("msg-{:06}", i.next_seq);
            i.messages.push(Msg {
                id: id.clone(),
                seq: i.next_seq,
                body: body.into(),
                props: props
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                enqueued: Utc::now(),
                delivery_count: 0,
                lock: None,
            });
            id
        });
        self.shared.notify.notify_waiters();
        id
    }

    /// The next `n` requests (after nothing else) answer `status` (e.g. 500, 503).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.with(|i| i.faults.extend(std::iter::repeat_n(status, n)));
    }

    /// Renewals answer 404 as for a lost lock.
    pub fn refuse_renewals(&self, refuse: bool) {
        self.with(|i| i.refuse_renewals = refuse);
    }

    /// Ids of completed messages, in completion order (an id twice would be a bug).
    pub fn completed(&self) -> Vec<String> {
        self.with(|i| i.completed.clone())
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.with(|i| i.dead.clone())
    }

    /// Messages neither completed nor dead-lettered (locked or available).
    pub fn remaining(&self) -> Vec<String> {
        self.with(|i| i.messages.iter().map(|m| m.id.clone()).collect())
    }

    /// Messages under a valid lock right now.
    pub fn in_flight(&self) -> Vec<String> {
        let now = Instant::now();
        self.with(|i| {
            i.messages
                .iter()
                .filter(|m| m.lock.as_ref().is_some_and(|l| l.until > now))
                .map(|m| m.id.clone())
                .collect()
        })
    }

    /// Delivery count of a message still held (not completed/dead-lettered).
    pub fn delivery_count(&self, id: &str) -> Option<u32> {
        self.with(|i| {
            i.messages
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.delivery_count)
        })
    }

    /// Requests refused with 401.
    pub fn unauthorized(&self) -> u64 {
        self.with(|i| i.unauthorized)
    }

    /// Settles answered 404 (lock expired or unknown).
    pub fn lost_settles(&self) -> u64 {
        self.with(|i| i.settles_404)
    }

    pub fn renewals(&self) -> u64 {
        self.with(|i| i.renewals)
    }

    /// Waits until `cond` holds or `deadline` passes; true if it held.
    pub async fn wait_for(&self, deadline: Duration, cond: impl Fn(&Self) -> bool) -> bool {
        let end = Instant::now() + deadline;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn lock_inner(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    match s.inner.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn status(code: u16) -> Response {
    StatusCode::from_u16(code)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Checks the `Authorization` header against the key, recomputing the SAS HMAC.
fn authorized(shared: &Shared, headers: &HeaderMap, path: &str) -> bool {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return shared.opts.bearer.as_deref() == Some(token);
    }
    let Some(rest) = auth.strip_prefix("SharedAccessSignature ") else {
        return false;
    };
    let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
    for pair in rest.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sr" => sr = Some(v),
            "sig" => sig = Some(v),
            "se" => se = Some(v),
            "skn" => skn = Some(v),
            _ => {}
        }
    }
    let (Some(sr), Some(sig), Some(se), Some(skn)) = (sr, sig, se, skn) else {
        return false;
    };
    if percent_decode(skn) != shared.opts.key_name {
        return false;
    }
    let Ok(expiry) = se.parse::<i64>() else {
        return false;
    };
    if expiry < Utc::now().timestamp() {
        return false;
    }
    let resource = percent_decode(sr).to_ascii_lowercase();
    let target = format!("{}{}", shared.base, path).to_ascii_lowercase();
    if !target.starts_with(resource.trim_end_matches('/')) {
        return false;
    }
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(shared.opts.key.as_bytes()) else {
        return false;
    };
    mac.update(format!("{sr}\n{se}").as_bytes());
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(percent_decode(sig)) else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if let Some(code) = lock_inner(&shared).faults.pop_front() {
        return status(code);
    }
    if !authorized(&shared, &headers, &path) {
        lock_inner(&shared).unauthorized += 1;
        return (
            StatusCode::UNAUTHORIZED,
            "InvalidSignature: the token has an invalid signature",
        )
            .into_response();
    }
    let prefix = format!("/{}/messages/", shared.opts.entity);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return status(404);
    };
    if rest == "head" {
        if method != Method::POST {
            return status(405);
        }
        let wait = uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "timeout")
                    .and_then(|(_, v)| v.parse::<u64>().ok())
            })
            .unwrap_or(60);
        return receive(&shared, Duration::from_secs(wait)).await;
    }
    let Some((id, token)) = rest.split_once('/') else {
        return status(404);
    };
    let now = Instant::now();
    let mut g = lock_inner(&shared);
    let Some(pos) = g.messages.iter().position(|m| {
        m.id == id
            && m.lock
                .as_ref()
                .is_some_and(|l| l.token == token && l.until > now)
    }) else {
        g.settles_404 += 1;
        return status(404);
    };
    match method {
        Method::DELETE => {
            let m = g.messages.remove(pos);
            g.completed.push(m.id);
            status(200)
        }
        Method::PUT => {
            let max = shared.opts.max_delivery_count;
            let m = &mut g.messages[pos];
            m.lock = None;
            if m.delivery_count >= max {
                let m = g.messages.remove(pos);
                g.dead.push(DeadLetter {
                    message_id: m.id,
                    delivery_count: m.delivery_count,
                    reason: "MaxDeliveryCountExceeded".into(),
                });
            }
            drop(g);
            shared.notify.notify_waiters();
            status(200)
        }
        Method::POST => {
            if g.refuse_renewals {
                g.settles_404 += 1;
                return status(404);
            }
            g.renewals += 1;
            let d = shared.opts.lock_duration;
            let m = &mut g.messages[pos];
            let until_utc = Utc::now() + chrono::Duration::from_std(d).unwrap_or_default();
            if let Some(l) = m.lock.as_mut() {
                l.until = now + d;
                l.until_utc = until_utc;
            }
            let props = broker_properties(m);
            let mut resp = status(200);
            if let Ok(v) = HeaderValue::from_str(&props) {
                resp.headers_mut().insert("BrokerProperties", v);
            }
            resp
        }
        _ => status(405),
    }
}

fn broker_properties(m: &Msg) -> String {
    let (token, until) = m
        .lock
        .as_ref()
        .map(|l| (l.token.clone(), rfc1123(l.until_utc)))
        .unwrap_or_default();
    json!({
        "DeliveryCount": m.delivery_count,
        "EnqueuedSequenceNumber": 0,
        "EnqueuedTimeUtc": rfc1123(m.enqueued),
        "LockToken": token,
        "LockedUntilUtc": until,
        "MessageId": m.id,
        "SequenceNumber": m.seq,
        "State": "Active",
        "TimeToLive": 1_209_600
    })
    .to_string()
}

/// Locks the first available message (dead-lettering one whose lock expired at its last
/// allowed delivery), or None.
fn take(shared: &Shared) -> Option<Response> {
    let mut g = match shared.inner.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let now = Instant::now();
    let max = shared.opts.max_delivery_count;
    let mut i = 0;
    while i < g.messages.len() {
        let m = &g.messages[i];
        let expired = m.lock.as_ref().is_some_and(|l| l.until <= now);
        if expired && m.delivery_count >= max {
            let m = g.messages.remove(i);
            g.dead.push(DeadLetter {
                message_id: m.id,
                delivery_count: m.delivery_count,
                reason: "MaxDeliveryCountExceeded".into(),
            });
            continue;
        }
        if m.lock.is_none() || expired {
            g.next_lock += 1;
            let token = format!("{:08x}-5b1f-4c1e-8a8e-{:012x}", g.next_lock, g.next_lock);
            let d = shared.opts.lock_duration;
            let m = &mut g.messages[i];
            m.delivery_count += 1;
            m.lock = Some(Lock {
                token: token.clone(),
                until: now + d,
                until_utc: Utc::now() + chrono::Duration::from_std(d).unwrap_or_default(),
            });
            let mut resp = (StatusCode::CREATED, m.body.clone()).into_response();
            let h = resp.headers_mut();
            let location = format!(
                "{}/{}/messages/{}/{}",
                shared.base, shared.opts.entity, m.id, token
            );
            if let Ok(v) = HeaderValue::from_str(&broker_properties(m)) {
                h.insert("BrokerProperties", v);
            }
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert("Location", v);
            }
            h.insert(
                "Content-Type",
                HeaderValue::from_static("application/atom+xml;type=entry;charset=utf-8"),
            );
            for (k, v) in &m.props {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&serde_json::Value::String(v.clone()).to_string()),
                ) {
                    h.insert(n, v);
                }
            }
            return Some(resp);
        }
        i += 1;
    }
    None
}

/// The earliest moment a locked message becomes available again.
fn next_expiry(shared: &Shared) -> Option<Instant> {
    let g = shared.inner.lock().ok()?;
    g.messages
        .iter()
        .filter_map(|m| m.lock.as_ref().map(|l| l.until))
        .min()
}

async fn receive(shared: &Shared, wait: Duration) -> Response {
    let end = Instant::now() + wait;
    loop {
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(r) = take(shared) {
            return r;
        }
        let now = Instant::now();
        if now >= end {
            return status(204);
        }
        let wake = next_expiry(shared)
            .filter(|t| *t > now)
            .map_or(end, |t| t.min(end));
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
    }
}
