//! For the trigger functions' tests: their sample events under `events/triggers/<function>/`, the queue
//! (SQS on the moto server the test services run), and each function's state over a test [`Api`]'s store.

use std::path::PathBuf;
use std::sync::Arc;
use switchboard::webhooks::queue::{Deliveries, DeliveryQueue};

use aws_sdk_sqs::config::{BehaviorVersion, Region};
use serde_json::Value;

use crate::api::Api;
use crate::service_url;

pub const MOTO_URL: &str = "SWITCHBOARD_TEST_MOTO_URL";

/// Every sample event of a trigger function, by file name.
pub fn sample_events(function: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events/triggers")
        .join(function);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no sample events in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// An SQS client for moto.
pub fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(service_url(MOTO_URL))
            .region(Region::new("us-east-1"))
            .credentials_provider(crate::credentials())
            .build(),
    )
}

/// A new queue of its own; its URL.
pub async fn queue(sqs: &aws_sdk_sqs::Client) -> String {
    let name = format!("webhooks-{}", uuid::Uuid::new_v4());
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("moto creates a queue")
        .queue_url
        .expect("a queue URL")
}

/// The messages on the queue now (up to 10), as `webhook-deliver` would receive them.
pub async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Value> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    out.messages()
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            })
        })
        .collect()
}

/// The state of both queue functions (`event-dispatch`, `webhook-deliver`) over `api`'s store.
pub fn queue_state(api: &Api, sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Arc<Deliveries> {
    Arc::new(Deliveries {
        webhooks: api.functions.webhooks.webhooks.clone(),
        queue: DeliveryQueue::new(sqs.clone(), queue_url),
    })
}
