//! The storage conformance suite: one behaviour, checked the same way on every adapter.
//! Each case takes a fresh, empty store.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;
use switchboard::store::{
    Condition, Index, Item, Key, MAX_BODY_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS,
    Query, Store, StoreError, Write,
};

type Shared = Arc<dyn Store>;

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `gsi1` is eventually consistent in DynamoDB: what a query on it shows after a write is checked until it
/// holds (within a few seconds), never just once. Reads of the table itself are strongly consistent.
async fn eventually<T, F>(what: &str, mut read: impl FnMut() -> F, expected: T)
where
    T: PartialEq + std::fmt::Debug,
    F: Future<Output = T>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let got = read().await;
        if got == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {got:?}, expected {expected:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn create_then_get_round_trips(store: Shared) {
    let item = Item::new(
        key("P#1", "A"),
        json!({"name": "Ada", "n": 3, "tags": ["x"], "none": null}),
    )
    .indexed(key("IX#1", "2026#a"))
    .expiring_at(now() + 3600);
    let created = store.create(item.clone()).await.unwrap();
    assert_eq!(created.version, 1);
    let got = store.get(&item.key).await.unwrap().expect("item");
    assert_eq!(got.version, 1);
    assert_eq!(got.body, item.body);
    assert_eq!(got.index, item.index);
    assert_eq!(got.expires_at, item.expires_at);
    assert!(store.get(&key("P#1", "B")).await.unwrap().is_none());
}

pub async fn create_refuses_an_existing_key(store: Shared) {
    store
        .create(Item::new(key("P", "A"), json!({"v": 1})))
        .await
        .unwrap();
    let again = store
        .create(Item::new(key("P", "A"), json!({"v": 2})))
        .await;
    assert!(
        matches!(again, Err(StoreError::ConditionFailed)),
        "{again:?}"
    );
    assert_eq!(
        store.get(&key("P", "A")).await.unwrap().unwrap().body,
        json!({"v": 1})
    );
}

pub async fn concurrent_creates_have_one_winner(store: Shared) {
    let attempts = (0..64).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create(Item::new(key("UNIQUE#robin", "U"), json!({"owner": i})))
                .await
        })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::ConditionFailed | StoreError::Conflict))
    );
    let stored = store.get(&key("UNIQUE#robin", "U")).await.unwrap().unwrap();
    let winner = results.iter().position(Result::is_ok).unwrap();
    assert_eq!(stored.body, json!({"owner": winner}));
}

pub async fn concurrent_versioned_increments_lose_nothing(store: Shared) {
    store
        .create(Item::new(key("COUNTER", "C"), json!({"n": 0})))
        .await
        .unwrap();
    let workers = (0..64).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut conflicts = 0u32;
            loop {
                let mut item = store.get(&key("COUNTER", "C")).await.unwrap().unwrap();
                item.body["n"] = json!(item.body["n"].as_u64().unwrap() + 1);
                match store.update(item).await {
                    Ok(_) => return conflicts,
                    Err(StoreError::ConditionFailed | StoreError::Conflict) => conflicts += 1,
                    Err(e) => panic!("{e}"),
                }
            }
        })
    });
    let conflicts: u32 = join_all(workers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    let item = store.get(&key("COUNTER", "C")).await.unwrap().unwrap();
    assert_eq!(item.body["n"], json!(64), "{conflicts} retries");
    assert_eq!(item.version, 65);
}

pub async fn stale_update_changes_nothing(store: Shared) {
    let v1 = store
        .create(Item::new(key("P", "A"), json!({"s": "first"})))
        .await
        .unwrap();
    let mut fresh = v1.clone();
    fresh.body = json!({"s": "second"});
    let v2 = store.update(fresh).await.unwrap();
    assert_eq!(v2.version, 2);
    let mut stale = v1;
    stale.body = json!({"s": "lost"});
    assert!(matches!(
        store.update(stale).await,
        Err(StoreError::ConditionFailed)
    ));
    let got = store.get(&key("P", "A")).await.unwrap().unwrap();
    assert_eq!((got.version, got.body), (2, json!({"s": "second"})));
    // Updating something that was never created fails too.
    let ghost = Item {
        version: 1,
        ..Item::new(key("P", "ghost"), json!({}))
    };
    assert!(matches!(
        store.update(ghost).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(store.get(&key("P", "ghost")).await.unwrap().is_none());
}

pub async fn failed_transaction_writes_nothing(store: Shared) {
    store
        .create(Item::new(key("T", "taken"), json!({"who": "first"})))
        .await
        .unwrap();
    let doomed = store
        .create(Item::new(key("T", "doomed"), json!({})))
        .await
        .unwrap();
    let result = store
        .transact(vec![
            Write::Put(Item::new(key("T", "new"), json!({})), Condition::Absent),
            Write::Delete(doomed.key.clone(), Condition::Version(1)),
            Write::Put(
                Item::new(key("T", "taken"), json!({"who": "second"})),
                Condition::Absent,
            ),
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::ConditionFailed)),
        "{result:?}"
    );
    assert!(store.get(&key("T", "new")).await.unwrap().is_none());
    assert!(store.get(&key("T", "doomed")).await.unwrap().is_some());
    assert_eq!(
        store.get(&key("T", "taken")).await.unwrap().unwrap().body,
        json!({"who": "first"})
    );

    // A check that fails stops the others, and is named (before any other failed condition); one that
    // holds lets them through.
    let check_fails = store
        .transact(vec![
            Write::Put(Item::new(key("T", "new"), json!({})), Condition::Absent),
            Write::Put(Item::new(key("T", "taken"), json!({})), Condition::Absent),
            Write::Check(key("T", "missing"), Condition::Exists),
        ])
        .await;
    assert!(
        matches!(check_fails, Err(StoreError::CheckFailed(2))),
        "{check_fails:?}"
    );
    assert!(store.get(&key("T", "new")).await.unwrap().is_none());
    store
        .transact(vec![
            Write::Check(key("T", "taken"), Condition::Version(1)),
            Write::Put(Item::new(key("T", "new"), json!({})), Condition::Absent),
            Write::Delete(doomed.key, Condition::Exists),
        ])
        .await
        .unwrap();
    assert!(store.get(&key("T", "new")).await.unwrap().is_some());
    assert!(store.get(&key("T", "doomed")).await.unwrap().is_none());
}

pub async fn transactions_are_bounded_and_name_each_key_once(store: Shared) {
    let too_many = (0..=MAX_TRANSACTION_ITEMS)
        .map(|i| {
            Write::Put(
                Item::new(key("B", &i.to_string()), json!({})),
                Condition::Absent,
            )
        })
        .collect();
    assert!(matches!(
        store.transact(too_many).await,
        Err(StoreError::Invalid(_))
    ));
    let twice = vec![
        Write::Put(Item::new(key("B", "x"), json!({})), Condition::Absent),
        Write::Delete(key("B", "x"), Condition::Exists),
    ];
    assert!(matches!(
        store.transact(twice).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.transact(vec![]).await,
        Err(StoreError::Invalid(_))
    ));
    let page = store.query(&Query::new("B")).await.unwrap();
    assert!(page.items.is_empty());
}

pub async fn concurrent_transactions_claim_a_marker_once(store: Shared) {
    // The uniqueness pattern: the record and its marker are written together, or not at all.
    let attempts = (0..64).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .transact(vec![
                    Write::Put(
                        Item::new(key(&format!("ACCOUNT#{i}"), "A"), json!({})),
                        Condition::Absent,
                    ),
                    Write::Put(
                        Item::new(key("USERNAME#robin", "UNIQUE"), json!({"account": i})),
                        Condition::Absent,
                    ),
                ])
                .await
                .map(|()| i)
        })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (i, result) in results.iter().enumerate() {
        let account = store.get(&key(&format!("ACCOUNT#{i}"), "A")).await.unwrap();
        assert_eq!(account.is_some(), result.is_ok(), "account {i}");
    }
}

pub async fn expired_items_are_gone(store: Shared) {
    let past = now() - 5;
    store
        .create(
            Item::new(key("E", "old"), json!({"gen": 1}))
                .expiring_at(past)
                .indexed(key("EIX", "old")),
        )
        .await
        .unwrap();
    store
        .create(Item::new(key("E", "live"), json!({})).expiring_at(now() + 600))
        .await
        .unwrap();
    assert!(store.get(&key("E", "old")).await.unwrap().is_none());
    let batch = store
        .batch_get(&[key("E", "old"), key("E", "live")])
        .await
        .unwrap();
    assert_eq!(
        batch.iter().map(|i| i.key.sk.as_str()).collect::<Vec<_>>(),
        ["live"]
    );
    let page = store.query(&Query::new("E")).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|i| i.key.sk.as_str())
            .collect::<Vec<_>>(),
        ["live"]
    );
    assert!(
        store
            .query(&Query::new("EIX").on(Index::Gsi1))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // An expired item counts as absent for writes: it cannot be updated, and its key can be taken again.
    let stale = Item {
        version: 1,
        ..Item::new(key("E", "old"), json!({}))
    };
    assert!(matches!(
        store.update(stale).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(matches!(
        store.delete(&key("E", "old"), Condition::Exists).await,
        Err(StoreError::ConditionFailed)
    ));
    let reborn = store
        .create(Item::new(key("E", "old"), json!({"gen": 2})))
        .await
        .unwrap();
    assert_eq!(reborn.version, 1);
    let got = store.get(&key("E", "old")).await.unwrap().unwrap();
    assert_eq!(
        (got.body, got.expires_at, got.index),
        (json!({"gen": 2}), None, None)
    );
}

pub async fn conditional_delete(store: Shared) {
    let item = store
        .create(Item::new(key("D", "a"), json!({})))
        .await
        .unwrap();
    assert!(matches!(
        store.delete(&item.key, Condition::Version(7)).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(store.get(&item.key).await.unwrap().is_some());
    store
        .delete(&item.key, Condition::Version(1))
        .await
        .unwrap();
    assert!(store.get(&item.key).await.unwrap().is_none());
    assert!(matches!(
        store.delete(&item.key, Condition::Exists).await,
        Err(StoreError::ConditionFailed)
    ));
    // Delete-if-absent is a no-op that succeeds: "make sure it is gone".
    store.delete(&item.key, Condition::Absent).await.unwrap();
}

pub async fn batch_get_finds_what_exists(store: Shared) {
    let keys: Vec<Key> = (0..150).map(|i| key("BG", &format!("{i:03}"))).collect();
    for chunk in keys.chunks(MAX_TRANSACTION_ITEMS) {
        store
            .transact(
                chunk
                    .iter()
                    .map(|k| {
                        Write::Put(Item::new(k.clone(), json!({"sk": k.sk})), Condition::Absent)
                    })
                    .collect(),
            )
            .await
            .unwrap();
    }
    let mut wanted = keys.clone();
    wanted.push(key("BG", "missing"));
    wanted.push(keys[0].clone());
    let found = store.batch_get(&wanted).await.unwrap();
    let found: HashSet<String> = found
        .into_iter()
        .map(|i| i.body["sk"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(found.len(), 150);
    assert!(store.batch_get(&[]).await.unwrap().is_empty());
}

async fn seed(store: &Shared, partition: &str, count: usize) {
    for start in (0..count).step_by(MAX_TRANSACTION_ITEMS) {
        let writes = (start..(start + MAX_TRANSACTION_ITEMS).min(count))
            .map(|i| {
                Write::Put(
                    Item::new(key(partition, &format!("ITEM#{i:05}")), json!({"i": i})).indexed(
                        key(
                            &format!("{partition}-IX"),
                            &format!("{:05}", (i * 7919) % count),
                        ),
                    ),
                    Condition::Absent,
                )
            })
            .collect();
        store.transact(writes).await.unwrap();
    }
}

async fn walk(store: &Shared, query: Query) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.query(&query.clone().after(cursor)).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= query.limit as usize);
        seen.extend(page.items.iter().map(|i| i.body["i"].as_u64().unwrap()));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages <= 1000, "pagination does not end");
    }
    seen
}

pub async fn pagination_returns_each_item_once(store: Shared) {
    seed(&store, "PG", 1000).await;
    store
        .create(Item::new(key("PG", "OTHER#1"), json!({"i": 99999})))
        .await
        .unwrap();

    let forward = walk(&store, Query::new("PG").prefix("ITEM#").limit(64)).await;
    assert_eq!(forward, (0..1000).collect::<Vec<u64>>());

    let backward = walk(
        &store,
        Query::new("PG").prefix("ITEM#").limit(333).descending(),
    )
    .await;
    assert_eq!(backward, (0..1000).rev().collect::<Vec<u64>>());

    // The index walks in its own order and still yields every item once.
    let distinct = || async {
        let by_index = walk(&store, Query::new("PG-IX").on(Index::Gsi1).limit(100)).await;
        (
            by_index.len(),
            by_index.iter().collect::<HashSet<_>>().len(),
        )
    };
    eventually("index walk", distinct, (1000, 1000)).await;

    // A page exactly as large as what is left carries no cursor.
    let all = store
        .query(&Query::new("PG").prefix("OTHER#").limit(1))
        .await
        .unwrap();
    assert_eq!((all.items.len(), all.cursor), (1, None));
}

pub async fn cursors_cannot_be_forged_or_reused_elsewhere(store: Shared) {
    seed(&store, "CUR", 10).await;
    seed(&store, "SECRET", 10).await;
    let query = Query::new("CUR").limit(3);
    let page = store.query(&query).await.unwrap();
    let cursor = page.cursor.expect("more pages");
    // The same cursor on another partition, prefix or direction is refused.
    for other in [
        Query::new("SECRET").limit(3),
        Query::new("CUR").prefix("ITEM#").limit(3),
        Query::new("CUR").limit(3).descending(),
    ] {
        let result = store.query(&other.after(Some(cursor.clone()))).await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "{result:?}"
        );
    }
    let mut tampered = cursor.clone().into_bytes();
    tampered[2] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(matches!(
        store.query(&query.clone().after(Some(tampered))).await,
        Err(StoreError::InvalidCursor)
    ));
    // A different limit is fine: the cursor marks a position, not a page size.
    let next = store
        .query(&query.limit(5).after(Some(cursor)))
        .await
        .unwrap();
    assert_eq!(next.items[0].body["i"], json!(3));
}

pub async fn index_follows_updates_and_deletes(store: Shared) {
    let item = store
        .create(
            Item::new(key("IDENT#1", "PROFILE"), json!({"name": "ada"}))
                .indexed(key("NAMES", "ada#1")),
        )
        .await
        .unwrap();
    let names = |prefix: &'static str| {
        let store = store.clone();
        async move {
            store
                .query(&Query::new("NAMES").on(Index::Gsi1).prefix(prefix))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.body["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    eventually("created", || names("ada#"), vec!["ada".to_owned()]).await;
    let renamed = Item {
        body: json!({"name": "grace"}),
        index: Some(key("NAMES", "grace#1")),
        ..item
    };
    let renamed = store.update(renamed).await.unwrap();
    eventually("renamed away", || names("ada#"), vec![]).await;
    eventually("renamed", || names("grace#"), vec!["grace".to_owned()]).await;
    let unindexed = Item {
        index: None,
        ..renamed
    };
    let unindexed = store.update(unindexed).await.unwrap();
    eventually("unindexed", || names(""), vec![]).await;
    let reindexed = store
        .update(Item {
            index: Some(key("NAMES", "grace#1")),
            ..unindexed
        })
        .await
        .unwrap();
    eventually("reindexed", || names(""), vec!["grace".to_owned()]).await;
    store
        .delete(&reindexed.key, Condition::Version(reindexed.version))
        .await
        .unwrap();
    eventually("deleted", || names(""), vec![]).await;
}

pub async fn query_keeps_to_its_partition_and_prefix(store: Shared) {
    for (pk, sk) in [
        ("Q", "CONTACT#1"),
        ("Q", "CONTACT#2"),
        ("Q", "CALL#1"),
        ("Q2", "CONTACT#3"),
        ("Q", "CONTACU"),
    ] {
        store
            .create(Item::new(key(pk, sk), json!({"sk": sk})))
            .await
            .unwrap();
    }
    let page = store
        .query(&Query::new("Q").prefix("CONTACT#"))
        .await
        .unwrap();
    let sks: Vec<_> = page.items.iter().map(|i| i.key.sk.as_str()).collect();
    assert_eq!(sks, ["CONTACT#1", "CONTACT#2"]);
    assert!(page.cursor.is_none());
    let all = store.query(&Query::new("Q")).await.unwrap();
    assert_eq!(all.items.len(), 4);
    assert!(
        store
            .query(&Query::new("nothing"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn any_json_body_round_trips(store: Shared) {
    let body = json!({"": 1, "big": 1e300, "tiny": 1e-300, "nested": {"": [null, true, "x"]}, "unicode": "é🚀"});
    store
        .create(Item::new(key("J", "1"), body.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(&key("J", "1")).await.unwrap().unwrap().body, body);
}

pub async fn oversized_items_and_keys_are_refused(store: Shared) {
    let huge = "x".repeat(MAX_BODY_BYTES + 1);
    let result = store
        .create(Item::new(key("L", "1"), json!({"note": huge})))
        .await;
    assert!(matches!(result, Err(StoreError::TooLarge)), "{result:?}");
    let long_sk = "s".repeat(1025);
    let result = store.create(Item::new(key("L", &long_sk), json!({}))).await;
    assert!(matches!(result, Err(StoreError::TooLarge)), "{result:?}");
    let long_pk = "p".repeat(2049);
    let result = store.create(Item::new(key(&long_pk, "1"), json!({}))).await;
    assert!(matches!(result, Err(StoreError::TooLarge)), "{result:?}");
    // Reads of keys that can never exist find nothing instead of failing.
    assert!(store.get(&key("L", &long_sk)).await.unwrap().is_none());
    assert!(
        store
            .batch_get(&[key("L", &long_sk), key(&long_pk, "1")])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .query(&Query::new(long_pk))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .query(&Query::new("L"))
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing was written"
    );
}

pub async fn empty_keys_are_refused_and_never_found(store: Shared) {
    for write in [
        Write::Put(Item::new(key("", "x"), json!({})), Condition::Absent),
        Write::Put(Item::new(key("P", ""), json!({})), Condition::Absent),
        Write::Put(
            Item::new(key("P", "x"), json!({})).indexed(key("", "s")),
            Condition::Absent,
        ),
        Write::Delete(key("P", ""), Condition::Exists),
    ] {
        let result = store.transact(vec![write.clone()]).await;
        assert!(
            matches!(result, Err(StoreError::EmptyKey)),
            "{write:?}: {result:?}"
        );
    }
    assert!(store.get(&key("", "x")).await.unwrap().is_none());
    assert!(store.get(&key("P", "")).await.unwrap().is_none());
    assert!(store.batch_get(&[key("", "")]).await.unwrap().is_empty());
    assert!(store.query(&Query::new("")).await.unwrap().items.is_empty());
    assert!(
        store
            .query(&Query::new("P"))
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing was written"
    );
}

pub async fn transactions_over_4_mb_are_refused(store: Shared) {
    let body = json!({"note": "x".repeat(MAX_BODY_BYTES - 100)});
    let writes = |n: usize| -> Vec<Write> {
        (0..n)
            .map(|i| {
                Write::Put(
                    Item::new(key("T", &i.to_string()), body.clone()),
                    Condition::Absent,
                )
            })
            .collect()
    };
    let over = MAX_TRANSACTION_BYTES / MAX_BODY_BYTES + 1;
    let result = store.transact(writes(over)).await;
    assert!(matches!(result, Err(StoreError::TooLarge)), "{result:?}");
    assert!(
        store
            .query(&Query::new("T"))
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing was written"
    );
    // Just under the limit is accepted by both, DynamoDB included.
    store.transact(writes(over - 1)).await.unwrap();
}

pub async fn pages_thinned_by_expired_items_stay_bounded(store: Shared) {
    // Expired items first (DynamoDB deletes them days late), then the one live item.
    let past = now() - 5;
    for i in 0..30 {
        store
            .create(Item::new(key("X", &format!("a{i:02}")), json!({})).expiring_at(past))
            .await
            .unwrap();
    }
    store
        .create(Item::new(key("X", "z"), json!({})))
        .await
        .unwrap();
    let mut query = Query::new("X").limit(1);
    let (mut found, mut pages) = (Vec::new(), 0);
    loop {
        let page = store.query(&query).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 1);
        found.extend(page.items.into_iter().map(|i| i.key.sk));
        match page.cursor {
            Some(cursor) => query = query.after(Some(cursor)),
            None => break,
        }
        assert!(pages <= 31, "paging does not end");
    }
    assert_eq!(found, ["z"]);
}

/// A write is seen at once by reads of the table, and by index queries within moments.
pub async fn index_reads_may_lag_table_reads_never_do(store: Shared) {
    let item = Item::new(key("LAG", "1"), json!({})).indexed(key("LAG-IX", "1"));
    store.create(item.clone()).await.unwrap();
    assert!(store.get(&item.key).await.unwrap().is_some());
    assert_eq!(
        store
            .batch_get(std::slice::from_ref(&item.key))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.query(&Query::new("LAG")).await.unwrap().items.len(),
        1
    );
    let indexed = || async {
        let page = store.query(&Query::new("LAG-IX").on(Index::Gsi1)).await;
        page.unwrap().items.len()
    };
    eventually("index", indexed, 1).await;
}
