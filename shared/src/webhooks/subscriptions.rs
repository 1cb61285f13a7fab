//! Webhook subscriptions of an organization (`/webhooks`, its admins): create with the secret shown once,
//! list, change, remove, rotate the secret (the previous one signing too for a while), ping, and the
//! delivery log (each delivery with its attempts) with its retry (docs/events.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Event;
use super::events::{self, EVENT_TTL_SECONDS};
use super::retry::{self, Attempt, Next, RetrySchedule};
use super::{signature, standard};
use crate::config::Config;
use crate::error::Error;
use crate::optimistic;
use crate::outbound::{Outbound, OutboundError};
use crate::store::{Condition, Key, Query, Record, Store, StoreError, Write, versioned};
use crate::time::{now_rfc3339, unix_ms_to_rfc3339, unix_now, unix_now_ms, unix_to_rfc3339};

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
/// Attempts a delivery keeps in its history, the latest: more than a schedule makes (at most 21), so only
/// retries by hand beyond those push the oldest out, and the item stays a few kilobytes.
pub const MAX_HISTORY: usize = 25;
/// Delivery statuses, as the log shows them and its list filters on.
pub const STATUSES: [&str; 3] = ["pending", "delivered", "failed"];
/// Pages a filtered list reads at most to fill one page of its own; then it answers what it found, with a
/// cursor to go on.
const MAX_FILTERED_READS: usize = 5;

/// One subscription. The secret is stored as given (it signs every delivery), never shown but on create
/// and rotation; the one a rotation replaced signs too until `previous_secret_until`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    #[serde(default)]
    pub previous_secret: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub previous_secret_until: Option<i64>,
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

    /// As the API shows it: never a secret, only until when the previous one still signs.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "enabled": self.enabled,
            "disabledReason": self.disabled_reason,
            "previousSecretExpiresAt": self.previous_secret_until(unix_now()).map(unix_to_rfc3339),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// Until when the previous secret signs, if it still does at `now`.
    fn previous_secret_until(&self, now: i64) -> Option<i64> {
        self.previous_secret_until
            .filter(|until| *until > now && self.previous_secret.is_some())
    }

    /// The secrets that sign a delivery at `now`: the current one first, then the previous one while it
    /// still signs.
    pub fn signing_secrets(&self, now: i64) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if self.previous_secret_until(now).is_some() {
            secrets.extend(self.previous_secret.as_deref());
        }
        secrets
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
    /// The latest [`MAX_HISTORY`] attempts, oldest first.
    #[serde(default)]
    pub history: Vec<AttemptRecord>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: u64,
}

/// One attempt of a delivery, as its history keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// RFC 3339, when it was sent.
    pub at: String,
    pub status_code: Option<u16>,
    /// Why no status came back, in words.
    pub error: Option<String>,
    pub latency_ms: u64,
    /// Unix milliseconds, when the attempt after it is due, if one is.
    pub next_attempt_at: Option<i64>,
}

impl AttemptRecord {
    fn view(&self) -> Value {
        json!({
            "at": self.at,
            "statusCode": self.status_code,
            "error": self.error,
            "latencyMs": self.latency_ms,
            "nextAttemptAt": self.next_attempt_at.map(unix_ms_to_rfc3339),
        })
    }
}

/// What the list of deliveries is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub event: Option<String>,
}

impl Filter {
    fn matches(&self, log: &DeliveryLog) -> bool {
        self.status.as_ref().is_none_or(|s| *s == log.status)
            && self.event.as_ref().is_none_or(|e| *e == log.event)
    }
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

    /// [`Self::view`] with the attempts it keeps.
    pub fn detail(&self) -> Value {
        let mut view = self.view();
        view["attemptHistory"] = self.history.iter().map(AttemptRecord::view).collect();
        view
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
    secret_overlap: Duration,
}

/// `whsec_` and 256 random bits in standard base64, the form Standard Webhooks libraries read.
fn new_secret() -> String {
    format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 32]>()))
}

impl Webhooks {
    /// Over the store, with the configured outbound policy and retry schedule.
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        Self {
            store,
            outbound: Arc::new(Outbound::new(config.outbound.clone())),
            schedule: config.webhook_retry.clone(),
            secret_overlap: config.webhook_secret_overlap,
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
            previous_secret: None,
            previous_secret_until: None,
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

    /// A new secret; the one it replaces signs deliveries beside it for the configured overlap (a
    /// rotation within it drops the secret before).
    pub async fn rotate(&self, org: &str, id: &str) -> Result<Subscription, Error> {
        let overlap = self.secret_overlap.as_secs() as i64;
        self.modify(org, id, |subscription| {
            let replaced = std::mem::replace(&mut subscription.secret, new_secret());
            (
                subscription.previous_secret,
                subscription.previous_secret_until,
            ) = match overlap {
                0 => (None, None),
                _ => (Some(replaced), Some(unix_now() + overlap)),
            };
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

    /// The subscription's deliveries that `filter` lets through, newest first, a page at a time. A
    /// filtered page reads on until it has `limit` or has read [`MAX_FILTERED_READS`] pages (each read
    /// asks for no more than the page still lacks, so the cursor is always a read's own); it may then
    /// hold fewer, with a cursor to go on.
    pub async fn deliveries(
        &self,
        org: &str,
        id: &str,
        limit: u32,
        mut cursor: Option<String>,
        filter: &Filter,
    ) -> Result<(Vec<DeliveryLog>, Option<String>), Error> {
        let subscription = self.get(org, id).await?;
        let mut logs = Vec::new();
        for _ in 0..MAX_FILTERED_READS {
            let query = Query::new(format!("WEBHOOK#{}", subscription.id))
                .prefix("DELIVERY#")
                .limit(limit - logs.len() as u32)
                .descending()
                .after(cursor);
            let page = self.store.query(&query).await?;
            for item in &page.items {
                let log = DeliveryLog::from_item(item)?;
                if filter.matches(&log) {
                    logs.push(log);
                }
            }
            cursor = page.cursor;
            if cursor.is_none() || logs.len() as u32 >= limit {
                break;
            }
        }
        Ok((logs, cursor))
    }

    /// One delivery of the organization's subscription, with its attempts: the subscription and the
    /// delivery read in one batch.
    pub async fn delivery(
        &self,
        org: &str,
        id: &str,
        delivery: &str,
    ) -> Result<DeliveryLog, Error> {
        let keys = [
            Subscription::key_of(org, id),
            DeliveryLog::key_of(id, delivery),
        ];
        let found = self.store.batch_get(&keys).await?;
        let mut subscription = None;
        let mut log = None;
        for item in &found {
            if item.key == keys[0] {
                subscription = Some(Subscription::from_item(item)?);
            } else {
                log = Some(DeliveryLog::from_item(item)?);
            }
        }
        if subscription.is_none() {
            return Err(Error::NotFound(NOT_FOUND.into()));
        }
        log.filter(|log| log.organization_id == org)
            .ok_or_else(|| Error::NotFound(DELIVERY_NOT_FOUND.into()))
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
        let sent = send(&self.outbound, subscription, event, &log.id).await;
        let attempt = sent.attempt;
        let at = now_rfc3339();
        log.attempts += 1;
        log.last_latency_ms = Some(sent.latency.as_millis() as u64);
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
        log.history.push(AttemptRecord {
            at,
            status_code: log.last_status_code,
            error: sent.error,
            latency_ms: sent.latency.as_millis() as u64,
            next_attempt_at: log.next_attempt_at,
        });
        let excess = log.history.len().saturating_sub(MAX_HISTORY);
        log.history.drain(..excess);
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
        history: Vec::new(),
        created_at: now.clone(),
        updated_at: now,
        version: 0,
    }
}

/// How an attempt went: its outcome, how long it took, and why no status came back, in words.
pub struct Sent {
    pub attempt: Attempt,
    pub latency: Duration,
    pub error: Option<String>,
}

/// One signed POST of `event` to the subscription's URL (checked again by the outbound guard), within the
/// attempt timeout. Signed with every secret that signs now (docs/events.md): the ContactsManager header
/// (and the current secret's alone while there are two) and the Standard Webhooks ones.
pub async fn send(
    outbound: &Outbound,
    subscription: &Subscription,
    event: &Event,
    delivery_id: &str,
) -> Sent {
    let body = event.delivery().body();
    let now = unix_now();
    let secrets = subscription.signing_secrets(now);
    let bytes: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    let signed = signature::sign_all(&bytes, now, &body);
    let current = signature::sign(bytes[0], now, &body);
    let timestamp = now.to_string();
    let standard = standard::sign(&secrets, &event.id, now, &body);
    let mut headers = vec![
        ("content-type", "application/json"),
        (signature::HEADER, signed.as_str()),
        (EVENT_HEADER, event.event.as_str()),
        (DELIVERY_HEADER, delivery_id),
        (standard::ID_HEADER, event.id.as_str()),
        (standard::TIMESTAMP_HEADER, timestamp.as_str()),
        (standard::SIGNATURE_HEADER, standard.as_str()),
    ];
    if secrets.len() > 1 {
        headers.push((signature::CURRENT_HEADER, current.as_str()));
    }
    let started = Instant::now();
    let sent = outbound
        .post(
            &subscription.url,
            &headers,
            Bytes::from(body),
            retry::ATTEMPT_TIMEOUT,
        )
        .await;
    let (attempt, error) = match sent {
        Ok(status) => (Attempt::Status(status), None),
        Err(OutboundError::Timeout) => (
            Attempt::TimedOut,
            Some(format!(
                "No answer within {} s",
                retry::ATTEMPT_TIMEOUT.as_secs()
            )),
        ),
        Err(refused) => {
            tracing::info!(webhook = %subscription.id, error = %refused, "delivery attempt failed");
            let words = match refused {
                // Our side's cause is for the log, not the organization.
                OutboundError::Setup(_) => "The delivery could not be sent".to_owned(),
                refused => refused.to_string(),
            };
            (Attempt::Unreachable, Some(words))
        }
    };
    Sent {
        attempt,
        latency: started.elapsed(),
        error,
    }
}
