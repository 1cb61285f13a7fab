//! The delivery queue (SQS) between the two webhook functions: `event-dispatch` queues one message per
//! delivery, `webhook-deliver` takes them and puts a pending one back until its next attempt is due.

use std::time::Duration;

use std::sync::Arc;

use super::delivery::Job;
use super::subscriptions::Webhooks;
use crate::config::Config;
use crate::error::Error;
use crate::store::Store;

/// SendMessageBatch takes at most 10 messages.
const SEND_BATCH: usize = 10;
/// SQS caps a message's visibility timeout at 12 hours: a longer wait is taken in 12-hour steps.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// The variable naming the queue's URL.
pub const QUEUE_URL: &str = "SWITCHBOARD_WEBHOOK_QUEUE_URL";

/// What both queue functions hold: the webhooks over the store, and the delivery queue.
pub struct Deliveries {
    pub webhooks: Arc<Webhooks>,
    pub queue: DeliveryQueue,
}

impl Deliveries {
    pub fn new(config: &Config, store: Arc<dyn Store>, queue: DeliveryQueue) -> Self {
        Self {
            webhooks: Arc::new(Webhooks::new(store, config)),
            queue,
        }
    }
}

pub struct DeliveryQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl DeliveryQueue {
    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            sqs,
            url: url.into(),
        }
    }

    /// Queues one message per delivery, due at once.
    pub async fn enqueue(&self, jobs: &[Job]) -> Result<(), Error> {
        for chunk in jobs.chunks(SEND_BATCH) {
            let mut batch = self.sqs.send_message_batch().queue_url(&self.url);
            for (i, job) in chunk.iter().enumerate() {
                let body = serde_json::to_string(job)
                    .map_err(|e| Error::Internal(format!("a delivery message: {e}")))?;
                batch = batch.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| Error::Internal(format!("a delivery message: {e}")))?,
                );
            }
            let sent = batch.send().await.map_err(unavailable)?;
            if !sent.failed().is_empty() {
                return Err(Error::Unavailable(format!(
                    "{} messages not queued",
                    sent.failed().len()
                )));
            }
        }
        Ok(())
    }

    /// The message of `receipt` comes back after `wait` (at least a second, at most 12 hours).
    pub async fn postpone(&self, receipt: &str, wait: Duration) -> Result<(), Error> {
        let seconds = wait
            .clamp(Duration::from_secs(1), MAX_VISIBILITY)
            .as_secs_f64()
            .ceil() as i32;
        self.sqs
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn unavailable(e: impl std::error::Error) -> Error {
    Error::Unavailable(format!("SQS: {e}"))
}
