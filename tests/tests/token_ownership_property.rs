//! Property (SPEC §6, the token rule): RFID cards moved at random between accounting points,
//! the events delivered shuffled, duplicated and concurrently; each card then belongs to the
//! accounting point whose activation or update carrying it is the newest by
//! `(EventTime, EventID)`. The expected owner is computed from the event list alone; the
//! actual one is what `contract::owner_of` answers and what a session charged with the card
//! bills UC (`transactionOwnerId`, over real HTTP to the stand-in). On the embedded store
//! and on DynamoDB Local.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_tests::delivery_env::{session, Env, COSTED_CUSTOMER};
use ucc_tests::fixtures::{event, NORDLYS};
use ucc_tests::property::Backend;

const APS: [&str; 4] = ["PROPAP0000", "PROPAP0001", "PROPAP0002", "PROPAP0003"];
/// Cards whose values are prefixes of each other or contain `#`, on purpose.
const CARDS: [&str; 4] = ["CARD-A", "CARD-A1", "CARD-A#1", "C#B"];

#[derive(Debug, Clone)]
struct Ev {
    ap: usize,
    name: &'static str,
    /// An index into `CARDS`; a termination may name one too (it gives nobody the card).
    card: Option<usize>,
}

impl Ev {
    /// The card this event gives its accounting point, if any.
    fn gives(&self) -> Option<usize> {
        self.card.filter(|_| self.name != "ContractTerminated")
    }
}

fn ev_strategy() -> impl Strategy<Value = Ev> {
    (
        0..APS.len(),
        prop::sample::select(vec![
            "ContractActivated",
            "ContractUpdated",
            "ContractUpdated",
            "ContractTerminated",
        ]),
        prop::option::weighted(0.85, 0..CARDS.len()),
    )
        .prop_map(|(ap, name, card)| Ev { ap, name, card })
}

/// The events (in EventTime order, each with how often it is delivered), a shuffle seed
/// and the number of concurrent deliverers.
fn scenario() -> impl Strategy<Value = (Vec<(Ev, u8)>, u64, usize)> {
    (
        prop::collection::vec((ev_strategy(), 1u8..=2), 1..14),
        any::<u64>(),
        2usize..=4,
    )
}

/// Event `i` happens at minute `i` (distinct times); its id is deliberately not in time order.
fn event_id(i: usize) -> String {
    format!("{:02}-{i}", (i * 7919) % 97)
}

fn body(i: usize, e: &Ev) -> Value {
    let t = Utc
        .with_ymd_and_hms(2026, 11, 20, 8, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::minutes(i as i64);
    let details = match e.card {
        Some(c) => json!({ "Rfid": CARDS[c] }),
        None => json!({}),
    };
    event(
        NORDLYS,
        e.name,
        &event_id(i),
        &t.to_rfc3339(),
        APS[e.ap],
        details,
    )
}

/// The model: the accounting point whose event giving it `card` is the newest by
/// (EventTime, EventID); times are distinct, and event `i` is at minute `i`.
fn expected_owner(events: &[(Ev, u8)], card: usize) -> Option<&'static str> {
    events
        .iter()
        .enumerate()
        .filter(|(_, (e, _))| e.gives() == Some(card))
        .max_by_key(|(i, _)| (*i, event_id(*i)))
        .map(|(_, (e, _))| APS[e.ap])
}

/// Deterministic shuffle (xorshift) so a failing case reproduces from its seed.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

async fn check(
    store: Arc<dyn Store>,
    events: &[(Ev, u8)],
    seed: u64,
    workers: usize,
) -> Result<(), String> {
    let env = Env::new(store.clone()).await;
    let mut deliveries = Vec::new();
    for (i, (e, copies)) in events.iter().enumerate() {
        for _ in 0..*copies {
            deliveries.push(body(i, e).to_string().into_bytes());
        }
    }
    shuffle(&mut deliveries, seed);
    let queue = Arc::new(Mutex::new(deliveries));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (queue, ctx) = (queue.clone(), env.d.ctx.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(next) = queue.lock().await.pop() else {
                    return Ok::<(), String>(());
                };
                contract::handle(&ctx, &InboundMessage::from_body(next))
                    .await
                    .map_err(|e| format!("contract handler failed: {e}"))?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }

    let gln = Gln::parse(NORDLYS).map_err(|e| e.to_string())?;
    for (c, card) in CARDS.iter().enumerate() {
        let expected = expected_owner(events, c);
        let owner = contract::owner_of(store.as_ref(), &gln, card)
            .await
            .map_err(|e| e.to_string())?;
        let actual = owner.as_ref().map(|o| o.external_id.as_str());
        if actual != expected {
            return Err(format!(
                "{card}: owner_of says {actual:?}, the newest event giving it says {expected:?}"
            ));
        }
        let tx = format!("88{c}");
        let h = env.send(&session(&tx, COSTED_CUSTOMER, card, None)).await;
        match expected {
            Some(ap) => {
                if h.outcome != SessionOutcome::Delivered {
                    return Err(format!("{card}: session {tx} not delivered: {h:?}"));
                }
                let billed = env
                    .standin
                    .transaction(&tx)
                    .map(|t| t["transactionOwnerId"].clone());
                if billed != Some(json!(ap)) {
                    return Err(format!("{card}: UC billed {billed:?}, expected {ap}"));
                }
            }
            None => {
                if !matches!(h.outcome, SessionOutcome::Ignored { .. }) {
                    return Err(format!(
                        "{card}: no event gave it, yet the session was {h:?}"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn each_card_bills_its_newest_holder_whatever_the_delivery_order_embedded() {
    ucc_tests::property::run(
        32,
        Backend::Embedded,
        scenario(),
        |store, (events, seed, workers)| async move { check(store, &events, seed, workers).await },
    );
}

#[test]
fn each_card_bills_its_newest_holder_whatever_the_delivery_order_dynamodb() {
    ucc_tests::property::run(
        12,
        Backend::DynamoDb,
        scenario(),
        |store, (events, seed, workers)| async move { check(store, &events, seed, workers).await },
    );
}

#[test]
fn each_card_bills_its_newest_holder_whatever_the_delivery_order_azuretable() {
    ucc_tests::property::run(
        12,
        Backend::AzureTable,
        scenario(),
        |store, (events, seed, workers)| async move { check(store, &events, seed, workers).await },
    );
}
