//! `events/triggers/mail-send/` through mail-send's handler with Amazon SES (the moto server's SES v2, which
//! refuses unverified senders and records what it accepts), on DynamoDB Local: a reset mail reaches its
//! address through SES with a link whose token sets the password; a refused send is reported for the
//! stream's retry and leaves the mail unsent (its retry tells the reset once); a redelivered record sends
//! nothing twice.

use std::sync::Arc;

use aws_sdk_sesv2::config::{BehaviorVersion, Region};
use serde_json::{Value, json};
use switchboard::identity::mail::{KEY_PREFIX, Mail};
use switchboard::mail::Transport;
use switchboard::store::Record;
use switchboard_tests::api::{Api, ORG};
use switchboard_tests::mail::{reset_with, token_in};
use switchboard_tests::push::MOTO_URL;
use switchboard_tests::service_url;
use switchboard_tests::triggers::sample_events;

fn ses() -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(service_url(MOTO_URL))
            .region(Region::new("us-east-1"))
            .credentials_provider(switchboard_tests::credentials())
            .build(),
    )
}

/// The mail moto's SES accepted for `to`.
async fn accepted(to: &str) -> Vec<Value> {
    let state = switchboard_tests::moto_state().await;
    state["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"] == json!([to]))
        .collect()
}

/// The sample event, naming `mail` instead of its own.
fn event_for(mail: &str) -> Value {
    let (_, mut event) = sample_events("mail-send").remove(0);
    event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] = json!(format!("{KEY_PREFIX}{mail}"));
    event
}

#[tokio::test]
async fn reset_mail_goes_through_ses_once() {
    let api = Api::dynamodb().await;
    // Names of this run's own: moto is shared by every test and every run.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (to, domain) = (format!("robin-{run}@example.com"), format!("{run}.test"));
    let robin = api
        .post("/accounts")
        .json(json!({"username": "robin", "password": "robin-password", "email": to}))
        .send()
        .await
        .str("id");
    // Requested through the domain directly: the store under `api.app` hands nothing to the local sender.
    api.app
        .identities
        .request_password_reset(&to)
        .await
        .unwrap();
    let (requests, _) = api.app.identities.requests(ORG, 1, None).await.unwrap();
    let mail = requests[0].id.clone();
    let transport = Transport::Ses {
        client: ses(),
        from: format!("Switchboard <no-reply@{domain}>"),
    };
    let state = Arc::new(mail_send::state(
        &api.app.config,
        api.app.store.clone(),
        transport,
    ));
    let send = || mail_send::handle(state.clone(), event_for(&mail));

    // SES refuses a sender it has not verified: the record is reported for a retry, the mail stays unsent.
    let refused = send().await.unwrap();
    assert_eq!(refused.batch_item_failures.len(), 1);
    let stored = api
        .app
        .store
        .get(&Mail::key_of(&mail))
        .await
        .unwrap()
        .unwrap();
    assert!(!Mail::from_item(&stored).unwrap().sent);
    assert!(accepted(&to).await.is_empty());

    ses()
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        let response = send().await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    let sent = accepted(&to).await;
    assert_eq!(sent.len(), 1, "sent once: {sent:?}");
    assert_eq!(sent[0]["subject"], "Reset your password");
    assert_eq!(
        sent[0]["source"],
        format!("Switchboard <no-reply@{domain}>")
    );
    let token = token_in(sent[0]["body"].as_str().unwrap());
    assert_eq!(
        reset_with(&api, &robin, &token, "robin-password-2").await,
        200
    );
    api.sign_in("robin", "robin-password-2", None).await;
    let told = switchboard_tests::outbox::pending(&api)
        .await
        .into_iter()
        .filter(|e| e.event == "account.password_reset_requested")
        .count();
    assert_eq!(told, 1, "told once, though sent on the second try");
}
