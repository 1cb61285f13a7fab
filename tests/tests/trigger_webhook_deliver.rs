//! `webhook-deliver` through its handler: each sample event in `events/triggers/webhook-deliver/` (one
//! malformed message, which alone is reported failed), and a delivery retried through the message's
//! visibility until the receiver takes it.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{Value, json};
use switchboard::webhooks::signature;
use switchboard_tests::api::Api;
use switchboard_tests::outbox::pending;
use switchboard_tests::receiver::{Answer, Receiver, sdk_verifies};
use switchboard_tests::triggers::{queue, queue_state, receive, sample_events, sqs};
use switchboard_tests::webhooks::delivering;
use webhook_deliver::handle;

fn failures(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn sample_events_run_through_the_handler() {
    let api = Api::embedded().await;
    let sqs = sqs();
    let queue_url = queue(&sqs).await;
    let state = queue_state(&api, &sqs, &queue_url);
    for (name, event) in sample_events("webhook-deliver") {
        let expected: Vec<String> = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| serde_json::from_str::<Value>(m["body"].as_str().unwrap()).is_err())
            .map(|m| m["messageId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(expected.len(), 1, "{name}: one malformed message");
        let event: SqsEvent = serde_json::from_value(event).unwrap();
        let response = handle(state.clone(), event.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(failures(&response), expected, "{name}");
        // With too little of the invocation left for an attempt, every message goes back to the queue.
        let out_of_time = std::time::Instant::now() + switchboard::deadline::MARGIN;
        let all: Vec<String> = event
            .records
            .iter()
            .map(|m| m.message_id.clone().unwrap())
            .collect();
        let response =
            switchboard::deadline::within(Some(out_of_time), handle(state.clone(), event))
                .await
                .unwrap();
        assert_eq!(failures(&response), all, "{name}");
    }
}

#[tokio::test]
async fn a_failed_attempt_waits_as_visibility_then_delivers() {
    let sqs = sqs();
    let queue_url = queue(&sqs).await;
    // Deliveries dispatched in process, attempted only from the queue here: the loop stops at once.
    let (api, run) = delivering(&Api::dynamodb().await, "1s");
    let admin = api.admin_token().await;
    let receiver = Receiver::start_on(0, [Answer::Status(500)]).await;
    let created = api
        .post("/webhooks")
        .bearer(&admin)
        .json(json!({"url": receiver.url, "events": ["account.created"]}))
        .send()
        .await;
    let secret = created.str("secret");
    run.abort();
    api.sign_up("robin", "robin-password").await;
    let event = pending(&api).await.pop().expect("the sign-up's event");
    let written = api
        .functions
        .webhooks
        .webhooks
        .dispatch(&event)
        .await
        .unwrap();
    assert_eq!(written.len(), 1);
    let state = queue_state(&api, &sqs, &queue_url);
    state
        .queue
        .enqueue(&written.iter().map(Into::into).collect::<Vec<_>>())
        .await
        .unwrap();

    let first = receive(&sqs, &queue_url).await;
    assert_eq!(first.len(), 1);
    let event_json = json!({"Records": first});
    let response = handle(state.clone(), serde_json::from_value(event_json).unwrap())
        .await
        .unwrap();
    assert_eq!(failures(&response).len(), 1, "a 500: back on the queue");
    assert!(
        receive(&sqs, &queue_url).await.is_empty(),
        "invisible until due"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = receive(&sqs, &queue_url).await;
    assert_eq!(again.len(), 1, "visible again when the retry is due");
    let response = handle(
        state.clone(),
        serde_json::from_value(json!({"Records": again})).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        failures(&response).is_empty(),
        "delivered: the message goes"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let last = &received[1];
    assert!(sdk_verifies(
        &secret,
        last.header(signature::HEADER),
        &last.body
    ));
}
