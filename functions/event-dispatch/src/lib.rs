//! The dispatcher (docs/events.md): DynamoDB Streams hands it the event items as they are inserted (the
//! event source mapping's filter lets nothing else through), and it turns each into one delivery per
//! matching subscription, queued for `webhook-deliver`. An EventBridge schedule invokes it too: the sweep
//! dispatches the events still undispatched after a few minutes (the stream keeps records 24 h) and queues
//! again the deliveries whose message went missing.

use std::sync::Arc;

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;
use serde_json::Value;
use switchboard::Error;
use switchboard::store::Record;
use switchboard::webhooks::Event;
use switchboard::webhooks::delivery::{Job, SWEEP_AFTER};
use switchboard::webhooks::subscriptions::Webhooks;

/// The queue `webhook-deliver` consumes.
pub const QUEUE_URL: &str = "SWITCHBOARD_WEBHOOK_QUEUE_URL";
/// Events (and overdue deliveries) one sweep takes.
const SWEEP_BATCH: u32 = 100;
/// SendMessageBatch takes at most 10 messages.
const SEND_BATCH: usize = 10;

/// What both queue functions hold (`webhook-deliver` too): the webhooks over the store, and the queue.
pub struct State {
    pub webhooks: Arc<Webhooks>,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl State {
    /// Once per cold start: configuration, store, the SQS client (the DynamoDB client's timeouts and
    /// retries) and the queue's URL.
    pub async fn start() -> Result<Self, lambda_http::Error> {
        let (config, store) = switchboard::lambda::start().await?;
        let queue_url = std::env::var(QUEUE_URL).map_err(|_| format!("{QUEUE_URL} is not set"))?;
        Ok(Self {
            webhooks: Arc::new(Webhooks::new(store, &config)),
            sqs: aws_sdk_sqs::Client::new(switchboard::lambda::aws_config().await),
            queue_url,
        })
    }
}

/// What invokes the function: a batch of stream records, or the schedule (any other event).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Stream {
        #[serde(rename = "Records")]
        records: Vec<Value>,
    },
    Schedule(Value),
}

pub async fn handle(
    state: Arc<State>,
    trigger: Trigger,
) -> Result<DynamoDbEventResponse, lambda_http::Error> {
    let mut response = DynamoDbEventResponse::default();
    match trigger {
        Trigger::Stream { records } => {
            for record in &records {
                if let Err(e) = dispatch(&state, record).await {
                    tracing::warn!(error = %e, "stream record not dispatched");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = record["dynamodb"]["SequenceNumber"]
                        .as_str()
                        .map(str::to_owned);
                    response.batch_item_failures.push(failure);
                }
            }
        }
        Trigger::Schedule(_) => {
            let mut jobs: Vec<Job> = state
                .webhooks
                .sweep(SWEEP_AFTER, SWEEP_BATCH)
                .await?
                .iter()
                .map(Job::from)
                .collect();
            let overdue = state.webhooks.overdue(SWEEP_AFTER, SWEEP_BATCH).await?;
            jobs.extend(overdue.iter().map(Job::from));
            tracing::info!(queued = jobs.len(), "sweep");
            enqueue(&state, &jobs).await?;
        }
    }
    Ok(response)
}

/// The event in a stream record's new image (the item as the DynamoDB adapter writes it).
pub fn event_of(record: &Value) -> Result<Event, Error> {
    let image = &record["dynamodb"]["NewImage"];
    let text = |name: &str| image[name]["S"].as_str();
    let invalid = |what: &str| Error::bad_request(format!("stream record: {what}"));
    if record["eventName"] != "INSERT"
        || !text("pk").is_some_and(|pk| pk.starts_with(switchboard::webhooks::outbox::KEY_PREFIX))
    {
        return Err(invalid("not an event insert"));
    }
    let version = image["v"]["N"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid("no version"))?;
    let data = text("data").ok_or_else(|| invalid("no data"))?;
    let mut event: Event =
        serde_json::from_str(data).map_err(|e| invalid(&format!("data: {e}")))?;
    event.set_version(version);
    Ok(event)
}

async fn dispatch(state: &State, record: &Value) -> Result<(), lambda_http::Error> {
    let event = event_of(record)?;
    let written = state.webhooks.dispatch(&event).await?;
    let jobs: Vec<Job> = written.iter().map(Job::from).collect();
    enqueue(state, &jobs).await
}

/// Queues one message per delivery, due at once.
pub async fn enqueue(state: &State, jobs: &[Job]) -> Result<(), lambda_http::Error> {
    for chunk in jobs.chunks(SEND_BATCH) {
        let mut batch = state.sqs.send_message_batch().queue_url(&state.queue_url);
        for (i, job) in chunk.iter().enumerate() {
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(job)?)
                    .build()?,
            );
        }
        let sent = batch.send().await?;
        if !sent.failed().is_empty() {
            return Err(format!("{} messages not queued", sent.failed().len()).into());
        }
    }
    Ok(())
}
