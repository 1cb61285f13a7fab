//! The local server's webhook delivery: no stream and no queue locally, so a loop in the process
//! dispatches every pending event at once and makes each due attempt from what is stored.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard::webhooks::subscriptions::Webhooks;

/// How often the in-process loop looks for work when it found none.
const POLL: Duration = Duration::from_millis(100);
/// Work items taken per look.
const BATCH: u32 = 100;

/// The local server's delivery loop: dispatches every pending event at once (there is no stream) and
/// makes each due attempt in a task of its own, from what is stored, until the process ends.
pub async fn run(webhooks: Arc<Webhooks>) {
    let in_flight: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    loop {
        if let Err(e) = webhooks.sweep(Duration::ZERO, BATCH).await {
            tracing::error!(error = %e, "webhook sweep failed");
        }
        match webhooks.due(BATCH).await {
            Ok(due) => {
                for log in due {
                    let key = (log.webhook_id, log.id);
                    if !in_flight
                        .lock()
                        .map(|mut f| f.insert(key.clone()))
                        .unwrap_or(false)
                    {
                        continue;
                    }
                    let (webhooks, in_flight) = (webhooks.clone(), in_flight.clone());
                    tokio::spawn(async move {
                        if let Err(e) = webhooks.deliver(&key.0, &key.1).await {
                            tracing::error!(webhook = %key.0, delivery = %key.1, error = %e, "webhook delivery failed");
                        }
                        if let Ok(mut f) = in_flight.lock() {
                            f.remove(&key);
                        }
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "listing due webhook deliveries failed"),
        }
        tokio::time::sleep(POLL).await;
    }
}
