//! Push notifications (issue 8) over HTTP, on both stores, with SNS from moto (`scripts/services.sh`):
//! devices and their SNS endpoints, preferences, sending and delivery, and who may see what.

use std::time::Duration;

use aws_sdk_sns::config::Region;
use futures::future::join_all;
use serde_json::{Value, json};
use switchboard::push::endpoints::Endpoints;
use switchboard::push::records::{Device, Preferences, TokenMarker};
use switchboard::store::Record;

use crate::api::{Api, ORG_API_SECRET};
use crate::identity::sdk_token;

pub const MOTO_URL: &str = "SWITCHBOARD_TEST_MOTO_URL";

/// moto's SNS, with a fresh APNs (sandbox) and FCM platform application.
pub struct Sns {
    pub client: aws_sdk_sns::Client,
    pub apns: String,
    pub fcm: String,
}

impl Sns {
    pub async fn new() -> Self {
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .endpoint_url(crate::service_url(MOTO_URL))
            .region(Region::new("us-east-1"))
            .credentials_provider(crate::credentials())
            .build();
        let client = aws_sdk_sns::Client::from_conf(config);
        let name = uuid::Uuid::new_v4().simple().to_string();
        let mut arns = Vec::new();
        for platform in ["APNS_SANDBOX", "GCM"] {
            let app = client
                .create_platform_application()
                .name(format!("switchboard-{name}"))
                .platform(platform)
                .attributes("PlatformCredential", "test-credential")
                .attributes("PlatformPrincipal", "test-principal")
                .send()
                .await
                .expect("moto creates a platform application");
            arns.push(app.platform_application_arn().unwrap().to_owned());
        }
        Self {
            client,
            fcm: arns.pop().unwrap(),
            apns: arns.pop().unwrap(),
        }
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints::with_client(
            self.client.clone(),
            Some(self.apns.clone()),
            Some(self.fcm.clone()),
        )
    }

    /// An endpoint's attributes; `None` once it is deleted.
    pub async fn attributes(&self, arn: &str) -> Option<std::collections::HashMap<String, String>> {
        self.client
            .get_endpoint_attributes()
            .endpoint_arn(arn)
            .send()
            .await
            .ok()
            .and_then(|a| a.attributes)
    }

    /// The messages moto recorded as published to an endpoint (its `/moto-api/data.json` state), parsed.
    pub async fn published(&self, arn: &str) -> Vec<Value> {
        let state = crate::moto_state().await;
        state["sns"]["PlatformEndpoint"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["arn"] == arn)
            .flat_map(|e| e["messages"].as_object().cloned().unwrap_or_default())
            .map(|(_, m)| serde_json::from_str(m.as_str().unwrap()).unwrap())
            .collect()
    }

    pub async fn disable(&self, arn: &str) {
        self.client
            .set_endpoint_attributes()
            .endpoint_arn(arn)
            .attributes("Enabled", "false")
            .send()
            .await
            .expect("moto disables the endpoint");
    }
}

/// An API whose push service uses moto's SNS.
pub async fn with_sns(api: Api) -> (Api, Sns) {
    let sns = Sns::new().await;
    (api.with_push(sns.endpoints(), |_| None), sns)
}

/// A regular user: (identity id, profile id, access token).
pub async fn user(api: &Api, name: &str) -> (String, String, String) {
    let (id, profile) = api.sign_up(name, "push-user-password").await;
    let token = api.sign_in(name, "push-user-password", None).await;
    (id, profile, token)
}

pub fn device_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

tokio::task_local! {
    /// Tells one test case's push tokens from every other's: moto's SNS keeps one endpoint per token across
    /// platform applications (AWS keeps one per application), so cases running at once, or one run after
    /// another on the same moto, must not share tokens.
    static TOKENS: u32;
}

/// Runs a test case with push tokens of its own.
pub async fn with_own_tokens<F: Future>(case: F) -> F::Output {
    TOKENS
        .scope(uuid::Uuid::new_v4().as_u128() as u32, case)
        .await
}

fn token_salt() -> u32 {
    TOKENS.try_with(|salt| *salt).unwrap_or_default()
}

pub fn apns_token(n: u8) -> String {
    let mut token = format!("{:08x}{n:02x}", token_salt()).repeat(7);
    token.truncate(64);
    token
}

pub fn fcm_token(n: u32) -> String {
    format!("fcm-{:08x}-{n}:APA91b{}", token_salt(), "x".repeat(140))
}

pub fn apns(device: &str, token: &str) -> Value {
    json!({"deviceId": device, "platform": "ios", "provider": "apns", "token": token})
}

pub fn fcm(device: &str, token: &str) -> Value {
    json!({"deviceId": device, "platform": "android", "provider": "fcm", "token": token})
}

pub fn expo(device: &str, n: usize) -> Value {
    json!({"deviceId": device, "platform": "ios", "provider": "expo",
           "token": format!("ExponentPushToken[device-{n}]")})
}

async fn stored_device(api: &Api, identity: &str, device: &str) -> Device {
    let item = api
        .app
        .store
        .get(&Device::key_of(identity, device))
        .await
        .unwrap()
        .expect("the device is stored");
    Device::from_item(&item).unwrap()
}

async fn register(api: &Api, token: &str, body: Value) -> crate::api::Reply {
    api.post("/users/me/devices")
        .bearer(token)
        .json(body)
        .send()
        .await
}

/// The notification once its deliveries are recorded (the dispatcher runs in process).
pub async fn delivered(api: &Api, token: &str, id: &str, devices: usize) -> Value {
    for _ in 0..200 {
        let reply = api
            .get(&format!("/notifications/{id}"))
            .bearer(token)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        if reply.body["deliveries"].as_array().unwrap().len() >= devices {
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("notification {id} was not delivered to {devices} devices");
}

async fn send(api: &Api, admin: &str, profile: &str, body: Value) -> String {
    let reply = api
        .post(&format!("/users/{profile}/notifications"))
        .bearer(admin)
        .json(body)
        .send()
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.str("id")
}

fn message() -> Value {
    json!({"title": "Ada", "body": "Lunch at noon?", "category": "message", "data": {"conversationId": "c1"}, "badge": 2})
}

pub async fn devices_register_list_and_remove(api: &Api) {
    let (api, sns) = with_sns(api.reconfigured(|_| {})).await;
    let (robin, _, token) = user(&api, "robin").await;
    let prefs = api.get("/users/me/preferences").bearer(&token).send().await;
    assert_eq!((prefs.status, &prefs.body), (200, &Value::Null));

    let phone = device_id();
    let first = register(&api, &token, apns(&phone, &apns_token(1).to_uppercase())).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["active"], true);
    assert!(first.body.get("token").is_none(), "tokens are not shown");
    let stored = stored_device(&api, &robin, &phone).await;
    assert_eq!(stored.token.as_deref(), Some(apns_token(1).as_str()));
    let arn = stored.endpoint_arn.clone().expect("an SNS endpoint");
    assert!(arn.contains(":endpoint/APNS_SANDBOX/"), "{arn}");

    // The launch-time call again: answered, nothing written.
    let again = register(&api, &token, apns(&phone, &apns_token(1))).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        stored_device(&api, &robin, &phone).await.version,
        stored.version
    );

    // The first registration made the default preferences (antz).
    let prefs = api.get("/users/me/preferences").bearer(&token).send().await;
    assert_eq!(prefs.body["notificationsEnabled"], true);
    assert_eq!(prefs.body["notifyOnGroupInvite"], true);

    let browser = device_id();
    let web = json!({"deviceId": browser, "platform": "web", "provider": "web-push",
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "p256dh": "BJSVIENxhSrV5scMTKqQxypFN_wPTKRLJdcm_qfGOUDDRiAi4yyDx_ObtCXm3sUvwGDD-9rvCd2EAsqiSHqcUm8",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg"});
    assert_eq!(register(&api, &token, web).await.status, 201);
    let list = api.get("/users/me/devices").bearer(&token).send().await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 2, "{}", list.text);

    let removed = api
        .delete(&format!("/users/me/devices/{phone}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let list = api.get("/users/me/devices").bearer(&token).send().await;
    let states: Vec<(String, bool)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["deviceId"].as_str().unwrap().to_owned(),
                d["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![(browser.clone(), true), (phone.clone(), false)]
    );
    assert!(
        sns.attributes(&arn).await.is_none(),
        "its endpoint is deleted"
    );
    let unknown = api
        .delete(&format!("/users/me/devices/{}", device_id()))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.message(), "Device not found");
}

/// Deleting an account removes its devices (their token markers and SNS endpoints) and its preferences: in
/// AWS push-dispatch does it on the identity's removal from the table's stream, locally the same handler runs
/// in process. Another user's records stay.
pub async fn deleting_an_account_removes_its_push_records(api: &Api) {
    let (api, sns) = with_sns(api.reconfigured(|_| {})).await;
    let admin = api.admin_token().await;
    let (robin, _, robin_token) = user(&api, "robin").await;
    let (ada, _, ada_token) = user(&api, "ada").await;
    let (phone, tablet, ada_phone) = (device_id(), device_id(), device_id());
    for (token, body) in [
        (&robin_token, apns(&phone, &apns_token(1))),
        (&robin_token, expo(&tablet, 1)),
        (&ada_token, apns(&ada_phone, &apns_token(2))),
    ] {
        assert_eq!(register(&api, token, body).await.status, 201);
    }
    let robin_phone = stored_device(&api, &robin, &phone).await;
    let robin_arn = robin_phone.endpoint_arn.clone().expect("an SNS endpoint");
    let ada_arn = stored_device(&api, &ada, &ada_phone)
        .await
        .endpoint_arn
        .unwrap();

    let deleted = api
        .delete(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);

    let store = &api.app.store;
    let robin_keys = [
        Device::key_of(&robin, &phone),
        Device::key_of(&robin, &tablet),
        Preferences::key_of(&robin),
        robin_phone.token_key().unwrap(),
    ];
    let mut left = robin_keys.len();
    for _ in 0..200 {
        left = store.batch_get(&robin_keys).await.unwrap().len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        left, 0,
        "robin's devices, token marker and preferences are deleted"
    );
    // The endpoints go after the records (the dispatcher deletes them once its transaction is in).
    for _ in 0..200 {
        if sns.attributes(&robin_arn).await.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        sns.attributes(&robin_arn).await.is_none(),
        "robin's endpoint is deleted"
    );
    assert!(
        stored_device(&api, &ada, &ada_phone).await.active,
        "ada's device stays"
    );
    assert!(
        sns.attributes(&ada_arn).await.is_some(),
        "ada's endpoint stays"
    );
    assert!(
        store
            .get(&Preferences::key_of(&ada))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn sns_endpoints_are_reused_and_follow_rotation(api: &Api) {
    let (api, sns) = with_sns(api.reconfigured(|_| {})).await;
    let (robin, _, token) = user(&api, "robin").await;
    let (one, two) = (device_id(), device_id());
    register(&api, &token, fcm(&one, &fcm_token(1))).await;
    let arn = stored_device(&api, &robin, &one)
        .await
        .endpoint_arn
        .unwrap();
    assert!(arn.contains(":endpoint/GCM/"), "{arn}");

    // The same token on another device: the same endpoint, now that device's; the first is deactivated.
    let moved = register(&api, &token, fcm(&two, &fcm_token(1))).await;
    assert_eq!(moved.status, 201, "{}", moved.text);
    let first = stored_device(&api, &robin, &one).await;
    assert!(!first.active);
    assert_eq!(first.deactivated_reason.as_deref(), Some("replaced"));
    assert_eq!(first.endpoint_arn, None);
    assert_eq!(
        stored_device(&api, &robin, &two)
            .await
            .endpoint_arn
            .as_deref(),
        Some(arn.as_str())
    );
    assert!(
        sns.attributes(&arn).await.is_some(),
        "the endpoint in use stays"
    );

    // A rotated token keeps the endpoint, pointed at the new token and enabled again.
    sns.disable(&arn).await;
    let rotated = register(&api, &token, fcm(&two, &fcm_token(2))).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let device = stored_device(&api, &robin, &two).await;
    assert_eq!(device.endpoint_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(device.token.as_deref(), Some(fcm_token(2).as_str()));
    let attributes = sns.attributes(&arn).await.unwrap();
    assert_eq!(attributes["Token"], fcm_token(2));
    assert_eq!(attributes["Enabled"], "true");
    // The old token is free: another device may take it.
    assert!(
        api.app
            .store
            .get(&TokenMarker::key_of(
                crate::api::ORG,
                &switchboard::push::devices::Target::Token {
                    provider: switchboard::push::devices::Provider::Fcm,
                    token: fcm_token(1),
                }
            ))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_token_belongs_to_one_device(api: &Api) {
    let (robin, _, robin_token) = user(api, "robin").await;
    let (kim, _, kim_token) = user(api, "kim").await;
    let (phone, tablet) = (device_id(), device_id());
    // The phone changes hands: the new owner registers it with the same token.
    assert_eq!(
        register(api, &robin_token, expo(&phone, 1)).await.status,
        201
    );
    assert_eq!(
        register(api, &kim_token, expo(&tablet, 1)).await.status,
        201
    );
    let old = stored_device(api, &robin, &phone).await;
    assert_eq!(
        (old.active, old.deactivated_reason.as_deref()),
        (false, Some("replaced"))
    );
    assert!(stored_device(api, &kim, &tablet).await.active);
}

/// A token is one device's within an organization: another tenant registering the same token gets a device
/// of its own and neither deactivates nor takes over the first tenant's.
pub async fn a_token_belongs_to_one_organization(api: &Api) {
    use switchboard::identity::NewIdentity;
    let (robin, _, robin_token) = user(api, "robin").await;
    let phone = device_id();
    assert_eq!(
        register(api, &robin_token, expo(&phone, 7)).await.status,
        201
    );
    let ids = &api.app.identities;
    ids.ensure_organization(
        "acme",
        "Acme",
        "acme-push-key",
        "acme-push-secret-0123456789abcdef",
    )
    .await
    .unwrap();
    let (mallory, _) = ids
        .create_identity(NewIdentity {
            organization_id: "acme".into(),
            username: "mallory".into(),
            password: Some("mallory-password".into()),
            type_id: "001".into(),
            profile: Some(("mallory".into(), Default::default())),
            ..NewIdentity::default()
        })
        .await
        .unwrap();
    let signed_in = api
        .post("/sessions")
        .json(json!({"username": "mallory", "password": "mallory-password", "organizationId": "acme"}))
        .send()
        .await;
    assert_eq!(signed_in.status, 201, "{}", signed_in.text);
    let stolen = device_id();
    let reply = register(api, &signed_in.str("accessToken"), expo(&stolen, 7)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let robins = stored_device(api, &robin, &phone).await;
    assert!(
        robins.active,
        "the other tenant's registration left it alone"
    );
    assert_eq!(robins.organization_id, crate::api::ORG);
    assert!(stored_device(api, &mallory.id, &stolen).await.active);
}

pub async fn twenty_active_devices_at_most(api: &Api) {
    let (robin, _, token) = user(api, "robin").await;
    let ids: Vec<String> = (0..21).map(|_| device_id()).collect();
    for (n, id) in ids.iter().enumerate() {
        let reply = register(api, &token, expo(id, n)).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        // Last seen is kept to the millisecond: one registration per millisecond at most keeps the order.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let list = api.get("/users/me/devices").bearer(&token).send().await;
    let active = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["active"] == true)
        .count();
    assert_eq!(active, 20);
    let oldest = stored_device(api, &robin, &ids[0]).await;
    assert_eq!(
        (oldest.active, oldest.deactivated_reason.as_deref()),
        (false, Some("limit"))
    );
    // Seen again, it comes back, and the least recently seen of the others goes.
    assert_eq!(register(api, &token, expo(&ids[0], 0)).await.status, 200);
    assert!(stored_device(api, &robin, &ids[0]).await.active);
    assert!(!stored_device(api, &robin, &ids[1]).await.active);
}

pub async fn registrations_are_validated(api: &Api) {
    let (_, _, token) = user(api, "robin").await;
    let rows = vec![
        (
            json!({"deviceId": "not-a-uuid", "platform": "ios", "provider": "apns", "token": apns_token(1)}),
            "deviceId",
        ),
        (
            json!({"deviceId": device_id(), "platform": "android", "provider": "apns", "token": apns_token(1)}),
            "does not deliver",
        ),
        (
            json!({"deviceId": device_id(), "platform": "ios", "provider": "apns", "token": "short"}),
            "token",
        ),
        (
            json!({"deviceId": device_id(), "platform": "web", "provider": "web-push", "endpoint": "http://push.example.com/x", "p256dh": "AAAA", "auth": "AAAA"}),
            "https",
        ),
        (
            json!({"deviceId": device_id(), "platform": "ios", "provider": "expo", "token": "ExponentPushToken[x]", "extra": 1}),
            "additional",
        ),
        // No SNS platform application is configured on this server.
        (apns(&device_id(), &apns_token(1)), "not enabled"),
    ];
    for (body, problem) in rows {
        let reply = register(api, &token, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.message(), "Validation Error");
        assert!(reply.text.contains(problem), "{body}: {}", reply.text);
    }
    let list = api.get("/users/me/devices").bearer(&token).send().await;
    assert_eq!(list.body, json!([]));
    let anonymous = api.get("/users/me/devices").send().await;
    assert_eq!(anonymous.status, 401);
}

pub async fn concurrent_registrations_make_one_record(api: &Api) {
    let (api, _sns) = with_sns(api.reconfigured(|_| {})).await;
    let (robin, _, token) = user(&api, "robin").await;
    let phone = device_id();
    let replies =
        join_all((0..50).map(|_| register(&api, &token, apns(&phone, &apns_token(7))))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 201),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    let list = api.get("/users/me/devices").bearer(&token).send().await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(stored_device(&api, &robin, &phone).await.version, 1);
}

pub async fn concurrent_preference_patches_lose_nothing(api: &Api) {
    let (robin, _, token) = user(api, "robin").await;
    let fields = [
        "notificationsEnabled",
        "soundEnabled",
        "messagePreview",
        "notifyOnMention",
        "notifyOnReaction",
        "notifyOnGroupInvite",
    ];
    let replies = join_all((0..64).map(|i| {
        let body = if i == 63 {
            json!({"quietHours": {"enabled": true, "start": "22:00", "end": "07:00", "timezone": "asia/kolkata"}})
        } else {
            json!({ fields[i % fields.len()]: false })
        };
        api.patch("/users/me/preferences").bearer(&token).json(body).send()
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let item = api
        .app
        .store
        .get(&Preferences::key_of(&robin))
        .await
        .unwrap()
        .unwrap();
    let stored = Preferences::from_item(&item).unwrap().preferences;
    let got = api.get("/users/me/preferences").bearer(&token).send().await;
    for field in fields {
        assert_eq!(got.body[field], false, "{field} was lost: {}", got.text);
    }
    assert_eq!(
        got.body["quietHours"],
        json!({"enabled": true, "start": "22:00", "end": "07:00", "timezone": "Asia/Kolkata"})
    );
    assert!(!stored.notifications_enabled);
}

pub async fn preferences_are_validated(api: &Api) {
    let (_, _, token) = user(api, "robin").await;
    let rows = [
        json!({"vibrate": true}),
        json!({"soundEnabled": "yes"}),
        json!({"quietHours": {"enabled": true, "start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}}),
        json!({"quietHours": {"enabled": true, "start": "25:00", "end": "07:00", "timezone": "UTC"}}),
    ];
    for body in rows {
        let reply = api
            .patch("/users/me/preferences")
            .bearer(&token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.message(), "Validation Error");
    }
    let prefs = api.get("/users/me/preferences").bearer(&token).send().await;
    assert_eq!(prefs.body, Value::Null, "nothing was stored");
    let ok = api
        .patch("/users/me/preferences")
        .bearer(&token)
        .json(json!({"soundEnabled": false}))
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["soundEnabled"], false);
    assert_eq!(ok.body["messagePreview"], true);
}

pub async fn notifications_are_delivered_through_sns(api: &Api) {
    let (api, sns) = with_sns(api.reconfigured(|_| {})).await;
    let admin = api.admin_token().await;
    let (robin, profile, token) = user(&api, "robin").await;
    let (phone, tablet) = (device_id(), device_id());
    register(&api, &token, apns(&phone, &apns_token(3))).await;
    register(&api, &token, fcm(&tablet, &fcm_token(3))).await;

    let id = send(&api, &admin, &profile, message()).await;
    let note = delivered(&api, &token, &id, 2).await;
    assert_eq!(note["title"], "Ada");
    assert_eq!(note["userId"], robin);
    for delivery in note["deliveries"].as_array().unwrap() {
        assert_eq!(delivery["status"], "sent", "{note}");
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    }

    // A disabled endpoint: delivery deactivates the device.
    let arn = stored_device(&api, &robin, &phone)
        .await
        .endpoint_arn
        .unwrap();
    sns.disable(&arn).await;
    let id = send(&api, &admin, &profile, message()).await;
    let note = delivered(&api, &token, &id, 2).await;
    let by_device = |d: &str| {
        note["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["deviceId"] == d)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_device(&phone)["status"], "deactivated", "{note}");
    assert_eq!(by_device(&tablet)["status"], "sent", "{note}");
    let gone = stored_device(&api, &robin, &phone).await;
    assert_eq!(
        (gone.active, gone.deactivated_reason.as_deref()),
        (false, Some("gone"))
    );
}

pub async fn suppressed_notifications_are_recorded_not_sent(api: &Api) {
    let admin = api.admin_token().await;
    let (_, profile, token) = user(api, "robin").await;
    let phone = device_id();
    register(api, &token, expo(&phone, 1)).await;
    api.patch("/users/me/preferences")
        .bearer(&token)
        .json(json!({"notifyOnMention": false}))
        .send()
        .await;
    let mention = json!({"title": "Kim", "body": "@robin look", "category": "mention"});
    let id = send(api, &admin, &profile, mention).await;
    let note = delivered(api, &token, &id, 1).await;
    let delivery = &note["deliveries"][0];
    assert_eq!(delivery["status"], "suppressed", "{note}");
    assert_eq!(delivery["rule"], "notifyOnMention");
    assert_eq!(delivery["attempts"], json!([]), "no provider was called");
    // The fan-out's end is told once, with the outcomes, even when the record is dispatched again.
    api.functions.push.push.dispatch(&id).await.unwrap();
    let told: Vec<_> = crate::outbox::pending(api)
        .await
        .into_iter()
        .filter(|e| e.event == "notification.sent")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    crate::outbox::assert_no_secret(&told);
    assert_eq!(told[0].payload["notificationId"], id);
    assert_eq!(told[0].payload["category"], "mention");
    assert_eq!(
        told[0].payload["deliveries"],
        json!({"sent": 0, "suppressed": 1, "failed": 0, "deactivated": 0})
    );
}

pub async fn sending_is_validated_and_authorized(api: &Api) {
    let admin = api.admin_token().await;
    let (_, profile, token) = user(api, "robin").await;
    let (_, _, kim) = user(api, "kim").await;
    for body in [
        json!({"title": "t", "body": "b", "category": "promo"}),
        json!({"title": "", "body": "b", "category": "message"}),
        json!({"title": "t", "body": "b", "category": "message", "badge": -1}),
        json!({"title": "t", "category": "message"}),
    ] {
        let reply = api
            .post(&format!("/users/{profile}/notifications"))
            .bearer(&admin)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    let not_admin = api
        .post(&format!("/users/{profile}/notifications"))
        .bearer(&token)
        .json(message())
        .send()
        .await;
    assert_eq!(not_admin.status, 403);
    let nobody = api
        .post("/users/no-such-profile/notifications")
        .bearer(&admin)
        .json(message())
        .send()
        .await;
    assert_eq!(nobody.status, 404);

    // Only the recipient and admins see a notification; anyone else gets the 404 of a missing one.
    let id = send(api, &admin, &profile, message()).await;
    assert_eq!(
        api.get(&format!("/notifications/{id}"))
            .bearer(&token)
            .send()
            .await
            .status,
        200
    );
    assert_eq!(
        api.get(&format!("/notifications/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        200
    );
    let other = api
        .get(&format!("/notifications/{id}"))
        .bearer(&kim)
        .send()
        .await;
    let missing = api.get("/notifications/nope").bearer(&kim).send().await;
    assert_eq!((other.status, &other.body), (404, &missing.body));

    // Another user's device is not found either, and stays active.
    let phone = device_id();
    register(api, &token, expo(&phone, 1)).await;
    let theirs = api
        .delete(&format!("/users/me/devices/{phone}"))
        .bearer(&kim)
        .send()
        .await;
    assert_eq!(theirs.status, 404);
    let list = api.get("/users/me/devices").bearer(&token).send().await;
    assert_eq!(list.body[0]["active"], true);
}

pub async fn the_server_sdk_sends_notifications(api: &Api) {
    // The SDK's user is made by the server API, then notified.
    let sdk = sdk_token("user123", false, ORG_API_SECRET, 300);
    let made = api
        .post("/api/v1/server/users/user123")
        .bearer(&sdk)
        .json(json!({"user_info": {"userId": "user123", "fullName": "Ada"}}))
        .send()
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let user_token = made.body["data"]["token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api
        .post("/api/v1/server/users/user123/notifications")
        .bearer(&sdk)
        .json(message())
        .send()
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body["status"], "success");
    let id = reply.body["data"]["id"].as_str().unwrap();
    let note = delivered(api, &user_token, id, 0).await;
    assert_eq!(note["body"], "Lunch at noon?");

    let bad = api
        .post("/api/v1/server/users/user123/notifications")
        .bearer(&sdk)
        .json(json!({"title": "t"}))
        .send()
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["detail"].is_string(), "{}", bad.text);
    let wrong_user = api
        .post("/api/v1/server/users/someone-else/notifications")
        .bearer(&sdk)
        .json(message())
        .send()
        .await;
    assert_eq!(wrong_user.status, 403);
    let unknown = api
        .post("/api/v1/server/users/nobody/notifications")
        .bearer(&sdk_token("nobody", false, ORG_API_SECRET, 300))
        .json(message())
        .send()
        .await;
    assert_eq!(unknown.status, 404);
}

/// A request a loopback push service received, and when.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Vec<u8>,
    pub at: std::time::Instant,
}

/// A Web Push service and Expo's push API on loopback: every request is kept; a Web Push path with
/// `gone` answers 410, one with `busy` 503, an Expo token with `gone` gets a `DeviceNotRegistered` ticket.
pub struct Receiver {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        use axum::response::IntoResponse;
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = received.clone();
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let kept = kept.clone();
            async move {
                let at = std::time::Instant::now();
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
                let path = parts.uri.path().to_owned();
                let answer = if path == "/--/api/v2/push/send" {
                    let messages: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let gone = messages[0]["to"]
                        .as_str()
                        .is_some_and(|t| t.contains("gone"));
                    let ticket = if gone {
                        json!({"status": "error", "message": "not registered",
                               "details": {"error": "DeviceNotRegistered"}})
                    } else {
                        json!({"status": "ok", "id": "ticket-1"})
                    };
                    (
                        axum::http::StatusCode::OK,
                        json!({ "data": [ticket] }).to_string(),
                    )
                        .into_response()
                } else if path.contains("gone") {
                    axum::http::StatusCode::GONE.into_response()
                } else if path.contains("busy") {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    axum::http::StatusCode::CREATED.into_response()
                };
                kept.lock().unwrap().push(Received {
                    path,
                    headers: parts.headers,
                    body,
                    at,
                });
                answer
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, received }
    }

    pub fn request(&self, path: &str) -> Received {
        self.received
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.path == path)
            .cloned()
            .unwrap_or_else(|| panic!("no request to {path}"))
    }
}

/// A browser's push subscription keys: (private key, p256dh, auth), the last two base64url.
fn browser_keys() -> (web_push_native::p256::SecretKey, String, String) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let random = [
        uuid::Uuid::new_v4().into_bytes(),
        uuid::Uuid::new_v4().into_bytes(),
    ]
    .concat();
    let secret = web_push_native::p256::SecretKey::from_slice(&random).unwrap();
    let public = secret.public_key().to_sec1_bytes();
    let auth = uuid::Uuid::new_v4().into_bytes();
    (
        secret,
        URL_SAFE_NO_PAD.encode(public),
        URL_SAFE_NO_PAD.encode(auth),
    )
}

/// The VAPID `Authorization: vapid t=<jwt>, k=<key>` of a push request, verified with its own key, which
/// must be the server's published key, for the push service at `origin` (RFC 8292's audience: scheme, host
/// and port); answers the JWT's claims.
fn verified_vapid(received: &Received, public_key: &str, origin: &str) -> Value {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = received.headers["authorization"].to_str().unwrap();
    let rest = header
        .strip_prefix("vapid ")
        .expect("a VAPID authorization");
    let (mut jwt, mut key) = ("", "");
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => jwt = v,
            Some(("k", v)) => key = v,
            _ => {}
        }
    }
    assert_eq!(key, public_key, "signed with the published key");
    let point = URL_SAFE_NO_PAD.decode(key).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&point[1..33]),
        &URL_SAFE_NO_PAD.encode(&point[33..65]),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[origin]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(jwt, &decoding, &validation)
        .expect("a valid VAPID JWT")
        .claims
}

pub async fn web_push_and_expo_reach_loopback_receivers(api: &Api) {
    let receiver = Receiver::start().await;
    let expo_url = receiver.url.clone();
    let env = move |name: &str| match name {
        "SWITCHBOARD_ALLOW_PRIVATE_TARGETS" => Some("1".to_owned()),
        "SWITCHBOARD_EXPO_URL" => Some(expo_url.clone()),
        "SWITCHBOARD_EXPO_ACCESS_TOKEN" => Some("expo-access-token".to_owned()),
        _ => None,
    };
    let env: &'static _ = Box::leak(Box::new(env));
    let api = api
        .reconfigured(|_| {})
        .with_push(Endpoints::from_env(|_| None), |n| env(n));
    let admin = api.admin_token().await;
    let (robin, profile, token) = user(&api, "robin").await;
    let key = api.get("/push/web-push-key").send().await;
    assert_eq!(key.status, 200, "{}", key.text);
    let public_key = key.str("publicKey");

    let (browser_secret, p256dh, auth) = browser_keys();
    let (browser, stale, phone, old_phone) = (device_id(), device_id(), device_id(), device_id());
    let busy = device_id();
    let web = |device: &str, path: &str| {
        json!({"deviceId": device, "platform": "web", "provider": "web-push",
               "endpoint": format!("{}{path}", receiver.url), "p256dh": p256dh, "auth": auth})
    };
    for body in [
        web(&browser, "/push/subscription-1"),
        web(&stale, "/gone/subscription-2"),
        web(&busy, "/busy/subscription-3"),
        json!({"deviceId": phone, "platform": "android", "provider": "expo", "token": "ExponentPushToken[ok-1]"}),
        json!({"deviceId": old_phone, "platform": "ios", "provider": "expo", "token": "ExponentPushToken[gone-2]"}),
    ] {
        let reply = register(&api, &token, body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }

    let started = std::time::Instant::now();
    let id = send(&api, &admin, &profile, message()).await;
    let note = delivered(&api, &token, &id, 5).await;
    let delivery = |device: &str| {
        note["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["deviceId"] == device)
            .cloned()
            .unwrap()
    };
    let status = |device: &str| delivery(device)["status"].as_str().unwrap().to_owned();
    // A service that keeps failing: retried with backoff, each attempt recorded, then failed (kept active).
    assert_eq!(status(&busy), "failed", "{note}");
    assert_eq!(delivery(&busy)["reason"], "Web Push 503");
    assert_eq!(delivery(&busy)["attempts"].as_array().unwrap().len(), 3);
    assert!(stored_device(&api, &robin, &busy).await.active);
    assert_eq!(status(&browser), "sent", "{note}");
    assert_eq!(status(&stale), "deactivated", "{note}");
    assert_eq!(status(&phone), "sent", "{note}");
    assert_eq!(status(&old_phone), "deactivated", "{note}");
    for gone in [&stale, &old_phone] {
        assert!(!stored_device(&api, &robin, gone).await.active);
    }

    // Web Push: VAPID signed with the published key, aes128gcm that the subscription's keys decrypt.
    let push = receiver.request("/push/subscription-1");
    let first_call = push.at.duration_since(started);
    println!("dispatch latency, request to first provider call: {first_call:?}");
    assert_eq!(push.headers["content-encoding"], "aes128gcm");
    assert!(push.headers.contains_key("ttl"));
    let claims = verified_vapid(&push, &public_key, &receiver.url);
    let valid_for = claims["exp"].as_u64().unwrap() - jsonwebtoken::get_current_timestamp();
    assert!(
        valid_for <= 24 * 3600,
        "RFC 8292: at most 24 hours, got {valid_for} s"
    );
    assert_eq!(claims["sub"], "mailto:push@switchboard.local");
    let auth_bytes = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&auth)
            .unwrap()
    };
    let plain = web_push_native::decrypt(
        push.body.clone(),
        &browser_secret,
        &web_push_native::Auth::clone_from_slice(&auth_bytes),
    )
    .expect("the subscription's keys decrypt the payload");
    let shown: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(
        shown,
        json!({"title": "Ada", "body": "Lunch at noon?", "sound": "default", "badge": 2,
               "data": {"conversationId": "c1"}})
    );

    // Expo: its push API's request format, with the access token.
    let expo = receiver.request("/--/api/v2/push/send");
    assert_eq!(expo.headers["content-type"], "application/json");
    assert_eq!(expo.headers["authorization"], "Bearer expo-access-token");
    let messages: Vec<Value> = receiver
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/--/api/v2/push/send")
        .flat_map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap())
        .collect();
    let to_phone = messages
        .iter()
        .find(|m| m["to"] == "ExponentPushToken[ok-1]")
        .cloned();
    assert_eq!(
        to_phone.unwrap(),
        json!({"to": "ExponentPushToken[ok-1]", "title": "Ada", "body": "Lunch at noon?",
               "sound": "default", "badge": 2, "data": {"conversationId": "c1"}})
    );
}
