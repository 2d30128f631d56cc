//! Differential test of the store port: random sequences of writes (every condition,
//! transactions with checks and counters, TTLs, index entries), applied to the embedded
//! store as the reference model and to DynamoDB Local and Azurite. After every operation
//! the outcome must match, and at the end so must every read: gets, queries and index
//! queries. The Azure backend builds conditions, TTL and the index itself (ETags, expiry
//! and index entities, tombstones, a cache of ETags); this is where a slip would show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use ucc_shared::store::{
    now_unix, Condition, IndexQuery, Item, Key, Query, Store, StoreError, WriteOp,
};

const PKS: [&str; 2] = ["T#4012345000016", "T#4012345000016#X"];
const SKS: [&str; 3] = ["a", "a#1", "b"];
const DUE: &str = "T#4012345000016#DUE";

#[derive(Debug, Clone)]
enum Ttl {
    None,
    Expired,
    Later,
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: (usize, usize),
        version: u64,
        ttl: Ttl,
        index: Option<u8>,
        counter: bool,
        condition: Condition,
    },
    Delete {
        key: (usize, usize),
        condition: Condition,
    },
    Check {
        key: (usize, usize),
        condition: Condition,
    },
    Add {
        key: (usize, usize),
        delta: i64,
    },
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        Just(Condition::Always),
        Just(Condition::NotExists),
        Just(Condition::Exists),
        (1u64..4).prop_map(Condition::Version),
    ]
}

fn key() -> impl Strategy<Value = (usize, usize)> {
    (0..PKS.len(), 0..SKS.len())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Puts at "a" and "a#1"; "b" holds a counter, written only by Add (the contract).
        4 => ((0..PKS.len(), 0..2usize), 1u64..4, prop_oneof![Just(Ttl::None), Just(Ttl::Expired), Just(Ttl::Later)], proptest::option::of(0u8..3), any::<bool>(), condition())
            .prop_map(|(key, version, ttl, index, counter, condition)| Op::Put { key, version, ttl, index, counter, condition }),
        2 => (key(), condition()).prop_map(|(key, condition)| Op::Delete { key, condition }),
        1 => (key(), condition()).prop_map(|(key, condition)| Op::Check { key, condition }),
        2 => (0..PKS.len(), -3i64..4).prop_map(|(p, delta)| Op::Add { key: (p, 2), delta }),
    ]
}

/// A step: one operation alone, or up to three on distinct keys in one transaction.
fn steps() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 1..4), 1..24)
}

fn k((p, s): (usize, usize)) -> Key {
    Key::new(PKS[p], SKS[s])
}

fn write_op(op: &Op, now: i64) -> WriteOp {
    match op {
        Op::Put {
            key,
            version,
            ttl,
            index,
            counter,
            condition,
        } => {
            let doc = if *counter {
                version.to_string()
            } else {
                format!(r#"{{"v":{version}}}"#)
            };
            let mut item = Item::new(k(*key), doc, *version);
            item = match ttl {
                Ttl::None => item,
                Ttl::Expired => item.with_ttl(now - 10),
                Ttl::Later => item.with_ttl(now + 3600),
            };
            if let Some(i) = index {
                item = item.with_index(DUE, format!("2026-0{i}"));
            }
            WriteOp::Put {
                item,
                condition: *condition,
            }
        }
        Op::Delete { key, condition } => WriteOp::Delete {
            key: k(*key),
            condition: *condition,
        },
        Op::Check { key, condition } => WriteOp::Check {
            key: k(*key),
            condition: *condition,
        },
        Op::Add { key, delta } => WriteOp::Add {
            key: k(*key),
            delta: *delta,
        },
    }
}

/// The outcome, as far as the contract defines it.
fn outcome(r: &Result<(), StoreError>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(StoreError::ConditionFailed(k)) => format!("condition failed on {}/{}", k.pk, k.sk),
        Err(StoreError::TransactionConditionFailed { index, .. }) => {
            format!("transaction condition failed at {index}")
        }
        Err(StoreError::Invalid(_)) => "invalid".into(),
        Err(e) => format!("other: {e}"),
    }
}

async fn apply(store: &dyn Store, step: &[Op], now: i64) -> String {
    let mut ops: Vec<WriteOp> = step.iter().map(|o| write_op(o, now)).collect();
    let mut seen = std::collections::HashSet::new();
    ops.retain(|o| seen.insert(o.key().clone()));
    let r = if ops.len() == 1 {
        match ops.remove(0) {
            WriteOp::Put { item, condition } => store.put(item, condition).await,
            WriteOp::Delete { key, condition } => store.delete(&key, condition).await,
            other => store.transact(vec![other]).await,
        }
    } else {
        store.transact(ops).await
    };
    outcome(&r)
}

async fn snapshot(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    for (p, pk) in PKS.iter().enumerate() {
        for s in 0..SKS.len() {
            let got = store.get(&k((p, s))).await.unwrap();
            out.push(format!("get {p}/{s}: {got:?}"));
        }
        let mut q = Query::prefix(*pk, "");
        q.limit = 2;
        let mut pages = 0;
        loop {
            let page = store.query(&q).await.unwrap();
            out.push(format!("query {p} page {pages}: {:?}", page.items));
            pages += 1;
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
    }
    for upto in [None, Some("2026-01")] {
        let mut q = IndexQuery {
            partition: DUE.into(),
            upto: upto.map(str::to_owned),
            limit: 2,
            cursor: None,
        };
        // Order among equal index sorts is each backend's own: compare the whole result,
        // sorted, and that every page held something.
        let mut all = Vec::new();
        loop {
            let page = store.query_index(&q).await.unwrap();
            assert!(!page.items.is_empty() || page.next.is_none(), "empty page");
            all.extend(
                page.items
                    .iter()
                    .map(|i| format!("{:?} {}/{} {}", i.index, i.key.pk, i.key.sk, i.doc)),
            );
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        all.sort();
        out.push(format!("index {upto:?}: {all:?}"));
    }
    out
}

async fn make(name: &str) -> Option<Arc<dyn Store>> {
    match name {
        "azuretable" => ucc_tests::backends::azuretable().await,
        _ => ucc_tests::backends::dynamodb().await,
    }
}

fn differential(name: &str, rt: &tokio::runtime::Runtime, cases: u32) {
    if rt.block_on(make(name)).is_none() {
        return;
    }
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    });
    let result = runner.run(&steps(), |steps| {
        rt.block_on(async {
            let (_dir, model) = ucc_tests::backends::embedded();
            let store = make(name)
                .await
                .ok_or_else(|| TestCaseError::fail("backend vanished"))?;
            let now = now_unix();
            for (n, step) in steps.iter().enumerate() {
                let want = apply(model.as_ref(), step, now).await;
                let got = apply(store.as_ref(), step, now).await;
                if want != got {
                    return Err(TestCaseError::fail(format!(
                        "{name}, step {n} {step:?}: embedded says {want}, {name} says {got}"
                    )));
                }
            }
            let (want, got) = (
                snapshot(model.as_ref()).await,
                snapshot(store.as_ref()).await,
            );
            for (w, g) in want.iter().zip(&got) {
                if w != g {
                    return Err(TestCaseError::fail(format!(
                        "{name}: embedded {w}\n{name} {g}"
                    )));
                }
            }
            if want.len() != got.len() {
                return Err(TestCaseError::fail(format!(
                    "{name}: {} reads vs {}",
                    want.len(),
                    got.len()
                )));
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn azure_tables_behaves_like_the_embedded_store() {
    let rt = runtime();
    differential("azuretable", &rt, 48);
}

#[test]
fn dynamodb_behaves_like_the_embedded_store() {
    let rt = runtime();
    differential("dynamodb", &rt, 24);
}
