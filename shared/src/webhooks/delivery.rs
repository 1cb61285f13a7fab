//! From events to deliveries, and the attempts that are due: [`Webhooks::dispatch`] turns an event into one
//! delivery per matching subscription, [`Webhooks::deliver`] makes a due attempt. The Lambda triggers call
//! them (stream, schedule, queue); the local server runs [`run`], which does both from what is stored, so a
//! restart loses nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Event;
use super::events;
use super::subscriptions::{DUE, DeliveryLog, Webhooks, new_log};
use crate::error::Error;
use crate::store::{Condition, Index, Query, Record, StoreError, Write};
use crate::time::{now_rfc3339, unix_now, unix_now_ms, unix_to_rfc3339};

/// Events the stream did not dispatch within this long are the sweep's (in AWS; locally at once).
pub const SWEEP_AFTER: Duration = Duration::from_secs(300);

impl Webhooks {
    /// Writes one pending delivery per enabled subscription of the event's organization that lists it and
    /// existed when it happened (a late dispatch, by the sweep, does not hand a new subscription older
    /// events), and marks the event dispatched, in one transaction (version-checked): an event is dispatched
    /// once, however often the stream or the sweep hands it over. Answers the deliveries it wrote.
    pub async fn dispatch(&self, event: &Event) -> Result<Vec<DeliveryLog>, Error> {
        if event.dispatched {
            return Ok(Vec::new());
        }
        let logs: Vec<DeliveryLog> = self
            .list(&event.organization_id)
            .await?
            .iter()
            .filter(|s| {
                s.enabled
                    && s.created_at <= event.created_at
                    && events::matches(&s.events, &event.event)
            })
            .map(|s| new_log(s, event))
            .collect();
        let done = Event {
            dispatched: true,
            ..event.clone()
        };
        let mut writes = vec![Write::Put(
            done.to_item()?,
            Condition::Version(event.version),
        )];
        for log in &logs {
            writes.push(Write::Put(log.to_item()?, Condition::Absent));
        }
        match self.store.transact(writes).await {
            Ok(()) => Ok(logs),
            // Dispatched already (or expired): nothing to add.
            Err(StoreError::ConditionFailed) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Dispatches the pending events at least `min_age` old, oldest first, `limit` at most: what the stream
    /// missed. Answers the deliveries it wrote.
    pub async fn sweep(&self, min_age: Duration, limit: u32) -> Result<Vec<DeliveryLog>, Error> {
        let cutoff = unix_to_rfc3339(unix_now() - min_age.as_secs() as i64);
        let page = self.store.query(&Event::pending().limit(limit)).await?;
        let mut written = Vec::new();
        for item in &page.items {
            let event = Event::from_item(item)?;
            if !min_age.is_zero() && event.created_at > cutoff {
                break;
            }
            written.extend(self.dispatch(&event).await?);
        }
        Ok(written)
    }

    /// The pending deliveries whose attempt is due, soonest first, `limit` at most.
    pub async fn due(&self, limit: u32) -> Result<Vec<DeliveryLog>, Error> {
        let page = self
            .store
            .query(&Query::new(DUE).on(Index::Gsi1).limit(limit))
            .await?;
        let now = unix_now_ms();
        let mut due = Vec::new();
        for item in &page.items {
            let log = DeliveryLog::from_item(item)?;
            if log.next_attempt_at.is_some_and(|at| at > now) {
                break;
            }
            due.push(log);
        }
        Ok(due)
    }

    /// The pending deliveries due for at least `age` (their queue message went missing), soonest first.
    pub async fn overdue(&self, age: Duration, limit: u32) -> Result<Vec<DeliveryLog>, Error> {
        let cutoff = unix_now_ms() - age.as_millis() as i64;
        let mut due = self.due(limit).await?;
        due.retain(|log| log.next_attempt_at.is_some_and(|at| at <= cutoff));
        Ok(due)
    }

    /// Makes the due attempt of a delivery (read again: a list may be older than the attempt that moved it
    /// on), unless it is no longer pending or not due yet. A delivery whose subscription is gone or
    /// disabled, or whose event expired, is failed. Answers how long until its next attempt is due, if it
    /// is still pending.
    pub async fn deliver(&self, webhook: &str, id: &str) -> Result<Option<Duration>, Error> {
        let Some(log) = self
            .store
            .load::<DeliveryLog>(&DeliveryLog::key_of(webhook, id))
            .await?
        else {
            return Ok(None);
        };
        if log.status != "pending" {
            return Ok(None);
        }
        if let Some(wait) = log.due_in().filter(|wait| !wait.is_zero()) {
            return Ok(Some(wait));
        }
        let subscription = match self.get(&log.organization_id, webhook).await {
            Ok(s) if s.enabled => s,
            Ok(_) | Err(Error::NotFound(_)) => {
                return self.give_up(log, "disabled").await.map(|_| None);
            }
            Err(e) => return Err(e),
        };
        let event = match self
            .store
            .load::<Event>(&Event::key_of(&log.event_id))
            .await?
        {
            Some(event) => event,
            None => return self.give_up(log, "expired").await.map(|_| None),
        };
        let log = self.attempt(&subscription, &event, log).await?;
        Ok(log.due_in())
    }

    async fn give_up(
        &self,
        mut log: DeliveryLog,
        reason: &str,
    ) -> Result<Option<DeliveryLog>, Error> {
        let expected = log.version;
        log.status = "failed".into();
        log.last_error = Some(reason.into());
        log.next_attempt_at = None;
        log.updated_at = now_rfc3339();
        match self.store.update(log.to_item()?).await {
            Ok(_) => {
                log.version = expected + 1;
                Ok(Some(log))
            }
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// A queue message (in AWS): which delivery to attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    pub webhook_id: String,
    pub delivery_id: String,
}

impl From<&DeliveryLog> for Job {
    fn from(log: &DeliveryLog) -> Self {
        Self {
            webhook_id: log.webhook_id.clone(),
            delivery_id: log.id.clone(),
        }
    }
}
