//! The push dispatcher: consumes the table's DynamoDB stream, filtered (template.yaml) to the inserts of
//! notification records, and delivers each notification; and to the removals of identities, whose devices
//! (with their SNS endpoints) and preferences it deletes, and then the rest the account left. A
//! record whose work could not be completed (a store failure, or too little time for a large account) is
//! answered as a batch item failure, so Lambda retries from it; deliveries already recorded are not sent
//! again, and what was deleted stays deleted.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use switchboard::deadline;
use switchboard::error::Error;
use switchboard::identity::Identity;
use switchboard::push::Push;
use switchboard::push::dispatch::MIN_ATTEMPT;
use switchboard::push::records::{NOTIFICATION_PREFIX, NOTIFICATION_SK};
use switchboard::remains::{self, Forgotten};
use switchboard::store::stream::{self, ChangeKind};
use switchboard::store::{Key, Store};

/// What the dispatcher works with, built once per cold start.
pub struct State {
    pub push: Push,
    /// The table, for what a deleted account left.
    pub store: Arc<dyn Store>,
}

pub async fn handle(
    state: Arc<State>,
    event: Event,
) -> Result<DynamoDbEventResponse, lambda_http::Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        if !deadline::has(MIN_ATTEMPT) {
            // Too little of the invocation is left to deliver: this record and the rest come back.
            tracing::warn!("out of time; the rest of the batch is retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
        let done = match change(record) {
            Some(Change::Notification(id)) => state.push.dispatch(&id).await.map(|()| true),
            // Boxed: the clean-up's future is deep, and nesting it in the runtime's own future overflows
            // the compiler's query depth in release builds.
            Some(Change::AccountDeleted(id)) => Box::pin(forget(&state, &id)).await,
            None => continue,
        };
        match done {
            Ok(true) => continue,
            Ok(false) => {
                tracing::info!("a large account's clean-up goes on in the next invocation")
            }
            Err(e) => tracing::error!(cause = %e, "push dispatch failed; the record is retried"),
        }
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = record.change.sequence_number.clone();
        response.batch_item_failures.push(failure);
        // Lambda retries from the first failure: later records would be sent again anyway.
        break;
    }
    Ok(response)
}

/// A deleted account's push records, then the rest it left (its keys, sessions and tokens, its CRM data);
/// `false` when that needs more time than the invocation has left (the next one goes on).
async fn forget(state: &State, identity_id: &str) -> Result<bool, Error> {
    state.push.forget(identity_id).await?;
    let forgotten = remains::forget(state.store.as_ref(), identity_id).await?;
    if let Forgotten::Partly(deleted) = forgotten {
        tracing::info!(deleted, "deleted before the deadline");
        return Ok(false);
    }
    Ok(true)
}

/// The changes the dispatcher acts on.
enum Change {
    /// A notification was recorded.
    Notification(String),
    /// An identity (account) was deleted.
    AccountDeleted(String),
}

/// What a stream record means to the dispatcher; `None` for any other change (the stream's filter lets
/// only these through, but the handler does not rely on it).
fn change(record: &EventRecord) -> Option<Change> {
    let change = stream::decode(&serde_json::to_value(record).ok()?).ok()?;
    let Key { pk, sk } = change.key;
    let identity = Identity::key_of("");
    match change.kind {
        ChangeKind::Insert if sk == NOTIFICATION_SK => pk
            .strip_prefix(NOTIFICATION_PREFIX)
            .map(|id| Change::Notification(id.to_owned())),
        ChangeKind::Remove if sk == identity.sk => pk
            .strip_prefix(identity.pk.as_str())
            .map(|id| Change::AccountDeleted(id.to_owned())),
        _ => None,
    }
}

/// The stream event the insert of notification `id` produces, as the local server hands it to [`handle`].
pub fn insert_event(id: &str) -> Event {
    let key = Key::new(format!("{NOTIFICATION_PREFIX}{id}"), NOTIFICATION_SK);
    stream_event([("INSERT", &key)])
}

/// A KEYS_ONLY stream event of `changes` (event name and key), as the local server hands them to [`handle`].
pub fn stream_event<'a>(changes: impl IntoIterator<Item = (&'static str, &'a Key)>) -> Event {
    serde_json::from_value(switchboard::store::stream::keys_only(changes)).unwrap_or_default()
}
