//! `ucc-load`: the end-to-end load run behind `make bench`.
//!
//! Contract events and completed sessions go through the real handlers (the code every
//! function binary calls) on the embedded store, DynamoDB Local or Azure Tables (Azurite),
//! with Utility Cloud and Entra played by the stand-in over loopback HTTP. Several
//! concurrent workers, each with its own caches as separate Lambda instances or Function
//! hosts would have. Per phase it measures events per second, handler latency
//! (p50/p99/max), store requests, DynamoDB request units and UC calls per event; on Azure
//! Tables also the HTTP transactions Azure bills (query pages, `$batch` requests, entities
//! written) and what the phase added to the table's billed size; at the end the process's
//! peak RSS. Results go to a JSON file that `scripts/bench-report.py` turns into
//! BENCHMARKS.md.
//!
//! `--mode servicebus` measures the Service Bus pull path instead (see [`servicebus`]).

mod servicebus;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::intake;
use ucc_shared::delivery::Deliverer;
use ucc_shared::store::azuretable::client::{self as azure, Client, Credential};
use ucc_shared::store::azuretable::AzureTableStore;
use ucc_shared::store::counting::{CountingStore, RequestCounts, RequestUnits};
use ucc_shared::store::{Condition, Item, Key, Store};
use ucc_shared::uc::secrets::Secret;
use ucc_tests::backends::{AZURITE_ACCOUNT, AZURITE_KEY};
use ucc_tests::delivery_env::{session, Env, COSTED_CUSTOMER, METER_CUSTOMER};
use ucc_tests::fixtures::{event, NORDLYS, SVEA};

#[derive(Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum StoreKind {
    Embedded,
    Dynamodb,
    Azuretable,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Mode {
    /// Contract events and sessions straight through the handlers.
    Load,
    /// Contract events through the Service Bus stand-in and the pull adapter.
    Servicebus,
}

/// Load run through the real handlers; writes its figures as JSON.
#[derive(Parser)]
#[command(name = "ucc-load")]
struct Args {
    #[arg(long, value_enum)]
    store: StoreKind,
    #[arg(long, value_enum, default_value = "load")]
    mode: Mode,
    /// Service Bus mode: messages enqueued at once per receive-loop count.
    #[arg(long, default_value_t = 2000)]
    sb_burst: usize,
    /// Service Bus mode: messages sent one at a time (each after the last completed).
    #[arg(long, default_value_t = 200)]
    sb_trickle: usize,
    /// Service Bus mode: the receive-loop counts to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4])]
    sb_loops: Vec<usize>,
    /// DynamoDB Local endpoint (for --store dynamodb); scripts/with-dynamodb-local.sh sets it.
    #[arg(long, env = "UCC_TEST_DYNAMODB_ENDPOINT")]
    endpoint: Option<String>,
    /// Azurite's Table endpoint (for --store azuretable), `http://127.0.0.1:P/devstoreaccount1`;
    /// scripts/with-azurite.sh sets it. The run makes a fresh table on it.
    #[arg(long, env = "UCC_TEST_AZURITE_ENDPOINT")]
    azure_endpoint: Option<String>,
    /// Accounting points: each gets an activation and an update (two contract events).
    #[arg(long, default_value_t = 1000)]
    accounting_points: usize,
    /// Completed sessions per tenant mode (costed invoice lines, then meter values).
    #[arg(long, default_value_t = 2000)]
    sessions: usize,
    /// Concurrent workers, each with its own caches.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Where to write the JSON results.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Serialize)]
struct Phase {
    name: &'static str,
    events: usize,
    wall_secs: f64,
    events_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    mean_ms: f64,
    /// What the handlers answered, by outcome name.
    outcomes: BTreeMap<String, usize>,
    store_requests: RequestCounts,
    request_units: RequestUnits,
    uc_calls: usize,
    token_requests: usize,
    /// Azure Tables only: the requests Azure bills, as the backend's own client counted
    /// them during the phase (every query page and every `$batch` is one transaction).
    #[serde(skip_serializing_if = "Option::is_none")]
    azure_requests: Option<azure::RequestCounts>,
    /// Azure Tables only: what the phase added to the table (entities, billed bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    azure_stored: Option<Stored>,
}

/// A table's size as Azure bills capacity (see [`entity_bytes`]).
#[derive(Clone, Copy, Default, Serialize)]
struct Stored {
    entities: i64,
    bytes: i64,
}

#[derive(Serialize)]
struct Report {
    store: StoreKind,
    /// The Azure table the run used (Azure Tables only).
    #[serde(skip_serializing_if = "Option::is_none")]
    azure_table: Option<String>,
    workers: usize,
    phases: Vec<Phase>,
    /// Mean latency of one conditional PutItem of a 1 KB item: the price of each extra
    /// write in the "idempotency record + outbox" comparison.
    single_put_ms: f64,
    peak_rss_mib: f64,
    cores: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    Contract,
    Session,
}

struct Rig {
    env: Env,
    counting: Arc<CountingStore>,
    workers: Vec<Arc<Deliverer>>,
    azure: Option<Azure>,
}

/// The Azure Tables store under the counting decorator, kept to read its own request
/// counts, and a second client (counted apart) that measures the table between phases.
struct Azure {
    store: Arc<AzureTableStore>,
    scanner: Client,
}

fn minus(a: azure::RequestCounts, b: azure::RequestCounts) -> azure::RequestCounts {
    azure::RequestCounts {
        queries: a.queries - b.queries,
        batches: a.batches - b.batches,
        entity_writes: a.entity_writes - b.entity_writes,
    }
}

impl Rig {
    /// Fails when a handler failed or a worker died: a run with errors measures nothing.
    async fn phase(
        &self,
        name: &'static str,
        kind: Kind,
        bodies: Vec<String>,
    ) -> Result<Phase, String> {
        let events = bodies.len();
        let azure_before = match &self.azure {
            Some(a) => Some((table_size(&a.scanner).await?, a.store.requests())),
            None => None,
        };
        self.counting.reset();
        let calls_before = self.env.standin.requests().len();
        let tokens_before = self.env.standin.token_requests();
        let queue = Arc::new(Mutex::new(bodies));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in &self.workers {
            let (w, queue) = (w.clone(), queue.clone());
            tasks.push(tokio::spawn(async move {
                let mut timed = Vec::new();
                loop {
                    let Some(body) = queue.lock().await.pop() else {
                        return timed;
                    };
                    let msg = InboundMessage::from_body(body);
                    let t0 = Instant::now();
                    let outcome = match kind {
                        Kind::Contract => contract::handle(&w.ctx, &msg)
                            .await
                            .map(|h| h.outcome.name())
                            .map_err(|e| e.to_string()),
                        Kind::Session => intake::handle(&w, &msg)
                            .await
                            .map(|h| h.outcome.name())
                            .map_err(|e| e.to_string()),
                    };
                    timed.push((t0.elapsed(), outcome));
                }
            }));
        }
        let mut latencies = Vec::with_capacity(events);
        let mut outcomes = BTreeMap::new();
        for t in tasks {
            let timed = t.await.map_err(|e| format!("{name}: a worker died: {e}"))?;
            for (d, o) in timed {
                let o = o.map_err(|e| format!("{name}: a handler failed: {e}"))?;
                latencies.push(d);
                *outcomes.entry(o.to_owned()).or_insert(0) += 1;
            }
        }
        let wall = started.elapsed();
        let azure_requests = match (&self.azure, &azure_before) {
            (Some(a), Some((_, before))) => Some(minus(a.store.requests(), *before)),
            _ => None,
        };
        let azure_stored = match (&self.azure, &azure_before) {
            (Some(a), Some((size, _))) => {
                let after = table_size(&a.scanner).await?;
                Some(Stored {
                    entities: after.entities - size.entities,
                    bytes: after.bytes - size.bytes,
                })
            }
            _ => None,
        };
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pct = |p: f64| {
            let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            latencies.get(i).copied().map_or(0.0, ms)
        };
        let total: Duration = latencies.iter().sum();
        let phase = Phase {
            name,
            events,
            wall_secs: wall.as_secs_f64(),
            events_per_sec: events as f64 / wall.as_secs_f64(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            max_ms: latencies.last().copied().map_or(0.0, ms),
            mean_ms: ms(total) / events.max(1) as f64,
            outcomes,
            store_requests: self.counting.counts(),
            request_units: self.counting.units(),
            // The stand-in records token requests among its requests; count them apart.
            uc_calls: (self.env.standin.requests().len() - calls_before)
                .saturating_sub(self.env.standin.token_requests() - tokens_before),
            token_requests: self.env.standin.token_requests() - tokens_before,
            azure_requests,
            azure_stored,
        };
        eprintln!(
            "ucc-load: {name}: {events} events in {:.1} s ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, outcomes {:?}",
            phase.wall_secs, phase.events_per_sec, phase.p50_ms, phase.p99_ms, phase.outcomes
        );
        if let (Some(r), Some(st)) = (&phase.azure_requests, &phase.azure_stored) {
            eprintln!(
                "ucc-load: {name}: Azure {} query pages, {} batches ({} entities written); table grew by {} entities, {} bytes",
                r.queries, r.batches, r.entity_writes, st.entities, st.bytes
            );
        }
        Ok(phase)
    }
}

/// Deterministic shuffle (xorshift), so two runs see the same order.
fn shuffle<T>(v: &mut [T]) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn contract_events(aps: usize) -> Vec<String> {
    let mut bodies = Vec::with_capacity(aps * 2);
    for i in 0..aps {
        let (gln, ap) = if i % 2 == 0 {
            (NORDLYS, format!("70700{i:013}"))
        } else {
            (SVEA, format!("70701{i:013}"))
        };
        let rfid = format!("LOAD-{i:07}");
        bodies.push(
            event(
                gln,
                "ContractActivated",
                &format!("a-{i}"),
                "2026-11-01T08:00:00Z",
                &ap,
                json!({ "Rfid": rfid }),
            )
            .to_string(),
        );
        bodies.push(
            event(
                gln,
                "ContractUpdated",
                &format!("u-{i}"),
                "2026-11-02T08:00:00Z",
                &ap,
                json!({ "Rfid": rfid, "PrivateSiteId": 1042 }),
            )
            .to_string(),
        );
    }
    // Activations before their updates would be the friendly order; real queues shuffle.
    shuffle(&mut bodies);
    bodies
}

/// Sessions of the drivers that `contract_events` provisioned for one tenant mode
/// (even accounting points belong to the costed tenant, odd ones to the meter-value one).
fn sessions(n: usize, aps: usize, costed: bool) -> Vec<String> {
    let (customer, parity, prefix) = if costed {
        (COSTED_CUSTOMER, 0, "B")
    } else {
        (METER_CUSTOMER, 1, "A")
    };
    let drivers: Vec<usize> = (0..aps).filter(|i| i % 2 == parity).collect();
    (0..n)
        .map(|k| {
            let i = drivers[k % drivers.len().max(1)];
            session(
                &format!("LD{prefix}{k:07}"),
                customer,
                &format!("LOAD-{i:07}"),
                None,
            )
            .to_string()
        })
        .collect()
}

async fn single_put_ms(store: &dyn Store) -> f64 {
    const N: u32 = 200;
    let doc = "x".repeat(900);
    let started = Instant::now();
    for i in 0..N {
        let item = Item::new(Key::new("BENCH#put", format!("{i:06}")), doc.clone(), 1);
        if let Err(e) = store.put(item, Condition::NotExists).await {
            eprintln!("ucc-load: single put failed: {e}");
        }
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(N)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Opened {
    /// The embedded store's directory, removed when the run ends.
    _dir: Option<tempfile::TempDir>,
    store: Arc<dyn Store>,
    azure: Option<Azure>,
    azure_table: Option<String>,
}

async fn open_store(args: &Args) -> Result<Opened, String> {
    match args.store {
        StoreKind::Embedded => {
            let (dir, store) = ucc_tests::backends::embedded();
            Ok(Opened {
                _dir: Some(dir),
                store,
                azure: None,
                azure_table: None,
            })
        }
        StoreKind::Dynamodb => {
            let endpoint = args.endpoint.as_deref().ok_or(
                "--store dynamodb needs --endpoint or UCC_TEST_DYNAMODB_ENDPOINT \
                 (scripts/with-dynamodb-local.sh sets it)",
            )?;
            Ok(Opened {
                _dir: None,
                store: Arc::new(ucc_tests::backends::fresh_table(endpoint).await),
                azure: None,
                azure_table: None,
            })
        }
        StoreKind::Azuretable => {
            let endpoint = args.azure_endpoint.as_deref().ok_or(
                "--store azuretable needs --azure-endpoint or UCC_TEST_AZURITE_ENDPOINT \
                 (scripts/with-azurite.sh sets it)",
            )?;
            // Azure table names: letters and digits, starting with a letter.
            let table = format!(
                "uccload{}{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            );
            let store = Arc::new(ucc_tests::backends::fresh_azure_table(endpoint, &table).await);
            let scanner = Client::new(
                endpoint,
                AZURITE_ACCOUNT,
                &table,
                Credential::SharedKey(Secret::new(AZURITE_KEY)),
                Duration::from_secs(60),
            )
            .map_err(|e| format!("Azure Table client: {e}"))?;
            Ok(Opened {
                _dir: None,
                store: store.clone(),
                azure: Some(Azure { store, scanner }),
                azure_table: Some(table),
            })
        }
    }
}

/// The whole table's size as Azure bills capacity, by a scan of every entity.
async fn table_size(client: &Client) -> Result<Stored, String> {
    let mut size = Stored::default();
    let mut cont = None;
    loop {
        let page = client
            .query("PartitionKey ge ''", 1000, cont.as_ref(), None)
            .await
            .map_err(|e| format!("cannot measure the Azure table: {e}"))?;
        for e in &page.entities {
            size.entities += 1;
            size.bytes += entity_bytes(&e.props);
        }
        match page.next {
            Some(n) => cont = Some(n),
            None => return Ok(size),
        }
    }
}

/// An entity's billed size by Microsoft's published formula ("How the size of an entity is
/// calculated in Windows Azure table storage", learn.microsoft.com/archive/blogs/avkashchauhan):
/// 4 bytes (Timestamp and system metadata included) + 2 × the characters of PartitionKey
/// and RowKey + for each property 8 bytes + 2 × the characters of its name + its value
/// (a string 4 + 2 × characters; Int32 4; Int64, Double, DateTime 8; Guid 16; Bool 1;
/// Binary 4 + its bytes). Characters are UTF-16 units.
fn entity_bytes(props: &serde_json::Map<String, serde_json::Value>) -> i64 {
    use serde_json::Value;
    let units = |s: &str| s.encode_utf16().count() as i64;
    let mut bytes = 4;
    for (name, value) in props {
        if name.starts_with("odata.") || name.contains("@odata.") || name == "Timestamp" {
            continue;
        }
        if name == "PartitionKey" || name == "RowKey" {
            bytes += 2 * value.as_str().map_or(0, units);
            continue;
        }
        let declared = props
            .get(&format!("{name}@odata.type"))
            .and_then(Value::as_str);
        let size = match (declared, value) {
            (Some("Edm.Int64" | "Edm.Double" | "Edm.DateTime"), _) => 8,
            (Some("Edm.Guid"), _) => 16,
            (Some("Edm.Binary"), Value::String(b64)) => {
                4 + (b64.len() as i64 * 3 / 4)
                    - b64.bytes().rev().take_while(|&b| b == b'=').count() as i64
            }
            (_, Value::String(s)) => 4 + 2 * units(s),
            (_, Value::Bool(_)) => 1,
            (_, Value::Number(n))
                if n.is_i64() && n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()) =>
            {
                4
            }
            (_, Value::Number(_)) => 8,
            _ => 0,
        };
        bytes += 8 + 2 * units(name) + size;
    }
    bytes
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ucc-load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Serialize)]
struct ServiceBusReport {
    store: StoreKind,
    runs: Vec<servicebus::LoopRun>,
    peak_rss_mib: f64,
    cores: usize,
}

async fn run_servicebus(args: &Args) -> Result<(), String> {
    if args.sb_burst == 0 || args.sb_loops.contains(&0) {
        return Err("--sb-burst and every --sb-loops must be at least 1".into());
    }
    let opened = open_store(args).await?;
    // The tenants (and their UC stand-in) as the load run configures them.
    let env = Env::new(opened.store.clone()).await;
    let mut runs = Vec::new();
    let mut first = 0;
    for &loops in &args.sb_loops {
        runs.push(
            servicebus::run_loops(
                env.store.clone(),
                loops,
                args.sb_trickle,
                args.sb_burst,
                first,
            )
            .await?,
        );
        first += args.sb_trickle + args.sb_burst;
    }
    let report = ServiceBusReport {
        store: args.store,
        runs,
        peak_rss_mib: peak_rss_mib(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!("ucc-load: results in {}", args.out.display());
    Ok(())
}

async fn run(args: &Args) -> Result<(), String> {
    if args.mode == Mode::Servicebus {
        return run_servicebus(args).await;
    }
    if args.accounting_points < 2 || args.sessions == 0 || args.workers == 0 {
        return Err(
            "--accounting-points must be at least 2, --sessions and --workers at least 1".into(),
        );
    }
    let Opened {
        _dir,
        store,
        azure,
        azure_table,
    } = open_store(args).await?;
    let counting = Arc::new(CountingStore::new(store.clone()));
    let env = Env::new(counting.clone()).await;
    let workers = (0..args.workers).map(|_| env.other_instance()).collect();
    let rig = Rig {
        env,
        counting,
        workers,
        azure,
    };

    let aps = args.accounting_points;
    let phases = vec![
        rig.phase("contract events", Kind::Contract, contract_events(aps))
            .await?,
        rig.phase(
            "sessions, costed invoice lines (Type B)",
            Kind::Session,
            sessions(args.sessions, aps, true),
        )
        .await?,
        rig.phase(
            "sessions, meter values (Type A)",
            Kind::Session,
            sessions(args.sessions, aps, false),
        )
        .await?,
    ];
    let accepted = rig.env.standin.accepted_transactions().len()
        + rig.env.standin.accepted_meter_series().len();
    if accepted != 2 * args.sessions {
        return Err(format!(
            "UC accepted {accepted} deliveries for {} sessions: the run is not a valid measurement",
            2 * args.sessions
        ));
    }
    let report = Report {
        store: args.store,
        azure_table,
        workers: args.workers,
        phases,
        single_put_ms: single_put_ms(store.as_ref()).await,
        peak_rss_mib: peak_rss_mib(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!(
        "ucc-load: peak RSS {:.1} MiB; results in {}",
        report.peak_rss_mib,
        args.out.display()
    );
    Ok(())
}
