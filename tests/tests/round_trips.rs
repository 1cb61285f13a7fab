//! DynamoDB calls per request, counted at the SDK on DynamoDB Local (token check included). The CRM goal is
//! at most two per request; the identity check of user-facing routes is one. And the IAM actions those calls
//! need, per function, against its policy in `template.yaml`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use std::sync::Arc;
use switchboard::avatar::Outcome;
use switchboard::push::Push;
use switchboard::push::records::{Delivery, Device};
use switchboard::store::Record;
use switchboard_tests::CallCounter;
use switchboard_tests::api::ORG;
use switchboard_tests::api::{Api, ORG_API_KEY, ORG_API_SECRET};
use switchboard_tests::avatar;
use switchboard_tests::iam::{ActionRecorder, Grant, ROUTE};
use switchboard_tests::identity::sdk_token;
use switchboard_tests::push::{Sns, device_id, expo, fcm, fcm_token};

#[tokio::test]
async fn dynamodb_calls_per_request() {
    let counter = CallCounter::default();
    let api = Api::counted(counter.clone()).await;
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let token = api.sign_in("agent", "crm-user-password", None).await;
    let contact = api
        .post(&format!("/contact?jwtToken={jwt}"))
        .json(json!({"phoneNumber": "+16505559876", "newContactName": "Ada"}))
        .send()
        .await;
    assert_eq!(contact.body["successful"], true);
    let call = |session: &str| {
        json!({"logInfo": {"sessionId": session, "direction": "Inbound", "from": {"phoneNumber": "+16505559876"},
               "to": {"phoneNumber": "+16505550100"}}, "contactId": "c1", "contactName": "Ada"})
    };
    let q = format!("jwtToken={jwt}");
    let messages = |ids: &[&str]| {
        let list: Vec<_> = ids.iter().map(|id| json!({"id": id, "type": "SMS", "direction": "Inbound",
            "subject": "hi", "from": {"phoneNumber": "+16505559876"}, "to": [{"phoneNumber": "+16505550100"}],
            "creationTime": "2026-11-21T05:00:00.000Z"})).collect();
        json!({"logInfo": {"conversationId": "c-1", "conversationLogId": "c-1-2026-11-21", "messages": list,
               "correspondents": [{"phoneNumber": "+16505559876"}]}, "contactId": "c1", "contactName": "Ada"})
    };
    let profile = api.get("/users/me").bearer(&token).send().await.str("id");
    // (route, request, at most this many calls, at most this many on the critical path). A write reads
    // the user's last-seen mark beside its transaction only in the first request its function (a state
    // of its own, as in Lambda) serves for the user within the minute.
    let cases = vec![
        ("GET /contact", api.get(&format!("/contact?{q}&phoneNumber=%2B16505559876&overridingFormat=(***)%20***-****,***-***-****")), 2, 1),
        ("POST /contact", api.post(&format!("/contact?{q}")).json(json!({"phoneNumber": "+16505559877", "newContactName": "Bo"})), 1, 1),
        ("POST /callLog", api.post(&format!("/callLog?{q}")).json(call("s-1")), 2, 1),
        ("POST /callLog (duplicate)", api.post(&format!("/callLog?{q}")).json(call("s-1")), 1, 1),
        ("GET /callLog", api.get(&format!("/callLog?{q}&sessionIds=s-1,s-2,s-3")), 2, 1),
        ("PATCH /callLog", api.patch(&format!("/callLog?{q}")).json(json!({"sessionId": "s-1", "note": "n"})), 3, 3),
        ("POST /callLog/cacheNote", api.post(&format!("/callLog/cacheNote?{q}")).json(json!({"sessionId": "s-4", "note": "n"})), 2, 2),
        // Refused by the "no note cached" guard, then the note is read and the log written with it.
        ("POST /callLog (cached note)", api.post(&format!("/callLog?{q}")).json(call("s-4")), 4, 3),
        ("PUT /callDisposition", api.call("PUT", &format!("/callDisposition?{q}")).json(json!({"sessionId": "s-4", "dispositions": {"a": 1}})), 3, 3),
        ("POST /messageLog", api.post(&format!("/messageLog?{q}")).json(messages(&["m1", "m2", "m3"])), 2, 1),
        // Those logged already are found and left out: one more write.
        ("POST /messageLog (one new)", api.post(&format!("/messageLog?{q}")).json(messages(&["m1", "m2", "m3", "m4"])), 3, 3),
        ("POST /user/settings", api.post(&format!("/user/settings?{q}")).json(json!({"userSettings": {"autoLogCall": {"value": true}}})), 2, 2),
        ("GET /user/settings", api.get(&format!("/user/settings?{q}")), 1, 1),
        ("GET /users/{profileId}", api.get(&format!("/users/{profile}")).bearer(&token), 1, 1),
        ("GET /users/me", api.get("/users/me").bearer(&token), 2, 2),
        ("GET /users/me/api-keys", api.get("/users/me/api-keys").bearer(&token), 2, 2),
        ("GET /sessions", api.get("/sessions").bearer(&token), 2, 2),
    ];
    counter.take();
    let mut report = Vec::new();
    for (route, request, count, depth) in cases {
        let reply = request.send().await;
        assert!(reply.status < 400, "{route}: {}", reply.text);
        let calls = counter.take();
        report.push(format!(
            "{route}: {} calls, {} deep",
            calls.count, calls.depth
        ));
        assert!(
            calls.count <= count && calls.depth <= depth,
            "{route} made {} DynamoDB calls, {} on the critical path (limits {count} and {depth})",
            calls.count,
            calls.depth
        );
    }
    // The per-request figures, for bench/README.md.
    println!("{}", report.join("\n"));
}

/// Every route once, on DynamoDB Local, recording the IAM actions its DynamoDB calls need; each function's
/// policy in `template.yaml` must grant exactly the union over its routes (nothing unused, nothing missing).
#[tokio::test]
async fn each_function_is_granted_exactly_the_dynamodb_actions_it_calls() {
    let recorder = ActionRecorder::default();
    let api = Api::over(switchboard_tests::observed_dynamo_store(recorder.clone()).await)
        .await
        .with_bucket()
        .await;
    let admin = api.admin_token().await;
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    let q = format!("jwtToken={jwt}");
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let user = api.sign_in("robin", "robin-password", None).await;
    let pat = api
        .post("/accounts")
        .json(json!({"username": "pat", "password": "pat-password"}))
        .send()
        .await
        .str("id");
    let pat_token = api.sign_in("pat", "pat-password", None).await;
    let sdk = sdk_token("user123", false, ORG_API_SECRET, 300);
    let call = json!({"logInfo": {"sessionId": "s-1", "direction": "Inbound", "from": {"phoneNumber": "+16505559876"},
        "to": {"phoneNumber": "+16505550100"}}, "contactId": "c1", "contactName": "Ada"});
    let messages = json!({"logInfo": {"conversationId": "c-1", "conversationLogId": "c-1-2026-11-21",
        "messages": [{"id": "m1", "type": "SMS", "direction": "Inbound", "subject": "hi",
            "from": {"phoneNumber": "+16505559876"}, "to": [{"phoneNumber": "+16505550100"}],
            "creationTime": "2026-11-21T05:00:00.000Z"}],
        "correspondents": [{"phoneNumber": "+16505559876"}]}, "contactId": "x", "contactName": "Ada"});

    let mut walked = BTreeSet::new();
    let mut step = async |route: &str, request: switchboard_tests::api::Call<'_>| {
        let reply = request.send().await;
        assert!(
            reply.status < 400,
            "{route}: {} {}",
            reply.status,
            reply.text
        );
        walked.insert(route.to_owned());
        reply
    };
    step("GET /is-alive", api.get("/is-alive")).await;
    step("GET /isAlive", api.get("/isAlive")).await;
    step(
        "GET /crmManifest",
        api.get("/crmManifest?platformName=switchboard")
            .header("host", "127.0.0.1:3000"),
    )
    .await;
    // CRM extension.
    step(
        "POST /user/settings",
        api.post(&format!("/user/settings?{q}"))
            .json(json!({"userSettings": {"autoLogCall": {"value": true}}})),
    )
    .await;
    step(
        "GET /user/settings",
        api.get(&format!("/user/settings?{q}")),
    )
    .await;
    step(
        "POST /callLog/cacheNote",
        api.post(&format!("/callLog/cacheNote?{q}"))
            .json(json!({"sessionId": "s-1", "note": "cached"})),
    )
    .await;
    step(
        "POST /contact",
        api.post(&format!("/contact?{q}"))
            .json(json!({"phoneNumber": "+16505559876", "newContactName": "Ada"})),
    )
    .await;
    step(
        "GET /contact",
        api.get(&format!("/contact?{q}&phoneNumber=%2B16505559876")),
    )
    .await;
    step(
        "POST /callLog",
        api.post(&format!("/callLog?{q}")).json(call),
    )
    .await;
    step(
        "GET /callLog",
        api.get(&format!("/callLog?{q}&sessionIds=s-1")),
    )
    .await;
    step(
        "PATCH /callLog",
        api.patch(&format!("/callLog?{q}"))
            .json(json!({"sessionId": "s-1", "note": "n"})),
    )
    .await;
    step(
        "PUT /callDisposition",
        api.call("PUT", &format!("/callDisposition?{q}"))
            .json(json!({"sessionId": "s-1", "dispositions": {"outcome": "done"}})),
    )
    .await;
    step(
        "POST /messageLog",
        api.post(&format!("/messageLog?{q}")).json(messages.clone()),
    )
    .await;
    // Again: the messages logged already are looked up and left out.
    step(
        "POST /messageLog",
        api.post(&format!("/messageLog?{q}")).json(messages),
    )
    .await;
    // User service and personal API keys.
    step("GET /users", api.get("/users").bearer(&admin)).await;
    step(
        "GET /users/{profileId}",
        api.get(&format!("/users/{profile}")).bearer(&user),
    )
    .await;
    step("GET /users/me", api.get("/users/me").bearer(&user)).await;
    step(
        "PATCH /users/{profileId}",
        api.patch(&format!("/users/{profile}"))
            .bearer(&user)
            .json(json!({"name": "Robin"})),
    )
    .await;
    let made = step(
        "POST /users",
        api.post("/users")
            .bearer(&pat_token)
            .json(json!({"identityId": pat, "name": "Pat"})),
    )
    .await;
    step(
        "DELETE /users/{profileId}",
        api.delete(&format!("/users/{}", made.str("id")))
            .bearer(&pat_token),
    )
    .await;
    step(
        "POST /identities/{identityId}/lock",
        api.post(&format!("/identities/{pat}/lock")).bearer(&admin),
    )
    .await;
    step(
        "POST /identities/{identityId}/unlock",
        api.post(&format!("/identities/{pat}/unlock"))
            .bearer(&admin),
    )
    .await;
    let key = step(
        "POST /users/me/api-keys",
        api.post("/users/me/api-keys").bearer(&user).json(json!({})),
    )
    .await;
    step(
        "GET /users/me/api-keys",
        api.get("/users/me/api-keys").bearer(&user),
    )
    .await;
    step(
        "DELETE /users/me/api-keys/{keyId}",
        api.delete(&format!("/users/me/api-keys/{}", key.str("id")))
            .bearer(&user),
    )
    .await;
    // The avatar upload URL, and the S3 event of an upload made with it.
    let red = avatar::fixture("red.png");
    let issued = step(
        "GET /user-profiles/{profileId}/avatar-upload-url",
        api.get(&format!(
            "/user-profiles/{profile}/avatar-upload-url?contentType=image/png&contentLength={}",
            red.len()
        ))
        .bearer(&user),
    )
    .await;
    assert_eq!(
        avatar::upload(&issued.str("url"), "image/png", &red).await,
        200
    );
    let key = avatar::quarantine(&profile, &issued.str("objectId"));
    let outcome = ROUTE
        .scope(TRIGGER.into(), api.app.avatars.process(&key))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Attached(_)), "{outcome:?}");
    // The seed's PATCH naming an upload the event has not settled yet, then removing the avatar.
    let issued = api
        .get(&format!(
            "/user-profiles/{profile}/avatar-upload-url?contentType=image/png&contentLength={}",
            red.len()
        ))
        .bearer(&user)
        .send()
        .await;
    assert_eq!(
        avatar::upload(&issued.str("url"), "image/png", &red).await,
        200
    );
    for avatar in [json!({"objectId": issued.str("objectId")}), json!(null)] {
        step(
            "PATCH /users/{profileId}",
            api.patch(&format!("/users/{profile}"))
                .bearer(&user)
                .json(json!({ "avatar": avatar })),
        )
        .await;
    }
    step(
        "POST /users/me/avatar/sync",
        api.post("/users/me/avatar/sync").bearer(&user).json(json!({
            "base64": format!("data:image/png;base64,{}", avatar::base64(&avatar::fixture("blue.png")))
        })),
    )
    .await;
    step(
        "PUT /users/me/avatar",
        api.put("/users/me/avatar").bearer(&user).bytes(
            &avatar::multipart(),
            avatar::form(&[avatar::png(&red)], true),
        ),
    )
    .await;
    // Accounts and sessions.
    step("GET /accounts", api.get("/accounts").bearer(&admin)).await;
    step(
        "GET /accounts/{accountId}",
        api.get(&format!("/accounts/{robin}")).bearer(&user),
    )
    .await;
    step(
        "PATCH /accounts/{accountId}",
        api.patch(&format!("/accounts/{robin}"))
            .bearer(&user)
            .json(json!({"email": "robin@example.com", "currentPassword": "robin-password"})),
    )
    .await;
    let token = step(
        "POST /accounts/{accountId}/tokens",
        api.post(&format!("/accounts/{robin}/tokens"))
            .bearer(&admin)
            .json(json!({"type": "invite"})),
    )
    .await;
    step(
        "GET /accounts/{accountId}/tokens",
        api.get(&format!("/accounts/{robin}/tokens")).bearer(&admin),
    )
    .await;
    let token_id = token.str("id");
    step(
        "GET /accounts/{accountId}/tokens/{tokenId}",
        api.get(&format!("/accounts/{robin}/tokens/{token_id}"))
            .bearer(&admin),
    )
    .await;
    step(
        "DELETE /accounts/{accountId}/tokens/{tokenId}",
        api.delete(&format!("/accounts/{robin}/tokens/{token_id}"))
            .bearer(&admin),
    )
    .await;
    step(
        "PUT /accounts/{accountId}/roles/{role}",
        api.call("PUT", &format!("/accounts/{robin}/roles/editor"))
            .bearer(&admin),
    )
    .await;
    step(
        "GET /accounts/{accountId}/roles",
        api.get(&format!("/accounts/{robin}/roles")).bearer(&admin),
    )
    .await;
    step(
        "DELETE /accounts/{accountId}/roles/{role}",
        api.delete(&format!("/accounts/{robin}/roles/editor"))
            .bearer(&admin),
    )
    .await;
    step(
        "PATCH /accounts/{accountId}/profile",
        api.patch(&format!("/accounts/{robin}/profile"))
            .bearer(&user)
            .json(json!({"city": "Berlin"})),
    )
    .await;
    step(
        "GET /accounts/{accountId}/profile",
        api.get(&format!("/accounts/{robin}/profile")).bearer(&user),
    )
    .await;
    let signed = step(
        "POST /sessions",
        api.post("/sessions")
            .json(json!({"username": "robin", "password": "robin-password"})),
    )
    .await;
    step(
        "POST /sessions/refresh",
        api.post("/sessions/refresh")
            .json(json!({"refreshToken": signed.str("refreshToken")})),
    )
    .await;
    step("GET /sessions", api.get("/sessions").bearer(&user)).await;
    let session = signed.str("id");
    step(
        "GET /sessions/{sessionId}",
        api.get(&format!("/sessions/{session}")).bearer(&user),
    )
    .await;
    step(
        "DELETE /sessions/{sessionId}",
        api.delete(&format!("/sessions/{session}")).bearer(&user),
    )
    .await;
    step("DELETE /sessions", api.delete("/sessions").bearer(&user)).await;
    let sam = step(
        "POST /accounts",
        api.post("/accounts").json(
            json!({"username": "sam", "password": "sam-password", "email": "sam@example.com"}),
        ),
    )
    .await
    .str("id");
    // Identity providers (their tokens' check is the external-token suite's).
    let idp = step(
        "POST /identity-providers",
        api.post("/identity-providers")
            .bearer(&admin)
            .json(json!({"issuer": "https://idp.example/tenant", "audiences": ["switchboard"]})),
    )
    .await
    .str("id");
    step(
        "GET /identity-providers",
        api.get("/identity-providers").bearer(&admin),
    )
    .await;
    step(
        "GET /identity-providers/{providerId}",
        api.get(&format!("/identity-providers/{idp}"))
            .bearer(&admin),
    )
    .await;
    step(
        "PATCH /identity-providers/{providerId}",
        api.patch(&format!("/identity-providers/{idp}"))
            .bearer(&admin)
            .json(json!({"issuer": "https://idp.example/other"})),
    )
    .await;
    step(
        "DELETE /identity-providers/{providerId}",
        api.delete(&format!("/identity-providers/{idp}"))
            .bearer(&admin),
    )
    .await;
    // The member directory.
    step(
        "GET /members",
        api.get("/members?query=robin").bearer(&admin),
    )
    .await;
    step(
        "GET /members/{memberId}",
        api.get(&format!("/members/{profile}")).bearer(&admin),
    )
    .await;
    step(
        "GET /members/{memberId}/last-seen",
        api.get(&format!("/members/{profile}/last-seen"))
            .bearer(&admin),
    )
    .await;
    // An admin's views of sessions: the organization's page, an impersonation, ending an account's.
    step(
        "GET /sessions",
        api.get("/sessions?all=true&limit=2").bearer(&admin),
    )
    .await;
    step(
        "POST /sessions",
        api.post("/sessions")
            .bearer(&admin)
            .json(json!({"username": "sam"})),
    )
    .await;
    step(
        "DELETE /accounts/{accountId}/sessions",
        api.delete(&format!("/accounts/{sam}/sessions"))
            .bearer(&admin),
    )
    .await;
    // hoodie's requests.
    step(
        "POST /requests",
        api.post("/requests")
            .json(json!({"type": "passwordreset", "email": "nobody@example.com"})),
    )
    .await;
    let requests = step("GET /requests", api.get("/requests").bearer(&admin)).await;
    let request = requests.body[0]["id"].as_str().unwrap().to_owned();
    step(
        "GET /requests/{requestId}",
        api.get(&format!("/requests/{request}")).bearer(&admin),
    )
    .await;
    step(
        "DELETE /requests/{requestId}",
        api.delete(&format!("/requests/{request}")).bearer(&admin),
    )
    .await;
    // Server API.
    let body =
        json!({"expiry_seconds": 3600, "user_info": {"userId": "user123", "fullName": "John Doe"}});
    step(
        "POST /api/v1/server/users/{uid}",
        api.post("/api/v1/server/users/user123")
            .bearer(&sdk)
            .json(body),
    )
    .await;
    // Push notifications: an FCM device (SNS from moto) whose endpoint is disabled, and an Expo device.
    let sns = Sns::new().await;
    let push_api = api
        .reconfigured(|_| {})
        .with_push(sns.endpoints(), |_| None);
    let (listener, _, listener_token) = switchboard_tests::push::user(&push_api, "listener").await;
    let listener_profile = push_api
        .app
        .identities
        .identity(&listener)
        .await
        .unwrap()
        .unwrap()
        .profile_id
        .unwrap();
    let (phone, tablet) = (device_id(), device_id());
    step(
        "GET /users/me/preferences",
        push_api
            .get("/users/me/preferences")
            .bearer(&listener_token),
    )
    .await;
    step(
        "POST /users/me/devices",
        push_api
            .post("/users/me/devices")
            .bearer(&listener_token)
            .json(fcm(&phone, &fcm_token(1))),
    )
    .await;
    push_api
        .post("/users/me/devices")
        .bearer(&listener_token)
        .json(expo(&tablet, 1))
        .send()
        .await;
    step(
        "PATCH /users/me/preferences",
        push_api
            .patch("/users/me/preferences")
            .bearer(&listener_token)
            .json(json!({"soundEnabled": false})),
    )
    .await;
    step(
        "GET /users/me/devices",
        push_api.get("/users/me/devices").bearer(&listener_token),
    )
    .await;
    let note = json!({"title": "Ada", "body": "Lunch?", "category": "message"});
    let sent = step(
        "POST /users/{profileId}/notifications",
        push_api
            .post(&format!("/users/{listener_profile}/notifications"))
            .bearer(&admin)
            .json(note.clone()),
    )
    .await;
    step(
        "GET /notifications/{id}",
        push_api
            .get(&format!("/notifications/{}", sent.str("id")))
            .bearer(&listener_token),
    )
    .await;
    step(
        "POST /api/v1/server/users/{uid}/notifications",
        push_api
            .post("/api/v1/server/users/user123/notifications")
            .bearer(&sdk)
            .json(note.clone()),
    )
    .await;
    // The dispatcher, as its trigger runs it: a notification recorded without the in-process hook. The
    // notification sent above is dispatched in process meanwhile and may still be writing the device: its
    // delivery records come last, so once both are there the device read here is the one the trigger
    // deactivates.
    let deliveries = [
        Delivery::key_of(&sent.str("id"), &phone),
        Delivery::key_of(&sent.str("id"), &tablet),
    ];
    for _ in 0..600 {
        if api.app.store.batch_get(&deliveries).await.unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        api.app.store.batch_get(&deliveries).await.unwrap().len(),
        2,
        "the notification sent above is dispatched in process"
    );
    let item = api
        .app
        .store
        .get(&Device::key_of(&listener, &phone))
        .await
        .unwrap()
        .unwrap();
    sns.disable(&Device::from_item(&item).unwrap().endpoint_arn.unwrap())
        .await;
    let dispatcher = Arc::new(push_dispatch::State {
        push: Push::new(api.app.store.clone(), Arc::new(sns.endpoints())),
        store: api.app.store.clone(),
    });
    let notification = serde_json::from_value(note).unwrap();
    let id = dispatcher
        .push
        .record(&listener, ORG, notification)
        .await
        .unwrap();
    let response = ROUTE
        .scope(
            "trigger push-dispatch".into(),
            push_dispatch::handle(dispatcher.clone(), push_dispatch::insert_event(&id)),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    step("GET /push/web-push-key", push_api.get("/push/web-push-key")).await;
    step(
        "DELETE /users/me/devices/{deviceId}",
        push_api
            .delete(&format!("/users/me/devices/{tablet}"))
            .bearer(&listener_token),
    )
    .await;
    step(
        "POST /api/v1/client/validate-key",
        api.post("/api/v1/client/validate-key")
            .json(json!({"api_key": ORG_API_KEY})),
    )
    .await;
    step(
        "DELETE /api/v1/server/users/{uid}",
        api.delete("/api/v1/server/users/user123").bearer(&sdk),
    )
    .await;
    // Webhooks, to a loopback port nothing listens on (the ping's delivery fails and is logged).
    let hooks = switchboard_tests::webhooks::local_targets(&api);
    let created = step(
        "POST /webhooks",
        hooks
            .post("/webhooks")
            .bearer(&admin)
            .json(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
    )
    .await;
    let hook = created.str("id");
    step("GET /webhooks", hooks.get("/webhooks").bearer(&admin)).await;
    step(
        "GET /webhooks/{webhookId}",
        hooks.get(&format!("/webhooks/{hook}")).bearer(&admin),
    )
    .await;
    step(
        "PATCH /webhooks/{webhookId}",
        hooks
            .patch(&format!("/webhooks/{hook}"))
            .bearer(&admin)
            .json(json!({"events": ["user.new"]})),
    )
    .await;
    step(
        "POST /webhooks/{webhookId}/secret",
        hooks
            .post(&format!("/webhooks/{hook}/secret"))
            .bearer(&admin),
    )
    .await;
    let ping = step(
        "POST /webhooks/{webhookId}/ping",
        hooks.post(&format!("/webhooks/{hook}/ping")).bearer(&admin),
    )
    .await;
    let delivery = ping.str("id");
    step(
        "GET /webhooks/{webhookId}/deliveries",
        hooks
            .get(&format!("/webhooks/{hook}/deliveries"))
            .bearer(&admin),
    )
    .await;
    step(
        "GET /webhooks/{webhookId}/deliveries/{deliveryId}",
        hooks
            .get(&format!("/webhooks/{hook}/deliveries/{delivery}"))
            .bearer(&admin),
    )
    .await;
    step(
        "POST /webhooks/{webhookId}/deliveries/{deliveryId}/retry",
        hooks
            .post(&format!("/webhooks/{hook}/deliveries/{delivery}/retry"))
            .bearer(&admin),
    )
    .await;
    step(
        "DELETE /webhooks/{webhookId}",
        hooks.delete(&format!("/webhooks/{hook}")).bearer(&admin),
    )
    .await;
    // Last: these end the CRM connection and the account.
    step("POST /unAuthorize", api.post(&format!("/unAuthorize?{q}"))).await;
    step(
        "DELETE /accounts/{accountId}",
        api.delete(&format!("/accounts/{robin}")).bearer(&admin),
    )
    .await;
    // An account's removal: its push records and what it left in the CRM (the agent's contact, logs,
    // note, settings and connection, written above). Deleted here without the stream, so that only this
    // invocation deletes them.
    let agent = api
        .app
        .identities
        .identity_by_username(ORG, "agent")
        .await
        .unwrap()
        .unwrap()
        .id;
    api.app.identities.delete_identity(&agent).await.unwrap();
    let removal =
        push_dispatch::stream_event([("REMOVE", &switchboard::identity::Identity::key_of(&agent))]);
    let response = ROUTE
        .scope(
            "trigger push-dispatch".into(),
            push_dispatch::handle(dispatcher, removal),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    // The trigger functions, each under its own key: a change's event through the stream handler, the
    // sweep, and the delivery from the queue.
    let sqs = switchboard_tests::triggers::sqs();
    let queue_url = switchboard_tests::triggers::queue(&sqs).await;
    hooks
        .post("/webhooks")
        .bearer(&admin)
        .json(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}))
        .send()
        .await;
    api.sign_up("lee", "lee-password").await;
    let event = switchboard_tests::outbox::pending(&api)
        .await
        .pop()
        .unwrap();
    let key = switchboard::webhooks::Event::key_of(&event.id);
    let record = json!({"Records": [{"eventName": "INSERT", "dynamodb": {
        "Keys": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
        "NewImage": {"pk": {"S": key.pk}, "sk": {"S": key.sk}, "v": {"N": "1"},
                     "data": {"S": serde_json::to_string(&event).unwrap()}},
        "SequenceNumber": "1"}}]});
    let state = switchboard_tests::triggers::queue_state(&hooks, &sqs, &queue_url);
    switchboard_tests::iam::ROUTE
        .scope("trigger event-dispatch".into(), async {
            for trigger in [record, json!({"source": "aws.events"})] {
                let response =
                    event_dispatch::handle(state.clone(), serde_json::from_value(trigger).unwrap())
                        .await
                        .unwrap();
                assert!(response.batch_item_failures.is_empty());
            }
        })
        .await;
    let messages = switchboard_tests::triggers::receive(&sqs, &queue_url).await;
    assert_eq!(messages.len(), 1);
    switchboard_tests::iam::ROUTE
        .scope("trigger webhook-deliver".into(), async {
            webhook_deliver::handle(
                state.clone(),
                serde_json::from_value(json!({"Records": messages})).unwrap(),
            )
            .await
            .unwrap();
        })
        .await;

    // The mail sender, as its trigger runs it: a reset requested without the in-process hook, its mail
    // written to files (SES is the trigger test's).
    api.app
        .identities
        .request_password_reset("sam@example.com")
        .await
        .unwrap();
    let (requests, _) = api.app.identities.requests(ORG, 1, None).await.unwrap();
    let mail = switchboard::identity::mail::Mail::key_of(&requests[0].id);
    let outbox = tempfile::tempdir().unwrap();
    let transport = switchboard::mail::Transport::Files {
        dir: outbox.path().into(),
        from: "no-reply@localhost".into(),
    };
    let mailroom = Arc::new(mail_send::state(
        &api.app.config,
        api.app.store.clone(),
        transport,
    ));
    let response = ROUTE
        .scope(
            "trigger mail-send".into(),
            mail_send::handle(
                mailroom,
                switchboard::store::stream::keys_only([("INSERT", &mail)]),
            ),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        std::fs::read_dir(outbox.path()).unwrap().count(),
        1,
        "one mail"
    );

    walked.insert("POST /apiKeyLogin".into()); // api.crm_login above
    walked.insert("trigger push-dispatch".into()); // push_dispatch::handle above
    let routes: BTreeSet<String> = switchboard_local::route_keys()
        .into_iter()
        .map(str::to_owned)
        .chain(["trigger push-dispatch".to_owned()])
        .collect();
    assert_eq!(walked, routes, "walk every route");
    let recorded = recorder.0.lock().unwrap().clone();
    for (function, (policy, function_routes)) in template_functions() {
        let (s3, dynamodb): (BTreeSet<Grant>, BTreeSet<Grant>) = policy
            .into_iter()
            .partition(|(action, _)| action.starts_with("s3:"));
        let called: BTreeSet<Grant> = function_routes
            .iter()
            .flat_map(|route| recorded.get(route).cloned().unwrap_or_default())
            .collect();
        assert_eq!(
            dynamodb, called,
            "{function}: policy (left) vs calls (right)"
        );
        let s3_used: BTreeSet<Grant> = S3_GRANTS
            .iter()
            .filter(|(f, _, _)| *f == function)
            .map(|(_, action, prefix)| (action.to_string(), prefix.to_string()))
            .collect();
        assert_eq!(
            s3, s3_used,
            "{function}: S3 policy (left) vs what it does (right)"
        );
    }
}

/// The avatar processor's S3 trigger, as `template_functions` names a trigger function's calls.
const TRIGGER: &str = "trigger avatar-processor";

/// The S3 actions each function takes, on which prefix of the avatar bucket (its SDK calls, and the
/// presigned URLs it signs, which act with its role).
const S3_GRANTS: &[(&str, &str, &str)] = &[
    ("AvatarUploadUrlFunction", "s3:PutObject", "uploads/*"),
    // Reads and deletes uploads, copies them to avatars/ (a read of the source, a write of the copy) and
    // deletes the avatars they replace.
    ("AvatarProcessorFunction", "s3:GetObject", "uploads/*"),
    ("AvatarProcessorFunction", "s3:DeleteObject", "uploads/*"),
    ("AvatarProcessorFunction", "s3:PutObject", "avatars/*"),
    ("AvatarProcessorFunction", "s3:DeleteObject", "avatars/*"),
    // The same settling for a PATCH; presigned GETs of avatars; removals.
    ("UsersFunction", "s3:GetObject", "uploads/*"),
    ("UsersFunction", "s3:DeleteObject", "uploads/*"),
    ("UsersFunction", "s3:GetObject", "avatars/*"),
    ("UsersFunction", "s3:PutObject", "avatars/*"),
    ("UsersFunction", "s3:DeleteObject", "avatars/*"),
    ("AccountsFunction", "s3:GetObject", "avatars/*"),
    // A deleted account's or SDK user's avatar goes with it.
    ("AccountsFunction", "s3:DeleteObject", "avatars/*"),
    ("ServerApiFunction", "s3:DeleteObject", "avatars/*"),
];

/// Each function's granted `(action, resource)` pairs and its route keys, from `template.yaml`.
fn template_functions() -> BTreeMap<String, (BTreeSet<Grant>, BTreeSet<String>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let properties = &resource["Properties"];
        let mut grants = BTreeSet::new();
        // The SNS statements (conditional on a configured platform application) are not DynamoDB's.
        for policy in properties["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["Statement"].as_sequence().into_iter().flatten() {
                assert_eq!(statement["Effect"], "Allow");
                // The queues' grants are the trigger tests' business; DynamoDB's and S3's are walked here.
                // SES's grant is checked by the mail sender's trigger test.
                if statement["Action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("sqs:") || a.starts_with("ses:"))
                {
                    continue;
                }
                let actions: Vec<String> = match &statement["Action"] {
                    serde_yaml::Value::String(one) => vec![one.clone()],
                    many => many
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect(),
                };
                // `!GetAtt Table.Arn` or `!Sub "${Table.Arn}/index/<name>"`.
                let serde_yaml::Value::Tagged(target) = &statement["Resource"] else {
                    panic!("{name:?}: one resource per statement");
                };
                let text = target.value.as_str().unwrap();
                let bucket = "s3:::switchboard-avatars-${AWS::AccountId}-${AWS::Region}/";
                let resource = match (text.split_once("/index/"), text.split_once(bucket)) {
                    (Some((_, index)), _) => format!("index/{index}"),
                    (None, Some((_, prefix))) => prefix.to_owned(),
                    (None, None) if text == "Table.Arn" => "table".to_owned(),
                    (None, None) => panic!("{name:?}: unexpected resource {text}"),
                };
                grants.extend(actions.into_iter().map(|a| (a, resource.clone())));
            }
        }
        // A trigger function's calls are recorded under `trigger <binary>`.
        let routes = properties["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(_, e)| match e["Type"].as_str() {
                Some("HttpApi") => format!(
                    "{} {}",
                    e["Properties"]["Method"].as_str().unwrap().to_uppercase(),
                    e["Properties"]["Path"].as_str().unwrap()
                ),
                _ => format!(
                    "trigger {}",
                    resource["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .unwrap()
                ),
            })
            .collect();
        out.insert(name.as_str().unwrap().to_owned(), (grants, routes));
    }
    out
}
