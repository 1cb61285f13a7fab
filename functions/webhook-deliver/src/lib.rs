//! Webhook delivery attempts from the queue `event-dispatch` fills (docs/events.md): each message names one
//! delivery; the attempt is made when it is due, and a delivery still pending afterwards goes back on the
//! queue until its next attempt, as the message's visibility (reported as a batch item failure, so only
//! that message returns). The dead-letter queue takes a message received too often.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use switchboard::config::Config;
use switchboard::deadline;
use switchboard::store::Store;
use switchboard::webhooks::delivery::Job;
use switchboard::webhooks::queue::{Deliveries, DeliveryQueue};
use switchboard::webhooks::retry::ATTEMPT_TIMEOUT;

/// The webhooks over the store, and the delivery queue (the same as the other queue function's).
pub type State = Deliveries;

pub fn state(config: &Config, store: Arc<dyn Store>, queue: DeliveryQueue) -> State {
    Deliveries::new(config, store, queue)
}

pub async fn handle(
    state: Arc<State>,
    event: SqsEvent,
) -> Result<SqsBatchResponse, lambda_http::Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        if !deadline::has(ATTEMPT_TIMEOUT) {
            // Too little of the invocation is left for an attempt: the message comes back later.
            response.add_failure(id);
            continue;
        }
        match attempt(&state, message).await {
            Ok(None) => {}
            Ok(Some(wait)) => {
                // Pending: the message comes back when the next attempt is due.
                if let Err(e) = later(&state, message, wait).await {
                    tracing::warn!(message = id, error = %e, "visibility not changed");
                }
                response.add_failure(id);
            }
            Err(e) => {
                tracing::warn!(message = id, error = %e, "delivery message not handled");
                response.add_failure(id);
            }
        }
    }
    Ok(response)
}

/// The delivery's attempt, if due; how long until the next one while it stays pending.
async fn attempt(
    state: &State,
    message: &SqsMessage,
) -> Result<Option<Duration>, lambda_http::Error> {
    let job: Job = serde_json::from_str(message.body.as_deref().unwrap_or_default())?;
    Ok(state
        .webhooks
        .deliver(&job.webhook_id, &job.delivery_id)
        .await?)
}

async fn later(
    state: &State,
    message: &SqsMessage,
    wait: Duration,
) -> Result<(), lambda_http::Error> {
    let receipt = message.receipt_handle.as_deref().unwrap_or_default();
    Ok(state.queue.postpone(receipt, wait).await?)
}
