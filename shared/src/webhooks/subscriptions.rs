//! Webhook subscriptions of an organization (`/webhooks`, its admins): create with the secret shown once,
//! list, change, remove, rotate the secret, ping, and the delivery log with its retry (docs/events.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Event;
use super::events::{self, EVENT_TTL_SECONDS};
use super::retry::{self, Attempt, Next, RetrySchedule};
use super::signature;
use crate::config::Config;
use crate::error::Error;
use crate::optimistic;
use crate::outbound::{Outbound, OutboundError};
use crate::secrets;
use crate::store::{Condition, Key, Query, Record, Store, StoreError, Write, versioned};
use crate::time::{now_rfc3339, unix_ms_to_rfc3339, unix_now, unix_now_ms};

/// The 409 of a record other requests keep changing.
const WEBHOOK_BUSY: &str = "The webhook is being changed by other requests; try again";

pub const NOT_FOUND: &str = "Webhook not found";
pub const DELIVERY_NOT_FOUND: &str = "Delivery not found";
/// Headers naming the event and the delivery, beside the signature.
pub const EVENT_HEADER: &str = "x-switchboard-event";
pub const DELIVERY_HEADER: &str = "x-switchboard-delivery";
/// The event name of a ping (no catalogue event: subscriptions do not list it, a ping goes to its one
/// subscription).
pub const PING: &str = "ping";
/// Subscriptions per organization: an event's deliveries to all of them are written in one transaction
/// with the event (at most 100 items), and the list stays one query.
pub const MAX_SUBSCRIPTIONS: usize = 50;
/// Index (gsi1) partition of the pending deliveries, by when their next attempt is due.
pub const DUE: &str = "DELIVERIES#DUE";
const MAX_URL_BYTES: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Optimistic-locking retries of a change before it gives up with 409.
const MAX_RETRIES: usize = 8;

/// One subscription. The secret is stored as given (it signs every delivery), never shown but on create
/// and rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    pub enabled: bool,
    /// Why it was disabled: `gone` (the receiver answered 410), `failing_too_long`, or `admin`.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Since when (unix seconds) every delivery failed; cleared by a success.
    #[serde(default)]
    pub failing_since: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl Subscription {
    pub fn key_of(org: &str, id: &str) -> Key {
        Key::new(format!("ORG#{org}"), format!("WEBHOOK#{id}"))
    }

    /// As the API shows it: never the secret.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "enabled": self.enabled,
            "disabledReason": self.disabled_reason,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

impl Record for Subscription {
    fn key(&self) -> Key {
        Self::key_of(&self.organization_id, &self.id)
    }
    versioned!();
}

/// One event's delivery to one subscription: its attempts and outcome. Never its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryLog {
    /// The event's id (a ping's own): one delivery per event and subscription.
    pub id: String,
    pub webhook_id: String,
    pub organization_id: String,
    pub event_id: String,
    pub event: String,
    /// `pending` (an attempt is due at `nextAttemptAt`), `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_latency_ms: Option<u64>,
    /// `timeout`, `unreachable`, or the outbound guard's refusal.
    pub last_error: Option<String>,
    /// Unix milliseconds (test schedules step in fractions of a second).
    pub next_attempt_at: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

impl DeliveryLog {
    pub fn key_of(webhook: &str, id: &str) -> Key {
        Key::new(format!("WEBHOOK#{webhook}"), format!("DELIVERY#{id}"))
    }

    /// How long until the next attempt is due (zero: now), while pending.
    pub fn due_in(&self) -> Option<Duration> {
        let at = self.next_attempt_at.filter(|_| self.status == "pending")?;
        Some(Duration::from_millis(
            at.saturating_sub(unix_now_ms()).max(0) as u64,
        ))
    }

    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "event": self.event,
            "eventId": self.event_id,
            "status": self.status,
            "attempts": self.attempts,
            "lastStatusCode": self.last_status_code,
            "latencyMs": self.last_latency_ms,
            "lastError": self.last_error,
            "nextAttemptAt": self.next_attempt_at.map(unix_ms_to_rfc3339),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

impl Record for DeliveryLog {
    fn key(&self) -> Key {
        Self::key_of(&self.webhook_id, &self.id)
    }
    /// Listed by when it is due while pending.
    fn index(&self) -> Option<Key> {
        let due = self.next_attempt_at.filter(|_| self.status == "pending")?;
        Some(Key::new(
            DUE,
            format!("{due:013}#{}#{}", self.webhook_id, self.id),
        ))
    }
    /// The log is kept as long as the events it delivers.
    fn expires_at(&self) -> Option<i64> {
        Some(unix_now() + EVENT_TTL_SECONDS)
    }
    versioned!();
}

/// What a create or a change asks for; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub url: Option<String>,
    pub events: Option<Value>,
    /// `Some(None)` removes it.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

pub struct Webhooks {
    pub(super) store: Arc<dyn Store>,
    outbound: Arc<Outbound>,
    schedule: RetrySchedule,
}

fn new_secret() -> String {
    secrets::generate("whsec_")
}

impl Webhooks {
    /// Over the store, with the configured outbound policy and retry schedule.
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        Self {
            store,
            outbound: Arc::new(Outbound::new(config.outbound.clone())),
            schedule: config.webhook_retry.clone(),
        }
    }

    /// The URL must be absolute https and resolve to public addresses only (the outbound guard).
    async fn check_url(&self, url: &str) -> Result<(), Error> {
        if url.len() > MAX_URL_BYTES {
            return Err(Error::validation(vec![format!(
                "request body/url must be at most {MAX_URL_BYTES} bytes"
            )]));
        }
        self.outbound.check(url).await.map_err(Error::from)
    }

    /// The URL of `change`, if it sets one, checked.
    async fn check_change(&self, change: &Change) -> Result<(), Error> {
        match &change.url {
            Some(url) => self.check_url(url).await,
            None => Ok(()),
        }
    }

    /// Creates a subscription; the answer is the only time its secret is shown.
    pub async fn create(&self, org: &str, change: Change) -> Result<Subscription, Error> {
        if change.url.is_none() || change.events.is_none() {
            return Err(Error::validation(vec![
                "request body must have required properties 'url' and 'events'".into(),
            ]));
        }
        if self.list(org).await?.len() >= MAX_SUBSCRIPTIONS {
            return Err(Error::Conflict(format!(
                "An organization has at most {MAX_SUBSCRIPTIONS} webhooks"
            )));
        }
        let now = now_rfc3339();
        let mut subscription = Subscription {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: org.to_owned(),
            url: String::new(),
            events: Vec::new(),
            description: None,
            secret: new_secret(),
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now.clone(),
            updated_at: now,
            version: 0,
        };
        self.check_change(&change).await?;
        apply(&mut subscription, &change)?;
        let stored = self.store.create(subscription.to_item()?).await?;
        subscription.version = stored.version;
        Ok(subscription)
    }

    /// Every subscription of the organization, oldest first.
    pub async fn list(&self, org: &str) -> Result<Vec<Subscription>, Error> {
        let query = Query::new(format!("ORG#{org}"))
            .prefix("WEBHOOK#")
            .limit(MAX_SUBSCRIPTIONS as u32);
        let page = self.store.query(&query).await?;
        Ok(page
            .items
            .iter()
            .map(Subscription::from_item)
            .collect::<Result<_, _>>()?)
    }

    pub async fn get(&self, org: &str, id: &str) -> Result<Subscription, Error> {
        self.store
            .load(&Subscription::key_of(org, id))
            .await?
            .ok_or_else(|| Error::NotFound(NOT_FOUND.into()))
    }

    /// Version-checked change of a subscription (retried when another writer got there first).
    async fn modify(
        &self,
        org: &str,
        id: &str,
        change: impl Fn(&mut Subscription) -> Result<(), Error>,
    ) -> Result<Subscription, Error> {
        optimistic!(MAX_RETRIES, WEBHOOK_BUSY, {
            let mut subscription = self.get(org, id).await?;
            change(&mut subscription)?;
            subscription.updated_at = now_rfc3339();
            subscription.version = self.store.update(subscription.to_item()?).await?.version;
            Ok(subscription)
        })
    }

    pub async fn update(&self, org: &str, id: &str, change: Change) -> Result<Subscription, Error> {
        self.check_change(&change).await?;
        self.modify(org, id, |subscription| apply(subscription, &change))
            .await
    }

    /// A new secret; deliveries from now on are signed with it only.
    pub async fn rotate(&self, org: &str, id: &str) -> Result<Subscription, Error> {
        self.modify(org, id, |subscription| {
            subscription.secret = new_secret();
            Ok(())
        })
        .await
    }

    pub async fn delete(&self, org: &str, id: &str) -> Result<(), Error> {
        match self
            .store
            .delete(&Subscription::key_of(org, id), Condition::Exists)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed) => Err(Error::NotFound(NOT_FOUND.into())),
            Err(e) => Err(e.into()),
        }
    }

    /// The subscription's deliveries, newest first, a page at a time.
    pub async fn deliveries(
        &self,
        org: &str,
        id: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<(Vec<DeliveryLog>, Option<String>), Error> {
        let subscription = self.get(org, id).await?;
        let query = Query::new(format!("WEBHOOK#{}", subscription.id))
            .prefix("DELIVERY#")
            .limit(limit)
            .descending()
            .after(cursor);
        let page = self.store.query(&query).await?;
        let logs = page
            .items
            .iter()
            .map(DeliveryLog::from_item)
            .collect::<Result<_, _>>()?;
        Ok((logs, page.cursor))
    }

    /// Sends a `ping` to the subscription now, once, and logs it as a delivery.
    pub async fn ping(&self, org: &str, id: &str) -> Result<DeliveryLog, Error> {
        let subscription = self.get(org, id).await?;
        let event = ping_event(&subscription);
        // Logged with the attempt's outcome, so no pending ping is ever listed as due.
        self.attempt(&subscription, &event, new_log(&subscription, &event))
            .await
    }

    /// One more attempt of a logged delivery, now, whatever its schedule said.
    pub async fn retry(&self, org: &str, id: &str, delivery: &str) -> Result<DeliveryLog, Error> {
        let subscription = self.get(org, id).await?;
        let Some(item) = self
            .store
            .get(&DeliveryLog::key_of(&subscription.id, delivery))
            .await?
        else {
            return Err(Error::NotFound(DELIVERY_NOT_FOUND.into()));
        };
        let log = DeliveryLog::from_item(&item)?;
        let event = if log.event == PING {
            Event {
                id: log.event_id.clone(),
                ..ping_event(&subscription)
            }
        } else {
            match self
                .store
                .load::<Event>(&Event::key_of(&log.event_id))
                .await?
            {
                Some(event) => event,
                None => {
                    return Err(Error::Conflict(
                        "The event of this delivery has expired".into(),
                    ));
                }
            }
        };
        self.attempt(&subscription, &event, log).await
    }

    /// Sends `event` to `subscription`, signed, and records the outcome on the log (created by this write
    /// if it is new, else version-checked) and on the subscription: a 410 or a day of failures disables it.
    /// A ping is not retried on the schedule.
    pub(super) async fn attempt(
        &self,
        subscription: &Subscription,
        event: &Event,
        mut log: DeliveryLog,
    ) -> Result<DeliveryLog, Error> {
        let (attempt, latency) = send(&self.outbound, subscription, event, &log.id).await;
        log.attempts += 1;
        log.last_latency_ms = Some(latency.as_millis() as u64);
        (log.last_status_code, log.last_error) = match attempt {
            Attempt::Status(code) => (Some(code), None),
            Attempt::TimedOut => (None, Some("timeout".into())),
            Attempt::Unreachable => (None, Some("unreachable".into())),
        };
        let next = retry::next_random(&self.schedule, attempt, log.attempts as usize);
        let now = unix_now();
        (log.status, log.next_attempt_at) = match next {
            Next::Delivered => ("delivered".into(), None),
            Next::RetryIn(wait) if event.event != PING => (
                "pending".into(),
                Some(unix_now_ms() + wait.as_millis() as i64),
            ),
            _ => ("failed".into(), None),
        };
        log.updated_at = now_rfc3339();
        let expected = log.version;
        let condition = match expected {
            0 => Condition::Absent,
            v => Condition::Version(v),
        };
        let mut writes = vec![Write::Put(log.to_item()?, condition)];
        let mut changed = subscription.clone();
        match next {
            Next::Delivered => changed.failing_since = None,
            Next::DisableSubscription => {
                changed.enabled = false;
                changed.disabled_reason = Some("gone".into());
            }
            _ => {
                let since = *changed.failing_since.get_or_insert(now);
                if retry::failing_too_long(since, now) {
                    changed.enabled = false;
                    changed.disabled_reason = Some("failing_too_long".into());
                }
            }
        }
        if (changed.enabled, changed.failing_since)
            != (subscription.enabled, subscription.failing_since)
        {
            changed.updated_at = now_rfc3339();
            writes.push(Write::Put(
                changed.to_item()?,
                Condition::Version(subscription.version),
            ));
        }
        let mut result = self.store.transact(writes.clone()).await;
        if matches!(result, Err(StoreError::ConditionFailed)) && writes.len() > 1 {
            // The subscription changed meanwhile (many of its deliveries failing at once): the attempt is
            // recorded all the same; the next outcome updates the subscription.
            writes.truncate(1);
            result = self.store.transact(writes).await;
        }
        match result {
            Ok(()) => {
                log.version = expected + 1;
                Ok(log)
            }
            // Another attempt of the same delivery got there first: this attempt happened, its record lost;
            // the other one stands.
            Err(StoreError::ConditionFailed) => Err(Error::Conflict(
                "The delivery changed while it was attempted".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// Applies `change` (its URL already checked) to `subscription`, checking the other fields it sets.
fn apply(subscription: &mut Subscription, change: &Change) -> Result<(), Error> {
    if let Some(url) = &change.url {
        subscription.url = url.clone();
    }
    if let Some(list) = &change.events {
        subscription.events = events::subscription_events(list)?;
    }
    if let Some(description) = &change.description {
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err(Error::validation(vec![format!(
                "request body/description must be at most {MAX_DESCRIPTION_CHARS} characters"
            )]));
        }
        subscription.description = description.clone();
    }
    if let Some(enabled) = change.enabled {
        if enabled && !subscription.enabled {
            subscription.failing_since = None;
        }
        subscription.enabled = enabled;
        subscription.disabled_reason = (!enabled).then(|| "admin".to_owned());
    }
    Ok(())
}

fn ping_event(subscription: &Subscription) -> Event {
    Event {
        id: uuid::Uuid::now_v7().to_string(),
        event: PING.into(),
        organization_id: subscription.organization_id.clone(),
        created_at: now_rfc3339(),
        payload: json!({"webhookId": subscription.id, "organizationId": subscription.organization_id}),
        expires_at: unix_now() + EVENT_TTL_SECONDS,
        dispatched: true,
        version: 0,
    }
}

pub(super) fn new_log(subscription: &Subscription, event: &Event) -> DeliveryLog {
    let now = now_rfc3339();
    DeliveryLog {
        id: event.id.clone(),
        webhook_id: subscription.id.clone(),
        organization_id: subscription.organization_id.clone(),
        event_id: event.id.clone(),
        event: event.event.clone(),
        status: "pending".into(),
        attempts: 0,
        last_status_code: None,
        last_latency_ms: None,
        last_error: None,
        next_attempt_at: Some(unix_now_ms()),
        created_at: now.clone(),
        updated_at: now,
        version: 0,
    }
}

/// One signed POST of `event` to the subscription's URL (checked again by the outbound guard), within the
/// attempt timeout; how it ended and how long it took.
pub async fn send(
    outbound: &Outbound,
    subscription: &Subscription,
    event: &Event,
    delivery_id: &str,
) -> (Attempt, Duration) {
    let body = event.delivery().body();
    let signed = signature::sign(subscription.secret.as_bytes(), unix_now(), &body);
    let headers = [
        ("content-type", "application/json"),
        (signature::HEADER, signed.as_str()),
        (EVENT_HEADER, event.event.as_str()),
        (DELIVERY_HEADER, delivery_id),
    ];
    let started = Instant::now();
    let sent = outbound
        .post(
            &subscription.url,
            &headers,
            Bytes::from(body),
            retry::ATTEMPT_TIMEOUT,
        )
        .await;
    let attempt = match sent {
        Ok(status) => Attempt::Status(status),
        Err(OutboundError::Timeout) => Attempt::TimedOut,
        Err(refused) => {
            tracing::info!(webhook = %subscription.id, error = %refused, "delivery attempt failed");
            Attempt::Unreachable
        }
    };
    (attempt, started.elapsed())
}
