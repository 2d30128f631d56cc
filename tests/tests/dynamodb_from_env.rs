//! `DynamoStore::from_env` against DynamoDB Local: the standard AWS variable
//! `AWS_ENDPOINT_URL_DYNAMODB` is enough, with no region or credentials configured.
//!
//! Alone in its own test binary because it sets process environment variables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ucc_shared::store::dynamodb::DynamoStore;
use ucc_shared::store::{Condition, Item, Key, Store};
use ucc_tests::backends;

#[tokio::test]
async fn from_env_honours_the_dynamodb_endpoint_variable() {
    // Reuses the harness's skip / require logic; the table it creates shows the endpoint
    // is reachable.
    if backends::dynamodb_store().await.is_none() {
        return;
    }
    let endpoint = std::env::var(backends::ENDPOINT_VAR).unwrap();
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &endpoint);

    let table = backends::unique_table_name();
    let store = DynamoStore::from_env(&table).await.unwrap();
    store.create_table_if_missing().await.unwrap();
    // Twice: an existing table with TTL already on is fine.
    store.create_table_if_missing().await.unwrap();

    let item = Item::new(Key::new("T#1", "CFG"), "{}".into(), 1);
    store.put(item.clone(), Condition::NotExists).await.unwrap();
    assert_eq!(store.get(&item.key).await.unwrap(), Some(item.clone()));

    // The same table seen through the explicit local constructor: from_env really went to
    // DynamoDB Local, not somewhere else that happened to answer.
    let direct = DynamoStore::local(&endpoint, table);
    assert_eq!(direct.get(&item.key).await.unwrap(), Some(item));
}
