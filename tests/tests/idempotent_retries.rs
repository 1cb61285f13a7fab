//! An SDK retry of a write that already committed is a success, not a failed condition: on DynamoDB Local,
//! the response of a committed write is lost (turned into a 500, which the SDK's standard retry repeats)
//! and the repeated request must find its own earlier write. Transactions carry a `ClientRequestToken`
//! (DynamoDB Local honours it); a single write recognises the request id it stamped on the item.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_dynamodb::config::{ConfigBag, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::http::StatusCode;
use serde_json::json;
use switchboard::store::dynamodb::DynamoStore;
use switchboard::store::table::ensure_table;
use switchboard::store::{Condition, Item, Key, Store, StoreError, Write};
use switchboard_tests::{DYNAMODB_URL, cursor_codec, local_client, service_url};

/// Turns the next `n` successful responses into 500s, as a connection lost after the commit would.
#[derive(Debug, Clone, Default)]
struct LoseResponses(Arc<AtomicUsize>);

impl Intercept for LoseResponses {
    fn name(&self) -> &'static str {
        "LoseResponses"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let lose = response.status().is_success()
            && self
                .0
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if lose {
            *response.status_mut() = StatusCode::try_from(500u16)?;
        }
        Ok(())
    }
}

/// A store whose client is built as the functions build theirs (standard retry), losing responses on cue.
async fn store(lose: LoseResponses) -> Arc<dyn Store> {
    let sdk = switchboard::app::aws_config().await;
    let client = local_client(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(lose),
        &service_url(DYNAMODB_URL),
    );
    let table = format!("switchboard-test-{}", uuid::Uuid::new_v4());
    ensure_table(&client, &table).await.expect("table");
    Arc::new(DynamoStore::new(client, table, cursor_codec()))
}

#[tokio::test]
async fn a_retried_write_that_committed_is_a_success() {
    let lose = LoseResponses::default();
    let store = store(lose.clone()).await;
    let item = |sk: &str| Item::new(Key::new("P", sk), json!({"n": 1}));

    // A sign-up's single create: without recognising its own write it would read "username taken".
    lose.0.store(1, Ordering::SeqCst);
    let created = store.create(item("a")).await.expect("create retried");
    assert_eq!(lose.0.load(Ordering::SeqCst), 0, "no response was lost");
    assert_eq!(created.version, 1);

    // A version-checked update.
    lose.0.store(1, Ordering::SeqCst);
    let updated = store.update(created).await.expect("update retried");
    assert_eq!(updated.version, 2);
    assert_eq!(
        store
            .get(&Key::new("P", "a"))
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );

    // A transaction: the token makes DynamoDB answer the repeat as the commit it already made.
    lose.0.store(1, Ordering::SeqCst);
    store
        .transact(vec![
            Write::Put(item("b"), Condition::Absent),
            Write::Put(item("c"), Condition::Absent),
        ])
        .await
        .expect("transaction retried");
    assert_eq!(
        store
            .batch_get(&[Key::new("P", "b"), Key::new("P", "c")])
            .await
            .unwrap()
            .len(),
        2
    );

    // Someone else's earlier write is still a failed condition.
    for (sk, write) in [
        ("a", vec![Write::Put(item("a"), Condition::Absent)]),
        (
            "b",
            vec![
                Write::Put(item("b"), Condition::Absent),
                Write::Put(item("d"), Condition::Absent),
            ],
        ),
    ] {
        assert!(
            matches!(
                store.transact(write).await,
                Err(StoreError::ConditionFailed)
            ),
            "{sk}"
        );
    }
}
