//! The Service Bus pull path (`--mode servicebus`): contract events enqueued on the
//! loopback Service Bus stand-in, received by the real pull adapter
//! (`ucc_functions::servicebus::run`, REST peek-lock) with 1 and 4 receive loops, handled
//! by the contract handler on the store and completed. Per loop count: a trickle (one
//! message at a time on an idle queue, the latency a lone event sees) and a burst (all
//! messages enqueued at once, the drain rate and the latency under that backlog).
//!
//! Latency is from the bench's own enqueue timestamp to the moment the bench sees the
//! message in the stand-in's completed set, polled every millisecond: the adapter completes
//! a message only after the handler has written the driver, so this is enqueue-to-driver
//! plus one loopback completion call and at most one poll interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use ucc_functions::servicebus::{self, Config, Summary};
use ucc_shared::context::Ctx;
use ucc_shared::store::Store;
use ucc_standins::servicebus::{Options, ServiceBusStandIn};
use ucc_tests::fixtures::{event, NORDLYS, SVEA};

/// How long one batch may take before the run is declared failed.
const DEADLINE: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(1);

#[derive(Serialize)]
pub struct Batch {
    /// "trickle" or "burst".
    pub name: &'static str,
    pub messages: usize,
    pub wall_secs: f64,
    pub messages_per_sec: f64,
    pub messages_per_sec_per_loop: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Serialize)]
pub struct LoopRun {
    pub loops: usize,
    pub batches: Vec<Batch>,
    /// The adapter's own summary (received, completed by outcome, abandoned, lost locks).
    pub summary: Summary,
}

/// Activations of distinct accounting points (the drivers the load run's contract phase
/// provisions), numbered from `from`, alternating between the two tenants.
fn activations(from: usize, n: usize) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| {
            let (gln, ap) = if i % 2 == 0 {
                (NORDLYS, format!("70702{i:013}"))
            } else {
                (SVEA, format!("70703{i:013}"))
            };
            event(
                gln,
                "ContractActivated",
                &format!("sb-a-{i}"),
                "2026-11-01T08:00:00Z",
                &ap,
                json!({ "Rfid": format!("SBLOAD-{i:07}") }),
            )
            .to_string()
            .into_bytes()
        })
        .collect()
}

fn config(
    sb: &ServiceBusStandIn,
    key_file: &std::path::Path,
    loops: usize,
) -> Result<Config, String> {
    let vars: HashMap<&str, String> = HashMap::from([
        ("UCC_SERVICEBUS_ENDPOINT", sb.endpoint()),
        ("UCC_SERVICEBUS_ENTITY", sb.options().entity.clone()),
        ("UCC_SERVICEBUS_SAS_KEY_NAME", sb.options().key_name.clone()),
        (
            "UCC_SERVICEBUS_SAS_KEY_REF",
            format!("file:{}", key_file.display()),
        ),
        ("UCC_SERVICEBUS_LOOPS", loops.to_string()),
        ("UCC_SERVICEBUS_RECEIVE_TIMEOUT", "1".into()),
    ]);
    Config::from_lookup(|n| vars.get(n).cloned())
}

/// Watches the stand-in's completed set (in completion order) and timestamps what is new.
struct Watcher {
    seen: usize,
}

impl Watcher {
    /// Polls until every id in `enqueued` is completed; returns each one's latency.
    async fn until_done(
        &mut self,
        sb: &ServiceBusStandIn,
        enqueued: &HashMap<String, Instant>,
    ) -> Result<Vec<Duration>, String> {
        let end = Instant::now() + DEADLINE;
        let mut out = Vec::with_capacity(enqueued.len());
        while out.len() < enqueued.len() {
            let done = sb.completed();
            let now = Instant::now();
            for id in done.iter().skip(self.seen) {
                if let Some(t) = enqueued.get(id) {
                    out.push(now.duration_since(*t));
                }
            }
            self.seen = done.len();
            if out.len() >= enqueued.len() {
                break;
            }
            if now >= end {
                return Err(format!(
                    "servicebus: {} of {} messages completed within {DEADLINE:?} (dead-lettered: {})",
                    out.len(),
                    enqueued.len(),
                    sb.dead_letters().len()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(out)
    }
}

fn batch(name: &'static str, loops: usize, wall: Duration, mut lat: Vec<Duration>) -> Batch {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| {
        let i = ((lat.len() as f64 * p).ceil() as usize).saturating_sub(1);
        lat.get(i).copied().map_or(0.0, ms)
    };
    let total: Duration = lat.iter().sum();
    let n = lat.len();
    let rate = n as f64 / wall.as_secs_f64();
    let b = Batch {
        name,
        messages: n,
        wall_secs: wall.as_secs_f64(),
        messages_per_sec: rate,
        messages_per_sec_per_loop: rate / loops as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().map_or(0.0, ms),
        mean_ms: ms(total) / n.max(1) as f64,
    };
    eprintln!(
        "ucc-load: servicebus {loops} loop(s), {name}: {n} messages in {:.2} s ({:.0}/s, {:.0}/s per loop), enqueue-to-completed p50 {:.2} ms, p99 {:.2} ms",
        b.wall_secs, b.messages_per_sec, b.messages_per_sec_per_loop, b.p50_ms, b.p99_ms
    );
    b
}

/// One pull run with `loops` receive loops: a trickle of `trickle` messages, then a burst
/// of `burst`; `first` numbers the accounting points so that every run's are new.
pub async fn run_loops(
    store: Arc<dyn Store>,
    loops: usize,
    trickle: usize,
    burst: usize,
    first: usize,
) -> Result<LoopRun, String> {
    let sb = Arc::new(
        ServiceBusStandIn::start(Options::default())
            .await
            .map_err(|e| format!("Service Bus stand-in: {e}"))?,
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let key_file = dir.path().join("sb-key");
    std::fs::write(&key_file, &sb.options().key).map_err(|e| e.to_string())?;
    let cfg = config(&sb, &key_file, loops)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pull = tokio::spawn(servicebus::run(
        Arc::new(Ctx::new(store)),
        cfg,
        None,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let mut watcher = Watcher { seen: 0 };
    let mut batches = Vec::new();

    // Trickle: one message at a time, the next enqueued once the previous is completed.
    let mut lat = Vec::with_capacity(trickle);
    let started = Instant::now();
    for body in activations(first, trickle) {
        let t = Instant::now();
        let id = sb.enqueue(body, &[]);
        lat.extend(watcher.until_done(&sb, &HashMap::from([(id, t)])).await?);
    }
    batches.push(batch("trickle", loops, started.elapsed(), lat));

    // Burst: everything enqueued at once; wall time is until the last is completed.
    let bodies = activations(first + trickle, burst);
    let started = Instant::now();
    let enqueued: HashMap<String, Instant> = bodies
        .into_iter()
        .map(|b| {
            let t = Instant::now();
            (sb.enqueue(b, &[]), t)
        })
        .collect();
    let lat = watcher.until_done(&sb, &enqueued).await?;
    batches.push(batch("burst", loops, started.elapsed(), lat));

    let _ = stop_tx.send(());
    let summary = pull
        .await
        .map_err(|e| format!("servicebus: the pull task died: {e}"))?
        .map_err(|e| format!("servicebus: the pull failed: {e}"))?;
    let applied = summary.completed.get("applied").copied().unwrap_or(0);
    if applied != (trickle + burst) as u64 || !sb.dead_letters().is_empty() {
        return Err(format!(
            "servicebus: {applied} of {} activations applied ({summary:?}): not a valid measurement",
            trickle + burst
        ));
    }
    Ok(LoopRun {
        loops,
        batches,
        summary,
    })
}
