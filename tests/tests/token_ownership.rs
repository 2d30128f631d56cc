//! SPEC §6 billing integrity, the token rule: an RFID card moved between accounting points
//! belongs to the driver that received it in the newest event by `EventTime`, whatever order
//! the events arrived in; a correction bills the same `transactionOwnerId` as the original
//! line. Sessions go over real HTTP to the UC stand-in, on both store backends.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{json, Value};
use ucc_shared::delivery::credit;
use ucc_shared::delivery::intake::SessionOutcome;
use ucc_shared::store::Store;
use ucc_tests::delivery_env::*;
use ucc_tests::fixtures::{event, NORDLYS};

const A: &str = "APALPHA0001";
const B: &str = "APBRAVO0002";
const CARD: &str = "CARD#X-0001";

fn gets_card(id: &str, name: &str, time: &str, ap: &str, card: &str) -> Value {
    event(NORDLYS, name, id, time, ap, json!({ "Rfid": card }))
}

/// Delivers a session with `tag` and returns the owner UC was billed.
async fn billed_owner(env: &Env, tx: &str, tag: &str) -> Value {
    let h = env.send(&session(tx, COSTED_CUSTOMER, tag, None)).await;
    assert_eq!(h.outcome, SessionOutcome::Delivered, "{h:?}");
    env.standin
        .transaction(tx)
        .expect("UC accepted the transaction")["transactionOwnerId"]
        .clone()
}

ucc_tests::store_tests!(
    a_late_older_event_does_not_take_the_card_back,
    a_card_moved_back_belongs_to_its_first_driver_again,
    a_correction_bills_the_original_owner_after_the_card_moved,
);

/// B had the card at t1, A got it at t2; B's event is delivered after A's.
async fn a_late_older_event_does_not_take_the_card_back(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    env.contract(gets_card(
        "a-t2",
        "ContractActivated",
        "2026-11-20T10:00:00Z",
        A,
        CARD,
    ))
    .await;
    env.contract(gets_card(
        "b-t1",
        "ContractActivated",
        "2026-11-20T09:00:00Z",
        B,
        CARD,
    ))
    .await;
    assert_eq!(
        billed_owner(&env, "9701", CARD).await,
        json!(A),
        "A received the card in the newest event"
    );
}

/// A → B → A, delivered in order: the card is A's again.
async fn a_card_moved_back_belongs_to_its_first_driver_again(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    env.contract(gets_card(
        "a-t1",
        "ContractActivated",
        "2026-11-20T09:00:00Z",
        A,
        CARD,
    ))
    .await;
    assert_eq!(billed_owner(&env, "9711", CARD).await, json!(A));
    env.contract(gets_card(
        "b-t2",
        "ContractActivated",
        "2026-11-20T10:00:00Z",
        B,
        CARD,
    ))
    .await;
    assert_eq!(billed_owner(&env, "9712", CARD).await, json!(B));
    env.contract(gets_card(
        "a-t3",
        "ContractUpdated",
        "2026-11-20T11:00:00Z",
        A,
        CARD,
    ))
    .await;
    assert_eq!(
        billed_owner(&env, "9713", CARD).await,
        json!(A),
        "the card moved back to A"
    );
}

/// A line billed to A is corrected after the card moved to B: the re-priced line still
/// bills A (and A's site), and the credit reverses A's line.
async fn a_correction_bills_the_original_owner_after_the_card_moved(store: Arc<dyn Store>) {
    let env = Env::new(store).await;
    // `Env::new` gave RFID to AP (site 1042) on 2026-11-01.
    assert_eq!(billed_owner(&env, "9721", RFID).await, json!(AP));
    env.contract(gets_card(
        "b-moved",
        "ContractActivated",
        "2026-11-10T08:00:00Z",
        B,
        RFID,
    ))
    .await;
    assert_eq!(billed_owner(&env, "9722", RFID).await, json!(B));

    let c = credit::correct(&env.d, None, "9721", Some("wrong tariff".into()))
        .await
        .unwrap();
    assert_eq!(c.credit.outcome, SessionOutcome::Delivered);
    let credited = env.standin.transaction("9721-C1").expect("credit accepted");
    assert_eq!(credited["transactionOwnerId"], json!(AP));
    let rebilled = env
        .standin
        .transaction("9721-R1")
        .expect("re-priced line accepted");
    assert_eq!(
        rebilled["transactionOwnerId"],
        json!(AP),
        "a correction bills the same transactionOwnerId as the original line"
    );
    assert_eq!(rebilled["siteId"], json!(1042), "the original owner's site");
    assert_eq!(env.standin.schema_violations(), Vec::<String>::new());
}
