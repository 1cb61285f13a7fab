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
use switchboard::config::Config;
use switchboard::store::Record;
use switchboard::store::Store;
use switchboard::store::stream::{self, ChangeKind};
use switchboard::webhooks::Event;
use switchboard::webhooks::delivery::{Job, SWEEP_AFTER};
use switchboard::webhooks::queue::{Deliveries, DeliveryQueue};

/// Events (and overdue deliveries) one sweep takes.
const SWEEP_BATCH: u32 = 100;

/// The webhooks over the store, and the delivery queue (the same as the other queue function's).
pub type State = Deliveries;

pub fn state(config: &Config, store: Arc<dyn Store>, queue: DeliveryQueue) -> State {
    Deliveries::new(config, store, queue)
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
            state.queue.enqueue(&jobs).await?;
        }
    }
    Ok(response)
}

/// The event in a stream record's new image (the item as the DynamoDB adapter writes it).
pub fn event_of(record: &Value) -> Result<Event, Error> {
    let invalid = |what: &str| Error::bad_request(format!("stream record: {what}"));
    let change = stream::decode(record)?;
    match change.new {
        Some(item)
            if change.kind == ChangeKind::Insert
                && item
                    .key
                    .pk
                    .starts_with(switchboard::webhooks::outbox::KEY_PREFIX) =>
        {
            Ok(Event::from_item(&item)?)
        }
        _ => Err(invalid("not an event insert")),
    }
}

async fn dispatch(state: &State, record: &Value) -> Result<(), lambda_http::Error> {
    let event = event_of(record)?;
    let written = state.webhooks.dispatch(&event).await?;
    let jobs: Vec<Job> = written.iter().map(Job::from).collect();
    Ok(state.queue.enqueue(&jobs).await?)
}
