//! The storage conformance suite on an embedded store whose index lags as DynamoDB's `gsi1` may: the suite
//! relies on no read-after-write on the index, as the domain must not.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard::store::embedded::EmbeddedStore;
use switchboard::store::{Index, Item, Key, Query, Store};
use switchboard_tests::cursor_codec;

const LAG: Duration = Duration::from_millis(300);

fn lagging() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), cursor_codec())
        .expect("embedded store")
        .with_index_lag(LAG);
    (dir, Arc::new(store))
}

switchboard_tests::store_conformance!(lagging());

#[tokio::test]
async fn the_index_really_lags() {
    let (_dir, store) = lagging();
    let query = Query::new("IX").on(Index::Gsi1);
    assert!(store.query(&query).await.unwrap().items.is_empty());
    store
        .create(Item::new(Key::new("P", "1"), json!({})).indexed(Key::new("IX", "1")))
        .await
        .unwrap();
    assert!(store.get(&Key::new("P", "1")).await.unwrap().is_some());
    assert!(
        store.query(&query).await.unwrap().items.is_empty(),
        "not yet"
    );
    tokio::time::sleep(LAG).await;
    assert_eq!(store.query(&query).await.unwrap().items.len(), 1);
}
