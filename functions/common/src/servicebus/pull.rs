//! The pull loop: several receive loops share one handler context; each message is handled
//! by `contract::handle` and settled by its outcome (SPEC §10): every final outcome
//! completes, a transient failure abandons, a lock near expiry is renewed while the handler
//! runs, a lost lock is logged and absorbed by the handler's idempotency on redelivery.
//!
//! Every receive, settle and renewal is one structured line (target `ucc::servicebus`) with
//! the message id, sequence number, delivery count and latency; never the body or a token.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use ucc_shared::context::Ctx;
use ucc_shared::contract::{self, InboundMessage};

use super::config::Config;
use super::receiver::{BusError, Locked, Receiver};

/// The log line a lost lock writes; the `servicebus-lost-locks` alarm filters on it.
pub const LOST_LOCK_LINE: &str = "servicebus lock lost";
/// Attempts at one settle call answered 5xx/429/network before giving up on it (the lock
/// then expires and the broker redelivers).
const SETTLE_ATTEMPTS: u32 = 4;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub received: u64,
    /// Completed messages by handler outcome (applied, duplicate, stale, ignored, parked).
    pub completed: BTreeMap<String, u64>,
    pub abandoned: u64,
    pub lost_locks: u64,
    pub renewals: u64,
    /// Broker answers retried (5xx, 429, network).
    pub retried_calls: u64,
}

impl Summary {
    pub fn completed_total(&self) -> u64 {
        self.completed.values().sum()
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let by: Vec<String> = self
            .completed
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "received {}, completed {} ({}), abandoned {}, lost locks {}, renewals {}, retried calls {}",
            self.received,
            self.completed_total(),
            if by.is_empty() { "none".into() } else { by.join(", ") },
            self.abandoned,
            self.lost_locks,
            self.renewals,
            self.retried_calls
        )
    }
}

/// Why the run stopped before its time.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Unauthorized(String),
}

struct Shared {
    ctx: Arc<Ctx>,
    rx: Receiver,
    summary: Mutex<Summary>,
    fatal: Mutex<Option<PullError>>,
    stop: watch::Sender<bool>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut Summary)) {
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }

    fn fail(&self, e: PullError) {
        tracing::error!(target: "ucc::servicebus", error = %e, "servicebus pull stopped");
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(e);
        }
        self.stop.send_replace(true);
    }

    fn fatal_of(&self, e: &BusError) -> Option<PullError> {
        match e {
            BusError::Unauthorized(_) => Some(PullError::Unauthorized(e.to_string())),
            BusError::Config(m) => Some(PullError::Config(m.clone())),
            _ => None,
        }
    }
}

/// Runs `cfg.loops` receive loops until `until` (if any) or `stop` resolves; in-flight
/// messages are handled and settled before it returns. A 401/403 or an unusable credential
/// stops every loop and is returned, with nothing completed after it.
pub async fn run(
    ctx: Arc<Ctx>,
    cfg: Config,
    until: Option<Instant>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, PullError> {
    let loops = cfg.loops.max(1);
    let rx = Receiver::new(cfg).map_err(PullError::Config)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        ctx,
        rx,
        summary: Mutex::new(Summary::default()),
        fatal: Mutex::new(None),
        stop: stop_tx,
    });
    let watcher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            stop.await;
            shared.stop.send_replace(true);
        })
    };
    let mut tasks = Vec::new();
    for n in 0..loops {
        let shared = shared.clone();
        let stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(receive_loop(n, shared, until, stop_rx)));
    }
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!(target: "ucc::servicebus", error = %e, "a receive loop ended abnormally");
        }
    }
    watcher.abort();
    let summary = shared.summary.lock().map(|s| s.clone()).unwrap_or_default();
    tracing::info!(target: "ucc::servicebus", summary = %json!(summary), "servicebus pull summary");
    match shared.fatal.lock().ok().and_then(|f| f.clone()) {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

async fn receive_loop(
    n: usize,
    shared: Arc<Shared>,
    until: Option<Instant>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if *stop.borrow() {
            return;
        }
        let mut wait = shared.rx.config().receive_timeout;
        if let Some(u) = until {
            let left = u.saturating_duration_since(Instant::now());
            if left < Duration::from_millis(500) {
                return;
            }
            wait = wait.min(left);
        }
        let received = tokio::select! {
            r = shared.rx.receive(wait) => r,
            _ = stop.changed() => return,
        };
        match received {
            Ok(None) => backoff = Duration::from_millis(100),
            Ok(Some(m)) => {
                backoff = Duration::from_millis(100);
                process(&shared, m).await;
            }
            Err(e) => {
                if let Some(f) = shared.fatal_of(&e) {
                    shared.fail(f);
                    return;
                }
                shared.count(|s| s.retried_calls += 1);
                tracing::warn!(target: "ucc::servicebus", event = "receive", receive_loop = n, error = %e, backoff_ms = backoff.as_millis() as u64, "servicebus receive failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn inbound(m: &Locked) -> InboundMessage {
    let mut props = m.properties.clone();
    let b = &m.broker;
    if let Some(id) = &b.message_id {
        props.insert("MessageId".into(), Value::String(id.clone()));
    }
    props.insert("DeliveryCount".into(), json!(b.delivery_count));
    props.insert("SequenceNumber".into(), json!(b.sequence_number));
    if let Some(t) = &b.enqueued_time_utc {
        props.insert("EnqueuedTimeUtc".into(), Value::String(t.clone()));
    }
    InboundMessage {
        body: m.body.clone(),
        properties: Value::Object(props),
        message_id: b.message_id.clone(),
    }
}

/// Milliseconds from enqueue (else from receive) to now.
fn latency_ms(m: &Locked) -> u64 {
    match m.broker.enqueued() {
        Some(t) => u64::try_from((Utc::now() - t).num_milliseconds()).unwrap_or(0),
        None => u64::try_from(m.received_at.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// When to renew: halfway to `LockedUntilUtc` (at least 100 ms out), else in 30 s.
fn renew_at(locked_until: Option<chrono::DateTime<Utc>>) -> tokio::time::Instant {
    let half = locked_until
        .and_then(|u| (u - Utc::now()).to_std().ok())
        .map_or(Duration::from_secs(30), |left| left / 2)
        .max(Duration::from_millis(100));
    tokio::time::Instant::now() + half
}

macro_rules! line {
    ($lvl:ident, $m:expr, $event:expr, $outcome:expr, $msg:expr) => {
        tracing::$lvl!(
            target: "ucc::servicebus",
            event = $event,
            message_id = $m.broker.message_id.as_deref().unwrap_or(""),
            sequence_number = $m.broker.sequence_number,
            delivery_count = $m.broker.delivery_count,
            latency_ms = latency_ms($m),
            outcome = $outcome,
            $msg
        )
    };
}

async fn process(shared: &Shared, m: Locked) {
    shared.count(|s| s.received += 1);
    line!(info, &m, "receive", "received", "servicebus receive");
    let msg = inbound(&m);
    let handling = contract::handle(&shared.ctx, &msg);
    tokio::pin!(handling);
    let lock_len = m.broker.locked_until().map(|u| u - Utc::now());
    let mut next_renewal = Some(renew_at(m.broker.locked_until()));
    let result = loop {
        let sleep = async {
            match next_renewal {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut handling => break r,
            _ = sleep => {
                match shared.rx.renew(&m).await {
                    Ok(until) => {
                        shared.count(|s| s.renewals += 1);
                        line!(info, &m, "renew", "renewed", "servicebus renew");
                        // Without a new LockedUntilUtc in the answer, assume the lock was
                        // extended by the duration it had at receive.
                        next_renewal = Some(renew_at(until.or_else(|| lock_len.map(|d| Utc::now() + d))));
                    }
                    Err(BusError::LockLost(_)) => {
                        line!(warn, &m, "renew", "lock_lost", "servicebus lock lost");
                        next_renewal = None;
                    }
                    Err(e) => {
                        if let Some(f) = shared.fatal_of(&e) {
                            // Let the handler finish (its write is idempotent), settle nothing.
                            shared.fail(f);
                            next_renewal = None;
                        } else {
                            shared.count(|s| s.retried_calls += 1);
                            tracing::warn!(target: "ucc::servicebus", event = "renew", error = %e, "servicebus renew failed; retrying");
                            next_renewal = Some(tokio::time::Instant::now() + Duration::from_millis(200));
                        }
                    }
                }
            }
        }
    };
    let (complete, outcome) = match &result {
        Ok(h) => (true, h.outcome.name().to_owned()),
        Err(e) => {
            tracing::warn!(target: "ucc::servicebus", message_id = m.broker.message_id.as_deref().unwrap_or(""), error = %e, "handler failed transiently; abandoning");
            (false, "abandoned".to_owned())
        }
    };
    if shared.fatal.lock().map(|f| f.is_some()).unwrap_or(false) {
        return;
    }
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=SETTLE_ATTEMPTS {
        let r = if complete {
            shared.rx.complete(&m).await
        } else {
            shared.rx.abandon(&m).await
        };
        match r {
            Ok(()) => {
                shared.count(|s| {
                    if complete {
                        *s.completed.entry(outcome.clone()).or_default() += 1;
                    } else {
                        s.abandoned += 1;
                    }
                });
                line!(
                    info,
                    &m,
                    if complete { "complete" } else { "abandon" },
                    outcome.as_str(),
                    "servicebus settle"
                );
                return;
            }
            Err(BusError::LockLost(_)) => {
                shared.count(|s| s.lost_locks += 1);
                line!(
                    warn,
                    &m,
                    if complete { "complete" } else { "abandon" },
                    "lock_lost",
                    "servicebus lock lost"
                );
                return;
            }
            Err(e) => {
                if let Some(f) = shared.fatal_of(&e) {
                    shared.fail(f);
                    return;
                }
                shared.count(|s| s.retried_calls += 1);
                tracing::warn!(target: "ucc::servicebus", event = "settle", attempt, error = %e, "servicebus settle failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    line!(
        warn,
        &m,
        "settle",
        "unsettled",
        "servicebus settle gave up; the broker redelivers after the lock"
    );
}
