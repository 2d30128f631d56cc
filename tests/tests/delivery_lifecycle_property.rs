//! Model-based property test of the delivery lifecycle (SPEC §6), over real HTTP against
//! the UC/Entra stand-in, on every store backend.
//!
//! A random program interleaves session events (duplicated, from two instances), credits,
//! corrections, operator re-drives and retry sweeps with random UC answers queued ahead of
//! them: 2xx, 3xx redirects, 4xx, 409, 5xx, 429 with any `Retry-After`, a POST accepted
//! whose answer is lost, 401 windows and Entra refusals. Then UC behaves, an operator
//! re-drives whatever was rejected or held, and the timer runs until nothing is open.
//!
//! The model is independent of the code under test: it only knows which sessions were sent
//! and which credit/correction calls the connector accepted. From that alone it says which
//! lines UC must hold at the end, and it checks, after every step, that no correction was
//! posted without its accepted credit before it, that no line was credited twice and that
//! no accepted id was posted again.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use ucc_functions::uc_standin::{Fault, Route};
use ucc_shared::delivery::credit;
use ucc_shared::delivery::record::{self, DeliveryRecord, DeliveryState};
use ucc_shared::delivery::{redrive, sweep, Deliverer};
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::NORDLYS;
use ucc_tests::property::Backend;

const SESSIONS: usize = 3;
/// The client's timeout in this test; a lost answer is held longer than that.
const TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, Clone)]
enum Answer {
    Pass,
    Status(u16),
    TooMany(u64),
    Lost,
}

impl Answer {
    fn fault(&self) -> Fault {
        match self {
            Answer::Pass => Fault::Pass,
            Answer::Status(s) => Fault::Status(*s),
            Answer::TooMany(secs) => Fault::TooManyRequests {
                retry_after_secs: *secs,
            },
            Answer::Lost => Fault::AcceptThenStall(TIMEOUT * 2),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        session: usize,
        instance: usize,
    },
    /// A credit (or correction) of the session's original or latest line; `answer` is what
    /// UC does with the next POST, which is usually the credit's.
    Credit {
        session: usize,
        latest: bool,
        answer: Answer,
    },
    Correct {
        session: usize,
        latest: bool,
        answer: Answer,
    },
    Sweep {
        advance_secs: u64,
        instance: usize,
    },
    Redrive {
        session: usize,
    },
    Answer {
        route: usize,
        answer: Answer,
    },
    Unauthorized(bool),
    BadSecret(bool),
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        3 => Just(Answer::Pass),
        1 => prop::sample::select(vec![301u16, 302, 307, 400, 404, 409, 422, 500, 502, 503])
            .prop_map(Answer::Status),
        1 => prop_oneof![0u64..120, 0u64..u64::MAX].prop_map(Answer::TooMany),
        1 => Just(Answer::Lost),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let s = 0..SESSIONS;
    prop_oneof![
        4 => (s.clone(), 0..2usize).prop_map(|(session, instance)| Op::Send { session, instance }),
        2 => (s.clone(), any::<bool>(), answer())
            .prop_map(|(session, latest, answer)| Op::Credit { session, latest, answer }),
        3 => (s.clone(), any::<bool>(), answer())
            .prop_map(|(session, latest, answer)| Op::Correct { session, latest, answer }),
        3 => (prop_oneof![0u64..5, 0u64..7200], 0..2usize)
            .prop_map(|(advance_secs, instance)| Op::Sweep { advance_secs, instance }),
        1 => s.prop_map(|session| Op::Redrive { session }),
        // A 404 to the GET is UC's statement that it does not hold the id, on which the
        // connector re-posts (SPEC §6); injected while UC holds it, it would be a lie that
        // makes the re-post a duplicate whatever the connector does. The stand-in answers
        // every GET's 404 from its own data instead.
        5 => (0..3usize, answer())
            .prop_filter("no injected 404 on the GET", |(route, answer)| {
                !(*route == 1 && matches!(answer, Answer::Status(404)))
            })
            .prop_map(|(route, answer)| Op::Answer { route, answer }),
        1 => any::<bool>().prop_map(Op::Unauthorized),
        1 => any::<bool>().prop_map(Op::BadSecret),
    ]
}

fn tx(session: usize) -> String {
    format!("{}", 5100 + session)
}

/// What the model knows: sessions sent, and per session the lines it expects in UC, in the
/// order the connector accepted the calls that create them.
#[derive(Default)]
struct Model {
    sent: BTreeSet<usize>,
    /// root → lines (original first), each with whether it has been credited.
    lines: BTreeMap<String, Vec<(String, bool)>>,
    credits: BTreeMap<String, u32>,
}

impl Model {
    fn target(&self, session: usize, latest: bool) -> String {
        let root = tx(session);
        match self.lines.get(&root) {
            Some(lines) if latest => lines
                .iter()
                .rev()
                .find(|(id, _)| !id.contains("-C"))
                .map_or(root.clone(), |(id, _)| id.clone()),
            _ => root,
        }
    }

    /// The connector accepted a credit (and maybe a correction) of `target`.
    fn credited(&mut self, root: &str, target: &str, corrected: bool) -> Result<(), String> {
        let n = self.credits.entry(root.to_owned()).or_default();
        *n += 1;
        let n = *n;
        let lines = self.lines.entry(root.to_owned()).or_default();
        let Some(line) = lines.iter_mut().find(|(id, _)| id == target) else {
            return Err(format!(
                "{target} was credited but the model never saw it billed"
            ));
        };
        if line.1 {
            return Err(format!("{target} was credited a second time"));
        }
        line.1 = true;
        lines.push((format!("{root}-C{n}"), true));
        if corrected {
            lines.push((format!("{root}-R{n}"), false));
        }
        Ok(())
    }

    fn expected(&self) -> BTreeSet<String> {
        self.lines
            .values()
            .flat_map(|l| l.iter().map(|(id, _)| id.clone()))
            .collect()
    }
}

/// Checks that hold at every moment: each id accepted once, every correction after its
/// credit, every credit after the line it reverses, no line reversed twice.
fn check_uc(env: &Env) -> Result<(), String> {
    if env.standin.duplicate_posts() != 0 {
        return Err(format!(
            "UC saw {} POSTs of ids it had already accepted",
            env.standin.duplicate_posts()
        ));
    }
    let accepted = env.standin.accepted_transactions();
    let pos: BTreeMap<String, usize> = accepted
        .iter()
        .enumerate()
        .map(|(i, t)| (t["transactionId"].as_str().unwrap_or("").to_owned(), i))
        .collect();
    let mut reversed = BTreeSet::new();
    for (i, t) in accepted.iter().enumerate() {
        let id = t["transactionId"].as_str().unwrap_or("");
        if t["transactionOwnerId"] != AP {
            return Err(format!("{id} billed {}", t["transactionOwnerId"]));
        }
        if let Some((root, n)) = id.split_once("-R") {
            let credit = format!("{root}-C{n}");
            if pos.get(&credit).is_none_or(|&c| c > i) {
                return Err(format!("{id} reached UC before its credit {credit}"));
            }
        }
        if let Value::String(of) = &t["creditReferenceTransactionId"] {
            if pos.get(of).is_none_or(|&o| o > i) {
                return Err(format!(
                    "{id} credits {of}, which UC did not hold before it"
                ));
            }
            if !reversed.insert(of.clone()) {
                return Err(format!("{of} was credited twice"));
            }
        }
    }
    Ok(())
}

async fn open_records(store: &dyn Store) -> Vec<DeliveryRecord> {
    record::list_all(store, &Gln::parse(NORDLYS).unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.state != DeliveryState::Delivered)
        .collect()
}

async fn run(store: Arc<dyn Store>, ops: Vec<Op>) -> Result<(), String> {
    let env = Env::new_with_timeout(store.clone(), TIMEOUT).await;
    let instances: [Arc<Deliverer>; 2] = [env.d.clone(), env.other_instance()];
    let routes = [Route::PostTransaction, Route::GetTransaction, Route::Token];
    let mut model = Model::default();
    for op in &ops {
        match op {
            Op::Send { session, instance } => {
                let d = &instances[*instance];
                ucc_shared::delivery::intake::handle(
                    d,
                    &ucc_shared::contract::InboundMessage::from_body(
                        session_json(*session).to_string(),
                    ),
                )
                .await
                .map_err(|e| format!("send: {e}"))?;
                if model.sent.insert(*session) {
                    model
                        .lines
                        .entry(tx(*session))
                        .or_default()
                        .push((tx(*session), false));
                }
            }
            Op::Credit {
                session,
                latest,
                answer,
            }
            | Op::Correct {
                session,
                latest,
                answer,
            } => {
                env.standin
                    .push_fault(Route::PostTransaction, answer.fault());
                let target = model.target(*session, *latest);
                let corrected = matches!(op, Op::Correct { .. });
                let uc_had_it = env.standin.transaction(&target).is_some();
                let r = if corrected {
                    credit::correct(&env.d, None, &target, None).await
                } else {
                    credit::credit(&env.d, None, &target, None).await
                };
                match r {
                    Ok(_) => {
                        if !uc_had_it {
                            return Err(format!("{target} was credited before UC held it"));
                        }
                        model.credited(&tx(*session), &target, corrected)?;
                    }
                    Err(credit::CreditError::Store(e)) => return Err(format!("credit: {e}")),
                    Err(_) => {}
                }
            }
            Op::Sweep {
                advance_secs,
                instance,
            } => {
                env.clock.advance(Duration::from_secs(*advance_secs));
                sweep::sweep(&instances[*instance])
                    .await
                    .map_err(|e| format!("sweep: {e}"))?;
            }
            Op::Redrive { session } => {
                for r in open_records(store.as_ref()).await {
                    if r.transaction_id.starts_with(&tx(*session))
                        && matches!(r.state, DeliveryState::Rejected | DeliveryState::Held)
                    {
                        let (rec, v) = credit::find(&env.d, None, &r.transaction_id)
                            .await
                            .map_err(|e| e.to_string())?;
                        match redrive::redrive(&env.d, rec, v).await {
                            Ok(_) | Err(redrive::RedriveError::Busy(_)) => {}
                            Err(e) => return Err(format!("redrive: {e}")),
                        }
                    }
                }
            }
            Op::Answer { route, answer } => env.standin.push_fault(routes[*route], answer.fault()),
            Op::Unauthorized(on) => env.standin.set_unauthorized(*on),
            Op::BadSecret(bad) => env.set_secret(if *bad { "wrong" } else { SECRET }),
        }
        check_uc(&env).map_err(|e| format!("after {op:?}: {e}"))?;
    }
    // UC behaves again; an operator re-drives what waits for them; the timer runs.
    env.standin.clear_faults();
    env.standin.set_unauthorized(false);
    env.set_secret(SECRET);
    for _ in 0..20 {
        let open = open_records(store.as_ref()).await;
        if open.is_empty() {
            break;
        }
        // Credits first: a held correction is released by its credit's re-drive.
        let mut waiting: Vec<&DeliveryRecord> = open
            .iter()
            .filter(|r| matches!(r.state, DeliveryState::Rejected | DeliveryState::Held))
            .collect();
        waiting.sort_by_key(|r| r.transaction_id.contains("-R"));
        for r in waiting {
            if let Ok((rec, v)) = credit::find(&env.d, None, &r.transaction_id).await {
                let _ = redrive::redrive(&env.d, rec, v).await;
            }
        }
        env.clock.advance(Duration::from_secs(2 * 3600));
        sweep::sweep(&env.d)
            .await
            .map_err(|e| format!("settling sweep: {e}"))?;
        check_uc(&env).map_err(|e| format!("while settling: {e}"))?;
    }
    let open = open_records(store.as_ref()).await;
    if !open.is_empty() {
        return Err(format!(
            "still open after settling: {:?}",
            open.iter()
                .map(|r| (&r.transaction_id, r.state, &r.last_result))
                .collect::<Vec<_>>()
        ));
    }
    let actual: BTreeSet<String> = env
        .standin
        .accepted_transactions()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected = model.expected();
    if actual != expected {
        return Err(format!(
            "UC holds {actual:?}, the model expects {expected:?} (ops: {ops:?})"
        ));
    }
    Ok(())
}

fn session_json(i: usize) -> Value {
    session(&tx(i), COSTED_CUSTOMER, RFID, None)
}

#[test]
fn uc_holds_exactly_what_the_model_says_embedded() {
    ucc_tests::property::run(
        48,
        Backend::Embedded,
        prop::collection::vec(op(), 4..40),
        run,
    );
}

#[test]
fn uc_holds_exactly_what_the_model_says_dynamodb() {
    ucc_tests::property::run(
        16,
        Backend::DynamoDb,
        prop::collection::vec(op(), 4..40),
        run,
    );
}

#[test]
fn uc_holds_exactly_what_the_model_says_azuretable() {
    ucc_tests::property::run(
        16,
        Backend::AzureTable,
        prop::collection::vec(op(), 4..40),
        run,
    );
}
