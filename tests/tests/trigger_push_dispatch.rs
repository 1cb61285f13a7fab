//! Every event in `events/triggers/push-dispatch/` through push-dispatch's handler, on both stores: the
//! notification each INSERT names is delivered to its user's device once (a delivery record per device),
//! each identity a REMOVE names loses its devices, their SNS endpoints, its preferences and its CRM data, other changes
//! are left alone, and a redelivered batch does nothing twice.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use switchboard::crm::phone;
use switchboard::crm::records::{Contact, PhoneEntry};
use switchboard::push::Push;
use switchboard::push::records::{Delivery, NotificationRecord, Outcome};
use switchboard::store::{Condition, Record, Store, Write};
use switchboard_tests::api::Api;
use switchboard_tests::push::{Sns, device_id, fcm, fcm_token, user};

fn events() -> Vec<(String, aws_lambda_events::event::dynamodb::Event)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/triggers/push-dispatch");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let name = file.display().to_string();
            let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, event)
        })
        .collect()
}

/// The ids the event's records of `kind` name under the key prefix `prefix`.
fn named(
    event: &aws_lambda_events::event::dynamodb::Event,
    kind: &str,
    prefix: &str,
) -> Vec<String> {
    event
        .records
        .iter()
        .filter(|r| r.event_name == kind)
        .filter_map(|r| {
            let keys = serde_json::to_value(&r.change.keys).unwrap();
            keys["pk"]["S"]
                .as_str()?
                .strip_prefix(prefix)
                .map(str::to_owned)
        })
        .collect()
}

/// `tokens` numbers this run's push tokens apart from the other backend's run: moto's SNS keeps one
/// endpoint per token across platform applications, so two runs at once must not share tokens.
async fn runs_each_event(api: Api, tokens: u32) {
    let sns = Sns::new().await;
    let api = api.with_push(sns.endpoints(), |_| None);
    let (robin, _, token) = user(&api, "robin").await;
    let phone = device_id();
    let reply = api
        .post("/users/me/devices")
        .bearer(&token)
        .json(fcm(&phone, &fcm_token(tokens + 9)))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let store: Arc<dyn Store> = api.app.store.clone();
    let state = Arc::new(push_dispatch::State {
        push: Push::new(store.clone(), Arc::new(sns.endpoints())),
        store: store.clone(),
    });
    let push = &state.push;
    for (name, event) in events() {
        let ids = named(&event, "INSERT", "PUSHNOTE#");
        let deleted = named(&event, "REMOVE", "IDENT#");
        assert!(
            !(ids.is_empty() && deleted.is_empty()),
            "{name}: nothing for the dispatcher"
        );
        // Each deleted identity has a device with an SNS endpoint, preferences, and a contact in the
        // CRM with its phone entry.
        let mut endpoints = Vec::new();
        let mut crm_keys = Vec::new();
        for identity in &deleted {
            let contact = Contact {
                id: "c-1".into(),
                name: "Ada".into(),
                kind: "Contact".into(),
                phone: "+16505550142".into(),
                owner: identity.clone(),
                version: 0,
            };
            let entry = PhoneEntry {
                phone_key: phone::key(&contact.phone).unwrap(),
                contact: contact.clone(),
                version: 0,
            };
            store
                .transact(vec![
                    Write::Put(contact.to_item().unwrap(), Condition::Absent),
                    Write::Put(entry.to_item().unwrap(), Condition::Absent),
                ])
                .await
                .unwrap();
            crm_keys.push(contact.key());
            crm_keys.push(entry.key());
            let registration = switchboard::push::devices::registration(Some(fcm(
                &device_id(),
                &fcm_token(tokens + 10 + endpoints.len() as u32),
            )))
            .unwrap();
            let (device, _) = push
                .register(identity, "default", &registration)
                .await
                .unwrap();
            endpoints.push(device.endpoint_arn.unwrap());
        }
        for id in &ids {
            let record = NotificationRecord {
                id: id.clone(),
                identity_id: robin.clone(),
                organization_id: "default".into(),
                notification: serde_json::from_value(
                    json!({"title": "Ada", "body": "Lunch at noon?", "category": "message"}),
                )
                .unwrap(),
                created_at: switchboard::time::now_rfc3339(),
                expires_at: switchboard::time::unix_now() + 3600,
                fanned_out: false,
                version: 0,
            };
            store.create(record.to_item().unwrap()).await.unwrap();
        }
        // Twice: the stream may deliver a batch again; nothing is sent twice.
        for _ in 0..2 {
            let response = push_dispatch::handle(state.clone(), event.clone())
                .await
                .unwrap();
            assert!(response.batch_item_failures.is_empty(), "{name}");
        }
        for id in &ids {
            let item = store
                .get(&Delivery::key_of(id, &phone))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: no delivery of {id}"));
            let delivery = Delivery::from_item(&item).unwrap();
            assert_eq!(delivery.outcome, Outcome::Sent, "{name}");
            assert_eq!(delivery.attempts.len(), 1, "{name}: sent once");
        }
        for (identity, arn) in deleted.iter().zip(&endpoints) {
            assert!(push.devices(identity).await.unwrap().is_empty(), "{name}");
            assert_eq!(push.preferences(identity).await.unwrap(), None, "{name}");
            assert!(
                sns.attributes(arn).await.is_none(),
                "{name}: endpoint deleted"
            );
        }
        assert!(
            store.batch_get(&crm_keys).await.unwrap().is_empty(),
            "{name}: the CRM contact and its phone entry deleted"
        );
    }
    // A notification that is not (or no longer) stored is skipped, not failed.
    let response = push_dispatch::handle(
        state.clone(),
        push_dispatch::insert_event("no-such-notification"),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    // An invocation with too little time left delivers nothing and hands the batch back, from its first
    // record: no slow endpoint can run it past its timeout.
    let event = push_dispatch::insert_event("any-notification");
    let out_of_time = std::time::Instant::now() + switchboard::deadline::MARGIN;
    let response = switchboard::deadline::within(
        Some(out_of_time),
        push_dispatch::handle(state, event.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect::<Vec<_>>(),
        vec![event.records[0].change.sequence_number.clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_event_on_the_embedded_store() {
    runs_each_event(Api::embedded().await, 1000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_event_on_dynamodb() {
    runs_each_event(Api::dynamodb().await, 2000).await;
}
