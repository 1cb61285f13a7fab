//! The push dispatcher: consumes the table's DynamoDB stream, filtered (template.yaml) to the inserts of
//! notification records, and delivers each notification. A record whose delivery could not be completed
//! (a store failure) is answered as a batch item failure, so Lambda retries from it; deliveries already
//! recorded are not sent again.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::{Value, json};
use switchboard::push::Push;
use switchboard::push::records::{NOTIFICATION_PREFIX, NOTIFICATION_SK};
use switchboard::store::table::{ATTR_PK, ATTR_SK};

pub async fn handle(
    push: Arc<Push>,
    event: Event,
) -> Result<DynamoDbEventResponse, lambda_http::Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let Some(id) = notification_id(record) else {
            continue;
        };
        if let Err(e) = push.dispatch(&id).await {
            tracing::error!(cause = %e, notification = id, "push dispatch failed; the record is retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            // Lambda retries from the first failure: later records would be sent again anyway.
            break;
        }
    }
    Ok(response)
}

/// The notification an insert into the table recorded; `None` for any other change (the stream's filter
/// lets only these through, but the handler does not rely on it).
fn notification_id(record: &EventRecord) -> Option<String> {
    if record.event_name != "INSERT" {
        return None;
    }
    let keys = serde_json::to_value(&record.change.keys).ok()?;
    let text = |name: &str| keys.get(name)?.get("S")?.as_str().map(str::to_owned);
    if text(ATTR_SK)? != NOTIFICATION_SK {
        return None;
    }
    text(ATTR_PK)?
        .strip_prefix(NOTIFICATION_PREFIX)
        .map(str::to_owned)
}

/// The stream event the insert of notification `id` produces, as the local server hands it to [`handle`].
pub fn insert_event(id: &str) -> Event {
    let keys = json!({
        ATTR_PK: { "S": format!("{NOTIFICATION_PREFIX}{id}") },
        ATTR_SK: { "S": NOTIFICATION_SK },
    });
    let event: Value = json!({
        "Records": [{
            "eventID": id,
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "local",
            "dynamodb": { "Keys": keys, "SequenceNumber": id, "SizeBytes": 0, "StreamViewType": "KEYS_ONLY" }
        }]
    });
    serde_json::from_value(event).unwrap_or_default()
}
