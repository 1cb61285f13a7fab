//! Webhook subscriptions (issue 9 item 3, issue 20), run unchanged on each storage backend: CRUD by admins,
//! the secret shown once, the URL guard, a signed ping the official SDK and the `standardwebhooks` library
//! verify, rotation with both secrets signing for a while, 410, retry, every attempt on record, the log's
//! filters.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{Value, json};
use switchboard::outbound::{ALLOW_PRIVATE_TARGETS, Policy};
use switchboard::webhooks::retry::RetrySchedule;
use switchboard::webhooks::signature;
use switchboard::webhooks::standard;
use switchboard::webhooks::subscriptions::{DELIVERY_HEADER, EVENT_HEADER};

use switchboard::store::Record;
use switchboard::webhooks::subscriptions::Subscription;

use crate::api::{Api, ORG};
use crate::identity_security::second_organization;
use crate::receiver::{Answer, Received, Receiver, sdk_verifies, standard_verifies};

/// The same store, with deliveries allowed to loopback (`SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1`).
pub fn local_targets(api: &Api) -> Api {
    api.reconfigured(|config| {
        config.outbound =
            Policy::from_env(|name| (name == ALLOW_PRIVATE_TARGETS).then(|| "1".into()));
    })
}

async fn create(api: &Api, admin: &str, url: &str) -> Value {
    let reply = api
        .post("/webhooks")
        .bearer(admin)
        .json(json!({"url": url, "events": ["*"], "description": "tests"}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body
}

pub async fn subscriptions_crud_and_the_secret_once(api: &Api) {
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let created = create(api, &admin, &receiver.url).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["events"], json!(["*"]));
    assert_eq!(created["enabled"], true);

    let got = api
        .get(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert!(got.body.get("secret").is_none(), "shown once: {}", got.text);
    let listed = api.get("/webhooks").bearer(&admin).send().await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(!listed.text.contains("whsec_"));

    let patched = api
        .patch(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .json(json!({"events": ["user.new", "call.logged", "user.new"], "description": null}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["events"], json!(["user.new", "call.logged"]));
    assert_eq!(patched.body["description"], Value::Null);

    for (body, message) in [
        (
            json!({"events": ["user.*"]}),
            "request body/events/0 must be an event name from the catalogue or \"*\"",
        ),
        (
            json!({"events": []}),
            "request body/events must be a non-empty array of event names or \"*\"",
        ),
        (
            json!({"secret": "mine"}),
            "request body must NOT have additional properties",
        ),
        (
            json!({"enabled": "yes"}),
            "request body/enabled must be boolean",
        ),
    ] {
        let refused = api
            .patch(&format!("/webhooks/{id}"))
            .bearer(&admin)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.text);
        assert_eq!(refused.body["error"]["data"][0], message, "{body}");
    }
    let empty = api
        .patch(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(empty.status, 400);
    let missing = api
        .post("/webhooks")
        .bearer(&admin)
        .json(json!({"url": receiver.url}))
        .send()
        .await;
    assert_eq!(missing.status, 400, "{}", missing.text);

    // Admins only.
    api.sign_up("robin", "robin-password").await;
    let user = api.sign_in("robin", "robin-password", None).await;
    for (method, path) in [
        ("GET", "/webhooks".to_owned()),
        ("POST", "/webhooks".to_owned()),
        ("GET", format!("/webhooks/{id}")),
        ("DELETE", format!("/webhooks/{id}")),
        ("POST", format!("/webhooks/{id}/secret")),
    ] {
        let refused = api
            .call(method, &path)
            .bearer(&user)
            .json(json!({"url": receiver.url, "events": ["*"]}))
            .send()
            .await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text);
        let anonymous = api.call(method, &path).send().await;
        assert_eq!(anonymous.status, 401, "{method} {path}: {}", anonymous.text);
    }

    let deleted = api
        .delete(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, 204);
    for (method, path) in [
        ("GET", format!("/webhooks/{id}")),
        ("DELETE", format!("/webhooks/{id}")),
        ("POST", format!("/webhooks/{id}/ping")),
        ("GET", format!("/webhooks/{id}/deliveries")),
    ] {
        let gone = api.call(method, &path).bearer(&admin).send().await;
        assert_eq!(
            (gone.status, gone.message()),
            (404, "Webhook not found"),
            "{method} {path}"
        );
    }
}

/// Without the development setting, only https to public addresses: loopback, private, link-local
/// (the metadata service), IPv6 loopback and `localhost` are refused, and so is http.
pub async fn private_targets_are_refused(api: &Api) {
    let admin = api.admin_token().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://93.184.215.14/hook",
        "ftp://93.184.215.14/hook",
        "not a url",
    ] {
        let refused = api
            .post("/webhooks")
            .bearer(&admin)
            .json(json!({"url": url, "events": ["*"]}))
            .send()
            .await;
        assert_eq!(refused.status, 400, "{url}: {}", refused.text);
        assert!(
            !refused.text.contains("127.0.0.1") && !refused.text.contains("10.0.0.1"),
            "{url}: the answer names the rule, not the address: {}",
            refused.text
        );
    }
    let listed = api.get("/webhooks").bearer(&admin).send().await;
    assert_eq!(listed.body, json!([]), "nothing was created");
}

/// A ping is a signed delivery: the SDK verifies the raw body with the secret, not a tampered one.
pub async fn ping_is_signed_as_the_sdk_verifies(api: &Api) {
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let created = create(api, &admin, &receiver.url).await;
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap(),
    );
    let ping = api
        .post(&format!("/webhooks/{id}/ping"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(ping.status, 200, "{}", ping.text);
    assert_eq!(ping.body["status"], "delivered");
    assert_eq!(ping.body["lastStatusCode"], 200);
    assert_eq!(ping.body["attempts"], 1);
    assert!(ping.body["latencyMs"].is_u64());

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let delivery = &received[0];
    let header = delivery.header(signature::HEADER);
    assert!(sdk_verifies(secret, header, &delivery.body), "{header}");
    let mut tampered = delivery.body.to_vec();
    tampered.push(b' ');
    assert!(!sdk_verifies(secret, header, &tampered));
    assert_eq!(
        delivery.header(signature::CURRENT_HEADER),
        "",
        "one secret, one signature header"
    );

    // The Standard Webhooks headers: the library verifies the same delivery with the same secret.
    let standard_headers = delivery.standard_headers();
    assert!(
        standard_verifies(secret, &standard_headers, &delivery.body),
        "{standard_headers:?}"
    );
    assert!(!standard_verifies(secret, &standard_headers, &tampered));
    let mut other_id = standard_headers.clone();
    other_id[0].1 = "another-message";
    assert!(!standard_verifies(secret, &other_id, &delivery.body));
    assert!(!standard_verifies(
        "whsec_c2Vjb25kIHNlY3JldCBvZiB0aGUgdGVzdA==",
        &standard_headers,
        &delivery.body
    ));
    let t = header.split(',').next().unwrap().trim_start_matches("t=");
    assert_eq!(delivery.header(standard::TIMESTAMP_HEADER), t);
    assert!(
        delivery
            .header(standard::SIGNATURE_HEADER)
            .starts_with("v1,")
    );
    assert!(!delivery.header(standard::SIGNATURE_HEADER).contains(' '));

    assert_eq!(delivery.header(EVENT_HEADER), "ping");
    assert_eq!(
        delivery.header(DELIVERY_HEADER),
        ping.body["id"].as_str().unwrap()
    );
    let body = delivery.json();
    assert_eq!(delivery.header(standard::ID_HEADER), body["id"]);
    assert_eq!(body["event"], "ping");
    assert_eq!(body["payload"]["webhookId"], json!(id));
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["created_at", "event", "id", "payload"]);

    let log = api
        .get(&format!("/webhooks/{id}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    assert_eq!(log.body.as_array().unwrap().len(), 1);
    assert_eq!(log.body[0]["id"], ping.body["id"]);
    assert!(
        log.body[0].get("payload").is_none(),
        "the log never shows a payload"
    );
}

/// The verdicts on a delivery for each secret, as (SDK on `x-contactsmanager-signature`, SDK on
/// `x-contactsmanager-signature-current`, `standardwebhooks`).
fn verdicts(delivery: &Received, secrets: &[&str]) -> Vec<(bool, bool, bool)> {
    secrets
        .iter()
        .map(|secret| {
            (
                sdk_verifies(secret, delivery.header(signature::HEADER), &delivery.body),
                sdk_verifies(
                    secret,
                    delivery.header(signature::CURRENT_HEADER),
                    &delivery.body,
                ),
                standard_verifies(secret, &delivery.standard_headers(), &delivery.body),
            )
        })
        .collect()
}

/// After a rotation both secrets sign for the overlap: a receiver still on the old secret verifies
/// `x-contactsmanager-signature` with the SDK unchanged, one on the new secret its `-current` twin, and
/// `standardwebhooks` verifies with either. A second rotation drops the first secret; once the overlap is
/// over (or with none configured), only the new secret signs.
pub async fn rotation_signs_with_both_secrets_for_a_while(api: &Api) {
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let created = create(api, &admin, &receiver.url).await;
    let (id, old) = (
        created["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap().to_owned(),
    );
    let rotate = || async {
        let rotated = api
            .post(&format!("/webhooks/{id}/secret"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        rotated
    };
    let ping = || async {
        let before = receiver.received().len();
        let ping = api
            .post(&format!("/webhooks/{id}/ping"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(ping.body["status"], "delivered", "{}", ping.text);
        receiver.received()[before].clone()
    };

    let rotated = rotate().await;
    let new = rotated.str("secret");
    assert_ne!(new, old);
    let until = rotated.str("previousSecretExpiresAt");
    let until: jiff::Timestamp = until.parse().unwrap();
    let overlap = until.duration_since(jiff::Timestamp::now());
    assert!(
        (overlap - jiff::SignedDuration::from_hours(24)).abs()
            < jiff::SignedDuration::from_secs(60),
        "{until}"
    );
    let shown = api
        .get(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        shown.body["previousSecretExpiresAt"],
        rotated.body["previousSecretExpiresAt"]
    );
    assert!(!shown.text.contains(&old) && !shown.text.contains(&new));

    let delivery = ping().await;
    assert_eq!(
        verdicts(&delivery, &[&old, &new]),
        [(true, false, true), (false, true, true)],
        "old: the SDK on the main header; new: the SDK on -current; either: standardwebhooks"
    );
    assert_eq!(
        delivery
            .header(standard::SIGNATURE_HEADER)
            .split(' ')
            .count(),
        2
    );

    // Rotating again: the secret before the last one is out at once.
    let newest = rotate().await.str("secret");
    let delivery = ping().await;
    assert_eq!(
        verdicts(&delivery, &[&old, &new, &newest]),
        [
            (false, false, false),
            (true, false, true),
            (false, true, true)
        ]
    );

    // The overlap over (taken back in the stored subscription): the newest secret alone.
    let key = &Subscription::key_of(ORG, id);
    let mut stored =
        Subscription::from_item(&api.app.store.get(key).await.unwrap().unwrap()).unwrap();
    stored.previous_secret_until = Some(switchboard::time::unix_now() - 1);
    api.app
        .store
        .update(stored.to_item().unwrap())
        .await
        .unwrap();
    let delivery = ping().await;
    assert_eq!(delivery.header(signature::CURRENT_HEADER), "");
    assert_eq!(
        verdicts(&delivery, &[&new, &newest]),
        [(false, false, false), (true, false, true)]
    );
    let shown = api
        .get(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(shown.body["previousSecretExpiresAt"], Value::Null);

    // No overlap configured: a rotation replaces the secret at once.
    let at_once = api.reconfigured(|config| config.webhook_secret_overlap = Duration::ZERO);
    let rotated = at_once
        .post(&format!("/webhooks/{id}/secret"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(rotated.body["previousSecretExpiresAt"], Value::Null);
    let delivery = ping().await;
    assert_eq!(
        verdicts(&delivery, &[&newest, &rotated.str("secret")]),
        [(false, false, false), (true, false, true)]
    );
}

/// 410 disables the subscription; another failure is logged and can be retried by hand.
pub async fn gone_disables_and_failures_can_be_retried(api: &Api) {
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let created = create(api, &admin, &receiver.url).await;
    let id = created["id"].as_str().unwrap();

    receiver.script([Answer::Status(500)]);
    let failed = api
        .post(&format!("/webhooks/{id}/ping"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.text);
    assert_eq!(failed.body["lastStatusCode"], 500);
    let delivery = failed.str("id");
    let retried = api
        .post(&format!("/webhooks/{id}/deliveries/{delivery}/retry"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(retried.body["status"], "delivered");
    assert_eq!(retried.body["attempts"], 2);
    let received = receiver.received();
    assert_eq!(
        received[0].json()["id"],
        received[1].json()["id"],
        "the same event id on every attempt"
    );
    let unknown = api
        .post(&format!("/webhooks/{id}/deliveries/nope/retry"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        (unknown.status, unknown.message()),
        (404, "Delivery not found")
    );

    receiver.script([Answer::Status(410)]);
    api.post(&format!("/webhooks/{id}/ping"))
        .bearer(&admin)
        .send()
        .await;
    let got = api
        .get(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(got.body["enabled"], false, "{}", got.text);
    assert_eq!(got.body["disabledReason"], "gone");
    let enabled = api
        .patch(&format!("/webhooks/{id}"))
        .bearer(&admin)
        .json(json!({"enabled": true}))
        .send()
        .await;
    assert_eq!(enabled.body["enabled"], true);
    assert_eq!(enabled.body["disabledReason"], Value::Null);
}

/// Deliveries that keep failing for a day disable the subscription (`failing_too_long`); a success before
/// that clears the count. The day is taken back in the stored subscription, as a day of failures leaves it.
pub async fn a_day_of_failures_disables_the_subscription(api: &Api) {
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let id = create(api, &admin, &receiver.url).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = &Subscription::key_of(ORG, &id);
    let (receiver, admin, id) = (&receiver, &admin, &id);
    let stored = || async move {
        let item = api.app.store.get(key).await.unwrap().unwrap();
        Subscription::from_item(&item).unwrap()
    };
    let ping = |answer| async move {
        receiver.script([answer]);
        api.post(&format!("/webhooks/{id}/ping"))
            .bearer(admin)
            .send()
            .await
    };
    let shown = || async move {
        api.get(&format!("/webhooks/{id}"))
            .bearer(admin)
            .send()
            .await
            .body
    };

    assert_eq!(ping(Answer::Status(500)).await.body["status"], "failed");
    let failing_since = stored()
        .await
        .failing_since
        .expect("the failures are counted");
    assert_eq!(
        shown().await["enabled"],
        true,
        "failing for less than a day"
    );
    assert_eq!(ping(Answer::Status(204)).await.body["status"], "delivered");
    assert_eq!(stored().await.failing_since, None, "a success clears it");

    ping(Answer::Status(500)).await;
    let mut subscription = stored().await;
    subscription.failing_since = Some(failing_since - 24 * 3600);
    api.app
        .store
        .update(subscription.to_item().unwrap())
        .await
        .unwrap();
    assert_eq!(ping(Answer::Status(502)).await.body["status"], "failed");
    let got = shown().await;
    assert_eq!(got["enabled"], false, "{got}");
    assert_eq!(got["disabledReason"], "failing_too_long");
}

/// The store as `api` has it, delivering in process (as the local server does) to loopback, with the
/// retry schedule `schedule`; the loop stops with the returned handle.
pub fn delivering(api: &Api, schedule: &str) -> (Api, tokio::task::JoinHandle<()>) {
    let schedule = RetrySchedule::parse(schedule).unwrap();
    let api = local_targets(api).reconfigured(|config| config.webhook_retry = schedule);
    let run = tokio::spawn(switchboard_local::delivery::run(
        api.functions.webhooks.webhooks.clone(),
    ));
    (api, run)
}

async fn subscribe(api: &Api, admin: &str, url: &str, events: Value) -> (String, String) {
    let reply = api
        .post("/webhooks")
        .bearer(admin)
        .json(json!({"url": url, "events": events}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (reply.str("id"), reply.str("secret"))
}

/// An `account.created` webhook to a receiver not up yet: the port it is to listen on, the webhook's id
/// and its secret.
async fn subscribe_down(api: &Api, admin: &str) -> (u16, String, String) {
    let port = Receiver::free_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let (hook, secret) = subscribe(api, admin, &url, json!(["account.created"])).await;
    (port, hook, secret)
}

/// Distinct event ids among deliveries.
fn ids(received: &[Received]) -> HashSet<String> {
    received
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Changes reach the subscriptions that list them, signed, each event once.
pub async fn events_reach_their_subscribers_signed(api: &Api) {
    let (api, _run) = delivering(api, "1s,2s,4s");
    let api = &api;
    let admin = api.admin_token().await;
    let accounts = Receiver::start().await;
    let calls = Receiver::start().await;
    let (hook, secret) = subscribe(api, &admin, &accounts.url, json!(["account.created"])).await;
    subscribe(api, &admin, &calls.url, json!(["call.logged"])).await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let (sam, _) = api.sign_up("sam", "sam-password").await;
    let received = accounts
        .wait_for(Duration::from_secs(10), |r| r.len() >= 2)
        .await;
    assert_eq!(received.len(), 2);
    let mut delivered = Vec::new();
    for delivery in &received {
        let header = delivery.header(signature::HEADER);
        assert!(sdk_verifies(&secret, header, &delivery.body), "{header}");
        assert_eq!(delivery.header(EVENT_HEADER), "account.created");
        let body = delivery.json();
        assert_eq!(
            delivery.header(DELIVERY_HEADER),
            body["id"].as_str().unwrap()
        );
        delivered.push(
            body["payload"]["account"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    delivered.sort();
    let mut expected = vec![robin, sam];
    expected.sort();
    assert_eq!(delivered, expected);
    assert!(
        calls.received().is_empty(),
        "a subscription gets only what it lists"
    );
    let log = api
        .get(&format!("/webhooks/{hook}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    let log = log.body.as_array().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{log:?}"
    );
}

/// A receiver that refuses connections, then answers 500, then times out, gets the event once it is back,
/// on the schedule, with the same id every time.
pub async fn a_receiver_that_was_down_gets_the_event_on_the_schedule(api: &Api) {
    let (api, _run) = delivering(api, "1s,2s,4s");
    let api = &api;
    let admin = api.admin_token().await;
    let (port, hook, secret) = subscribe_down(api, &admin).await;
    api.sign_up("robin", "robin-password").await;
    // The first attempt follows the event within a poll (100 ms).
    let started = Instant::now();
    // The first attempt meets a refused connection; the receiver comes up for the second.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let receiver = Receiver::start_on(
        port,
        [Answer::Status(500), Answer::Hang(Duration::from_secs(12))],
    )
    .await;
    let received = receiver
        .wait_for(Duration::from_secs(40), |r| r.len() >= 3)
        .await;
    let log = api
        .get(&format!("/webhooks/{hook}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        received.len(),
        3,
        "500, a timeout, then delivered: {}",
        log.text
    );
    assert_eq!(
        ids(&received).len(),
        1,
        "one event, the same id on every attempt"
    );
    for delivery in &received {
        assert!(sdk_verifies(
            &secret,
            delivery.header(signature::HEADER),
            &delivery.body
        ));
    }
    // Attempt 2 about 1 s after the first, 3 about 2 s after 2, 4 about 4 s after 3 timed out (10 s).
    let second = received[0].at - started;
    assert!(
        second >= Duration::from_millis(700) && second < Duration::from_secs(4),
        "{second:?}"
    );
    let third = received[1].at - received[0].at;
    assert!(
        third >= Duration::from_millis(1700) && third < Duration::from_secs(5),
        "{third:?}"
    );
    let fourth = received[2].at - received[1].at;
    assert!(
        fourth >= Duration::from_millis(13_500) && fourth < Duration::from_secs(18),
        "{fourth:?}"
    );
    let log = api
        .get(&format!("/webhooks/{hook}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    let delivery = &log.body[0];
    assert_eq!(delivery["status"], "delivered", "{}", log.text);
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["lastStatusCode"], 200);
}

/// A schedule spent marks the delivery failed; nothing more is sent.
pub async fn a_spent_schedule_fails_the_delivery(api: &Api) {
    let (api, _run) = delivering(api, "500ms");
    let api = &api;
    let admin = api.admin_token().await;
    let receiver = Receiver::start_on(0, [Answer::Status(503), Answer::Status(500)]).await;
    let (hook, _) = subscribe(api, &admin, &receiver.url, json!(["account.created"])).await;
    api.sign_up("robin", "robin-password").await;
    receiver
        .wait_for(Duration::from_secs(10), |r| r.len() >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 2);
    let log = api
        .get(&format!("/webhooks/{hook}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(log.body[0]["status"], "failed", "{}", log.text);
    assert_eq!(log.body[0]["attempts"], 2);
    assert_eq!(log.body[0]["lastStatusCode"], 500);
}

/// 512 events from 64 concurrent writers: every one delivered, none missing, none twice once deduped.
pub async fn concurrent_changes_are_all_delivered(api: &Api) {
    let (api, _run) = delivering(api, "1s,2s,4s");
    let api = &api;
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    subscribe(api, &admin, &receiver.url, json!(["*"])).await;
    let writers = join_all((0..64).map(|i| {
        let admin = admin.clone();
        async move {
            let (_, profile) = api.sign_up(&format!("writer{i}"), "writer-password").await;
            for n in 0..7 {
                let renamed = api
                    .patch(&format!("/users/{profile}"))
                    .bearer(&admin)
                    .json(json!({"name": format!("writer {i} v{n}")}))
                    .send()
                    .await;
                assert_eq!(renamed.status, 200, "{}", renamed.text);
            }
        }
    }))
    .await;
    assert_eq!(writers.len(), 64);
    let received = receiver
        .wait_for(Duration::from_secs(90), |r| ids(r).len() >= 512)
        .await;
    let delivered = ids(&received);
    assert_eq!(delivered.len(), 512, "64 sign-ups and 448 renames");
    let names: Vec<String> = received
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "account.created").count(), 64);
    assert!(received.len() >= 512);
}

/// The loop keeps nothing in memory: stopped with deliveries pending (the receiver down), a new one over
/// the same store delivers them all once the receiver is back.
pub async fn a_restarted_loop_delivers_what_was_pending(api: &Api) {
    let (first, run) = delivering(api, "2s,2s,2s");
    let admin = first.admin_token().await;
    let (port, _, _) = subscribe_down(&first, &admin).await;
    for name in ["ann", "bob", "cy"] {
        first.sign_up(name, "a-good-password").await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    run.abort();
    let receiver = Receiver::start_on(port, []).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(receiver.received().is_empty(), "nothing runs while stopped");
    let (_second, _run) = delivering(api, "2s,2s,2s");
    let received = receiver
        .wait_for(Duration::from_secs(10), |r| ids(r).len() >= 3)
        .await;
    assert_eq!(ids(&received).len(), 3);
}

/// Every attempt on record: a delivery that met a refused connection, then a 500, then a 200 shows the three,
/// in order, with the error in words and when each next attempt was due; only to its organization's admins,
/// never with a secret or the payload.
pub async fn every_attempt_is_on_record(api: &Api) {
    let (api, _run) = delivering(api, "1s,2s,4s");
    let api = &api;
    let admin = api.admin_token().await;
    let (port, hook, secret) = subscribe_down(api, &admin).await;
    api.sign_up("robin", "robin-password").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let receiver = Receiver::start_on(port, [Answer::Status(500)]).await;
    receiver
        .wait_for(Duration::from_secs(15), |r| r.len() >= 2)
        .await;
    let list = api
        .get(&format!("/webhooks/{hook}/deliveries"))
        .bearer(&admin)
        .send()
        .await;
    let id = list.body[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/webhooks/{hook}/deliveries/{id}");
    let mut detail = api.get(&path).bearer(&admin).send().await;
    for _ in 0..50 {
        if detail.body["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        detail = api.get(&path).bearer(&admin).send().await;
    }
    assert_eq!(detail.status, 200, "{}", detail.text);
    assert_eq!(detail.body["status"], "delivered", "{}", detail.text);
    assert_eq!(detail.body["attempts"], 3);
    let history = detail.body["attemptHistory"].as_array().unwrap();
    let outcomes: Vec<(Value, Value, bool)> = history
        .iter()
        .map(|a| {
            (
                a["statusCode"].clone(),
                a["error"].clone(),
                a["nextAttemptAt"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                Value::Null,
                json!("The URL's host could not be reached"),
                true
            ),
            (json!(500), Value::Null, true),
            (json!(200), Value::Null, false),
        ],
        "{}",
        detail.text
    );
    let times: Vec<&str> = history.iter().map(|a| a["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    // Each attempt was due when the one before said: about 1 s, then about 2 s later.
    assert!(history[0]["nextAttemptAt"].as_str().unwrap() <= times[1]);
    assert!(history.iter().all(|a| a["latencyMs"].is_u64()));
    assert!(detail.body.get("payload").is_none());
    assert!(!detail.text.contains(&secret));
    assert!(
        list.body[0].get("attemptHistory").is_none(),
        "the list stays short"
    );

    for (path, message) in [
        (
            format!("/webhooks/{hook}/deliveries/nope"),
            "Delivery not found",
        ),
        (
            format!("/webhooks/nope/deliveries/{id}"),
            "Webhook not found",
        ),
    ] {
        let missing = api.get(&path).bearer(&admin).send().await;
        assert_eq!(
            (missing.status, missing.message()),
            (404, message),
            "{path}"
        );
    }
    // Another organization's admin, and a user of ours: not theirs to read.
    let (acme_admin, _) = second_organization(api).await;
    let theirs = api.get(&path).bearer(&acme_admin).send().await;
    assert_eq!(
        (theirs.status, theirs.message()),
        (404, "Webhook not found")
    );
    api.sign_up("sam", "sam-password").await;
    let user = api.sign_in("sam", "sam-password", None).await;
    assert_eq!(api.get(&path).bearer(&user).send().await.status, 403);
    assert_eq!(api.get(&path).send().await.status, 401);
}

/// A delivery keeps its latest attempts only: retried by hand past the bound, the oldest go.
pub async fn attempt_history_is_bounded(api: &Api) {
    use switchboard::webhooks::subscriptions::MAX_HISTORY;
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start().await;
    let id = create(api, &admin, &receiver.url).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    receiver.script([Answer::Status(500)]);
    let ping = api
        .post(&format!("/webhooks/{id}/ping"))
        .bearer(&admin)
        .send()
        .await;
    let delivery = ping.str("id");
    for _ in 0..MAX_HISTORY {
        let retried = api
            .post(&format!("/webhooks/{id}/deliveries/{delivery}/retry"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(retried.status, 200, "{}", retried.text);
    }
    let detail = api
        .get(&format!("/webhooks/{id}/deliveries/{delivery}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(detail.body["attempts"], MAX_HISTORY + 1);
    let history = detail.body["attemptHistory"].as_array().unwrap();
    assert_eq!(history.len(), MAX_HISTORY);
    assert!(
        history.iter().all(|a| a["statusCode"] == 200),
        "the first attempt (500) is the one dropped"
    );
}

/// The log narrowed by status and by event, a page at a time; a bad filter is a 400 naming it.
pub async fn the_log_filters_by_status_and_event_and_pages(api: &Api) {
    let api = &local_targets(api);
    let admin = api.admin_token().await;
    let receiver = Receiver::start_on(
        0,
        [
            Answer::Status(500),
            Answer::Status(200),
            Answer::Status(500),
            Answer::Status(200),
            Answer::Status(200),
        ],
    )
    .await;
    let hook = create(api, &admin, &receiver.url).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut pings = Vec::new();
    for _ in 0..5 {
        let ping = api
            .post(&format!("/webhooks/{hook}/ping"))
            .bearer(&admin)
            .send()
            .await;
        pings.push((ping.str("id"), ping.str("status")));
    }
    let newest_first = |status: &str| -> Vec<String> {
        pings
            .iter()
            .rev()
            .filter(|(_, s)| s == status)
            .map(|(id, _)| id.clone())
            .collect()
    };
    // Every page of a query, following x-next-cursor; each page at most `limit` long.
    let all_pages = |query: &'static str, limit: usize| {
        let (admin, hook) = (admin.clone(), hook.clone());
        async move {
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let after = cursor
                    .as_ref()
                    .map(|c| format!("&cursor={c}"))
                    .unwrap_or_default();
                let page = api
                    .get(&format!(
                        "/webhooks/{hook}/deliveries?{query}&limit={limit}{after}"
                    ))
                    .bearer(&admin)
                    .send()
                    .await;
                assert_eq!(page.status, 200, "{}", page.text);
                let items = page.body.as_array().unwrap();
                assert!(items.len() <= limit);
                ids.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
                cursor = page
                    .headers
                    .get("x-next-cursor")
                    .map(|c| c.to_str().unwrap().to_owned());
                if cursor.is_none() {
                    return ids;
                }
            }
        }
    };
    assert_eq!(all_pages("status=failed", 20).await, newest_first("failed"));
    assert_eq!(
        all_pages("status=delivered", 2).await,
        newest_first("delivered")
    );
    assert_eq!(newest_first("delivered").len(), 3);
    assert_eq!(all_pages("event=ping", 2).await.len(), 5);
    assert!(all_pages("event=account.created", 20).await.is_empty());
    assert_eq!(
        all_pages("event=ping&status=failed", 1).await,
        newest_first("failed")
    );

    for (query, message) in [
        (
            "status=lost",
            "request query/status must be one of pending, delivered, failed",
        ),
        (
            "event=user.*",
            "request query/event must be an event name from the catalogue or \"ping\"",
        ),
    ] {
        let refused = api
            .get(&format!("/webhooks/{hook}/deliveries?{query}"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.text);
        assert_eq!(refused.body["error"]["data"][0], message, "{query}");
    }
    let empty = api
        .get(&format!("/webhooks/{hook}/deliveries?cursor="))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        (empty.status, empty.body["error"]["message"].as_str()),
        (400, Some("Invalid pagination cursor")),
        "{}",
        empty.text
    );
}
