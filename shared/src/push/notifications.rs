//! Sending (`POST /users/{profileId}/notifications`, `POST /api/v1/server/users/{uid}/notifications`):
//! the request only records the notification; the dispatcher delivers it from the table's stream (or, on
//! the local server, in process). `GET /notifications/{id}` reads it back with its deliveries.

use serde_json::{Map, Value, json};

use super::Push;
use super::records::{Delivery, NOTIFICATION_SECONDS, NotificationRecord};
use super::rules::Notification;
use crate::error::Error;
use crate::store::{Query, Record};
use crate::time::{now_rfc3339, unix_now};
use crate::validate::{Kind, Schema};

const BODY: Schema = Schema {
    fields: &[
        ("title", Kind::String, true),
        ("body", Kind::String, true),
        ("category", Kind::String, true),
        ("data", Kind::Object, false),
        ("badge", Kind::Integer, false),
    ],
    open: false,
};
/// Bounds that keep the provider payloads under APNs' 4 KB.
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 2000;
const MAX_DATA_BYTES: usize = 1500;
const MAX_BADGE: u64 = 99_999;

/// Validates a sending route's body, listing every problem.
pub fn notification_body(body: Option<Value>) -> Result<Notification, Error> {
    let body = BODY.check(body)?;
    let mut problems = Vec::new();
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    for (name, max) in [("title", MAX_TITLE), ("body", MAX_BODY)] {
        let length = text(name).chars().count();
        if length == 0 || length > max {
            problems.push(format!("request body/{name} must be 1 to {max} characters"));
        }
    }
    if serde_json::from_value::<super::rules::Category>(json!(text("category"))).is_err() {
        problems.push("request body/category must be equal to one of the allowed values".into());
    }
    if body
        .get("data")
        .is_some_and(|d| d.to_string().len() > MAX_DATA_BYTES)
    {
        problems.push(format!(
            "request body/data must be at most {MAX_DATA_BYTES} bytes of JSON"
        ));
    }
    if body
        .get("badge")
        .is_some_and(|b| b.as_u64().is_none_or(|n| n > MAX_BADGE))
    {
        problems.push(format!("request body/badge must be 0 to {MAX_BADGE}"));
    }
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    serde_json::from_value(Value::Object(body))
        .map_err(|e| Error::validation(vec![format!("request body {e}")]))
}

impl Push {
    /// Records a notification for `identity_id`; returns its id. Delivery follows from the insert.
    pub async fn record(
        &self,
        identity_id: &str,
        organization_id: &str,
        notification: Notification,
    ) -> Result<String, Error> {
        let record = NotificationRecord {
            id: uuid::Uuid::now_v7().to_string(),
            identity_id: identity_id.to_owned(),
            organization_id: organization_id.to_owned(),
            notification,
            created_at: now_rfc3339(),
            expires_at: unix_now() + NOTIFICATION_SECONDS,
            fanned_out: false,
            version: 0,
        };
        self.store.create(record.to_item()?).await?;
        if let Some(recorded) = &self.on_recorded {
            recorded(&record.id);
        }
        Ok(record.id)
    }

    /// A notification and its deliveries, in one query of its partition.
    pub async fn notification(
        &self,
        id: &str,
    ) -> Result<Option<(NotificationRecord, Vec<Delivery>)>, Error> {
        let key = NotificationRecord::key_of(id);
        let page = self
            .store
            .query(&Query::new(key.pk.clone()).limit(1000))
            .await?;
        let mut record = None;
        let mut deliveries = Vec::new();
        for item in &page.items {
            if item.key == key {
                record = Some(NotificationRecord::from_item(item)?);
            } else {
                deliveries.push(Delivery::from_item(item)?);
            }
        }
        Ok(record.map(|r| (r, deliveries)))
    }
}

/// `GET /notifications/{id}`.
pub fn view(record: &NotificationRecord, deliveries: &[Delivery]) -> Value {
    let mut view = Map::new();
    view.insert("id".into(), json!(record.id));
    view.insert("userId".into(), json!(record.identity_id));
    if let Value::Object(fields) = json!(record.notification) {
        view.extend(fields);
    }
    view.insert("createdAt".into(), json!(record.created_at));
    view.insert(
        "deliveries".into(),
        Value::Array(deliveries.iter().map(Delivery::view).collect()),
    );
    Value::Object(view)
}
