//! `event-dispatch` through its handler: each sample event in `events/triggers/event-dispatch/` (a stream
//! batch with one malformed record, which alone is reported failed; the schedule's sweep), and an event
//! stored by a real change dispatched to the queue once, however often its record comes.

use event_dispatch::{Trigger, event_of, handle};
use serde_json::{Value, json};
use switchboard::webhooks::Event;
use switchboard::webhooks::delivery::Job;
use switchboard_tests::api::Api;
use switchboard_tests::outbox::pending;
use switchboard_tests::receiver::Receiver;
use switchboard_tests::triggers::{queue, queue_state, receive, sample_events, sqs};
use switchboard_tests::webhooks::local_targets;

fn failures(response: &aws_lambda_events::streams::DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn sample_events_run_through_the_handler() {
    let api = Api::embedded().await;
    let sqs = sqs();
    let queue_url = queue(&sqs).await;
    let state = queue_state(&api, &sqs, &queue_url);
    let mut malformed = 0;
    for (name, event) in sample_events("event-dispatch") {
        let trigger: Trigger = serde_json::from_value(event.clone()).unwrap();
        let response = handle(state.clone(), trigger)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: Vec<String> = event["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|record| event_of(record).is_err())
            .map(|record| {
                record["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        malformed += expected.len();
        assert_eq!(failures(&response), expected, "{name}");
    }
    assert_eq!(malformed, 1, "the samples hold one malformed record");
}

/// A stream record in Lambda's shape for a stored item (the DynamoDB adapter's attributes).
pub fn insert_record(event: &Event, sequence: &str) -> Value {
    let data = serde_json::to_string(event).unwrap();
    json!({
        "eventID": sequence, "eventName": "INSERT", "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"S": format!("EVENT#{}", event.id)}, "sk": {"S": "EVENT"}},
            "NewImage": {"pk": {"S": format!("EVENT#{}", event.id)}, "sk": {"S": "EVENT"},
                         "v": {"N": event.version.to_string()}, "data": {"S": data}},
            "SequenceNumber": sequence, "StreamViewType": "NEW_IMAGE"
        }
    })
}

#[tokio::test]
async fn a_change_is_queued_once_per_subscription() {
    let api = local_targets(&Api::dynamodb().await);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let hook = api
        .post("/webhooks")
        .bearer(&admin)
        .json(json!({"url": receiver.url, "events": ["account.created"]}))
        .send()
        .await
        .str("id");
    let sqs = sqs();
    let queue_url = queue(&sqs).await;
    let state = queue_state(&api, &sqs, &queue_url);
    let before: Vec<String> = pending(&api).await.into_iter().map(|e| e.id).collect();
    api.sign_up("robin", "robin-password").await;
    let event = pending(&api)
        .await
        .into_iter()
        .find(|e| !before.contains(&e.id))
        .expect("the sign-up's event");
    let stored = api
        .app
        .store
        .get(&Event::key_of(&event.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    for attempt in ["1", "2"] {
        let record = insert_record(&event, attempt);
        let trigger: Trigger = serde_json::from_value(json!({"Records": [record]})).unwrap();
        let response = handle(state.clone(), trigger).await.unwrap();
        assert!(failures(&response).is_empty());
    }
    let messages = receive(&sqs, &queue_url).await;
    assert_eq!(messages.len(), 1, "dispatched once: {messages:?}");
    let job: Job = serde_json::from_str(messages[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        job,
        Job {
            webhook_id: hook,
            delivery_id: event.id.clone()
        }
    );
    assert!(
        pending(&api).await.iter().all(|e| e.id != event.id),
        "a dispatched event leaves the pending index"
    );
}
