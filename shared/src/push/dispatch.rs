//! Delivery of a recorded notification to every active device of its user: the rules decide once, each
//! device gets a delivery record (sent, suppressed with the rule, failed with why, or deactivated), a
//! provider's "this device is gone" deactivates the device, and other failures are retried with backoff a
//! bounded number of times, each attempt recorded.
//!
//! A delivery record is created only if absent, so the same notification dispatched twice (a stream
//! record redelivered) never reaches a device twice.

use std::time::Duration;

use futures::future::join_all;

use super::Push;
use super::devices::Provider;
use super::endpoints::SendError;
use super::records::{Attempt, Delivery, Device, NotificationRecord, Outcome};
use super::rules::{Decision, Push as Message, decide};
use super::sns;
use crate::error::Error;
use crate::store::{Condition, Record, StoreError, Write};
use crate::time::{now_rfc3339, unix_now};
use crate::webhooks::{Event, EventName};
use serde_json::json;

/// Provider calls per device: the first and two retries.
pub const MAX_ATTEMPTS: usize = 3;
/// The wait before the first retry; doubled before each later one.
const RETRY_WAIT: Duration = Duration::from_millis(200);
/// The least time worth starting a provider call with: with less left in the invocation, the record is
/// left for the stream to hand over again (its recorded deliveries are not sent twice).
pub const MIN_ATTEMPT: Duration = Duration::from_secs(2);

impl Push {
    /// Delivers notification `id`; a notification already expired or delivered is left alone. An `Err` is
    /// a store failure: the trigger retries the record.
    pub async fn dispatch(&self, id: &str) -> Result<(), Error> {
        let Some((notification, done)) = self.notification(id).await? else {
            return Ok(());
        };
        let records = self.user_records(&notification.identity_id).await?;
        let decision = decide(
            records.preferences.as_ref().map(|p| &p.preferences),
            &notification.notification,
            jiff::Timestamp::now(),
        );
        let pending: Vec<&Device> = records
            .devices
            .iter()
            .filter(|d| d.active && !done.iter().any(|x| x.device_id == d.device_id))
            .collect();
        let results = join_all(
            pending
                .into_iter()
                .map(|device| self.deliver(&notification, device, &decision)),
        )
        .await;
        results.into_iter().collect::<Result<(), Error>>()?;
        self.fanned_out(id).await
    }

    /// Marks the notification fanned out and tells `notification.sent` with the outcomes, in one
    /// transaction (the outbox): a second dispatch of the same record finds it marked and tells nothing.
    async fn fanned_out(&self, id: &str) -> Result<(), Error> {
        let Some((mut notification, deliveries)) = self.notification(id).await? else {
            return Ok(());
        };
        if notification.fanned_out {
            return Ok(());
        }
        let count = |outcome: Outcome| deliveries.iter().filter(|d| d.outcome == outcome).count();
        let event = Event::new(
            EventName::NotificationSent,
            &notification.organization_id,
            json!({
                "notificationId": notification.id,
                "recipientId": notification.identity_id,
                "category": notification.notification.category,
                "deliveries": {
                    "sent": count(Outcome::Sent),
                    "suppressed": count(Outcome::Suppressed),
                    "failed": count(Outcome::Failed),
                    "deactivated": count(Outcome::Deactivated),
                },
            }),
        );
        let expected = notification.version;
        notification.fanned_out = true;
        let writes = vec![
            Write::Put(notification.to_item()?, Condition::Version(expected)),
            event.write()?,
        ];
        match self.store.transact(writes).await {
            // Another dispatch of the same record marked it first.
            Ok(()) | Err(StoreError::ConditionFailed | StoreError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn deliver(
        &self,
        notification: &NotificationRecord,
        device: &Device,
        decision: &Decision,
    ) -> Result<(), Error> {
        let mut delivery = Delivery {
            notification_id: notification.id.clone(),
            device_id: device.device_id.clone(),
            provider: Some(device.provider),
            outcome: Outcome::Suppressed,
            rule: None,
            reason: None,
            attempts: Vec::new(),
            updated_at: String::new(),
            expires_at: notification.expires_at,
            version: 0,
        };
        match decision {
            Decision::Suppressed(rule) => delivery.rule = Some(*rule),
            Decision::Deliver(message) => {
                let mut wait = RETRY_WAIT;
                delivery.outcome = loop {
                    let sent = self.send(device, message).await;
                    delivery.attempts.push(Attempt {
                        at: now_rfc3339(),
                        result: match &sent {
                            Ok(()) => "ok".into(),
                            Err(
                                SendError::Gone(why)
                                | SendError::Retryable(why)
                                | SendError::Permanent(why),
                            ) => why.clone(),
                        },
                    });
                    match sent {
                        Ok(()) => break Outcome::Sent,
                        Err(SendError::Gone(why)) => {
                            delivery.reason = Some(why);
                            self.device_gone(device).await?;
                            break Outcome::Deactivated;
                        }
                        Err(SendError::Retryable(why))
                            if delivery.attempts.len() < MAX_ATTEMPTS =>
                        {
                            if !crate::deadline::has(wait + MIN_ATTEMPT) {
                                // No time for the retry: nothing is recorded for this device, so the
                                // record's next dispatch tries it again.
                                return Err(Error::Unavailable(format!(
                                    "out of time before retrying a push ({why})"
                                )));
                            }
                            tracing::info!(reason = why, "push attempt failed; retrying");
                            tokio::time::sleep(wait).await;
                            wait *= 2;
                        }
                        Err(SendError::Retryable(why) | SendError::Permanent(why)) => {
                            delivery.reason = Some(why);
                            break Outcome::Failed;
                        }
                    }
                };
            }
        }
        delivery.updated_at = now_rfc3339();
        match self.store.create(delivery.to_item()?).await {
            // Another dispatch of the same record got there first: its record stands.
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// One provider call.
    async fn send(&self, device: &Device, message: &Message) -> Result<(), SendError> {
        match device.provider {
            Provider::Apns | Provider::Fcm => {
                let arn = device
                    .endpoint_arn
                    .as_deref()
                    .ok_or_else(|| SendError::Permanent("no SNS endpoint".into()))?;
                let platform = sns::SnsPlatform::from_arn(arn)
                    .ok_or_else(|| SendError::Permanent("not an APNs or FCM endpoint".into()))?;
                self.endpoints
                    .publish(arn, sns::message(platform, message))
                    .await
            }
            Provider::WebPush => match &self.web_push {
                Some(web_push) => web_push.send(device, &payload(message)).await,
                None => Err(not_enabled(Provider::WebPush)),
            },
            Provider::Expo => match (&self.expo, &device.token) {
                (Some(expo), Some(token)) => expo.send(token, message).await,
                _ => Err(not_enabled(Provider::Expo)),
            },
        }
    }
}

fn not_enabled(provider: Provider) -> SendError {
    SendError::Permanent(format!(
        "provider {} is not enabled on this server",
        provider.name()
    ))
}

/// What a browser's service worker receives (decrypted): the notification as JSON.
fn payload(message: &Message) -> Vec<u8> {
    let mut payload = serde_json::json!({ "title": message.title, "body": message.body });
    if message.sound {
        payload["sound"] = serde_json::json!("default");
    }
    if let Some(badge) = message.badge {
        payload["badge"] = serde_json::json!(badge);
    }
    if let Some(data) = &message.data {
        payload["data"] = serde_json::Value::Object(data.clone());
    }
    payload.to_string().into_bytes()
}

impl Push {
    /// The provider said the device is gone: deactivate it (unless it changed since: a new registration
    /// wins) and let its token and endpoint go.
    async fn device_gone(&self, device: &Device) -> Result<(), Error> {
        let mut gone = device.clone();
        gone.deactivate("gone", unix_now());
        let mut writes = vec![Write::Put(
            gone.to_item()?,
            Condition::Version(device.version),
        )];
        if let Some(marker) = device.token_key() {
            writes.push(Write::Delete(marker, Condition::Exists));
        }
        match self.store.transact(writes).await {
            Ok(()) => {
                if let Some(arn) = &device.endpoint_arn {
                    self.endpoints.delete(arn).await;
                }
                Ok(())
            }
            Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
