//! The transactional outbox (issue 9 item 1), run unchanged on each storage backend: every committed change
//! writes exactly one event of its kind in its own transaction, a change that fails writes none, and no
//! payload carries a secret.

use std::collections::HashSet;

use futures::future::join_all;
use serde_json::json;
use switchboard::store::{Condition, Key, Record, Write};
use switchboard::webhooks::events::EVENT_TTL_SECONDS;
use switchboard::webhooks::{Event, EventName};

use crate::api::{ADMIN_PASSWORD, Api, ORG, ORG_API_SECRET};
use crate::identity::sdk_token;

/// Every event not yet dispatched, oldest first.
pub async fn pending(api: &Api) -> Vec<Event> {
    let mut query = Event::pending().limit(1000);
    let mut events = Vec::new();
    loop {
        let page = api.app.store.query(&query).await.expect("pending events");
        for item in &page.items {
            events.push(Event::from_item(item).expect("an event item"));
        }
        match page.cursor {
            Some(cursor) => query = query.after(Some(cursor)),
            None => return events,
        }
    }
}

/// The events written since the last call, by name in the order written.
struct Told {
    seen: HashSet<String>,
}

impl Told {
    async fn new(api: &Api) -> Self {
        let mut told = Self {
            seen: HashSet::new(),
        };
        told.since(api).await;
        told
    }

    async fn since(&mut self, api: &Api) -> Vec<Event> {
        let mut new = Vec::new();
        for event in pending(api).await {
            if self.seen.insert(event.id.clone()) {
                new.push(event);
            }
        }
        new
    }

    /// The one event written since the last call, which must be `name`.
    async fn one(&mut self, api: &Api, name: &str) -> Event {
        let mut events = self.since(api).await;
        assert_eq!(events.len(), 1, "one {name}: {events:?}");
        let event = events.remove(0);
        assert_eq!(event.event, name);
        event
    }

    async fn names(&mut self, api: &Api) -> Vec<String> {
        self.since(api).await.into_iter().map(|e| e.event).collect()
    }
}

/// The `account.password_reset_requested` its mail's sending tells, once `count` mails reached robin.
async fn told_after_mail(api: &Api, told: &mut Told, count: usize) -> Event {
    crate::mail::mail_to(api, "robin@example.com", count).await;
    told.one(api, "account.password_reset_requested").await
}

fn q(jwt: &str) -> String {
    format!("jwtToken={jwt}")
}

/// Each kind of change, one at a time: exactly its events, with the documented payload.
pub async fn every_committed_change_tells_one_event(api: &Api) {
    let admin = api.admin_token().await;
    let mut told = Told::new(api).await;

    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let created = told.one(api, "account.created").await;
    assert_eq!(created.organization_id, ORG);
    assert_eq!(created.payload["account"]["id"], json!(robin));
    assert_eq!(created.payload["organizationId"], json!(ORG));
    let ttl = created.expires_at - switchboard::time::unix_now();
    assert!((EVENT_TTL_SECONDS - 60..=EVENT_TTL_SECONDS).contains(&ttl));

    let token = api.sign_in("robin", "robin-password", None).await;
    assert_eq!(told.names(api).await, Vec::<String>::new(), "a sign-in");

    let renamed = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&token)
        .json(json!({"email": "robin@example.com", "currentPassword": "robin-password"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let updated = told.one(api, "account.updated").await;
    assert_eq!(updated.payload["changed"], json!(["email"]));
    assert_eq!(
        updated.payload["account"]["email"],
        json!("robin@example.com")
    );

    let changed = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&token)
        .json(json!({"password": "robin-password-2", "currentPassword": "robin-password"}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let password = told.one(api, "account.password_changed").await;
    assert_eq!(password.payload["by"], "self");

    for (path, name) in [("lock", "account.locked"), ("unlock", "account.unlocked")] {
        let reply = api
            .post(&format!("/identities/{robin}/{path}"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(reply.status, 204, "{}", reply.text);
        let event = told.one(api, name).await;
        assert_eq!(event.payload["accountId"], json!(robin));
        assert!(event.payload["by"].is_string());
    }

    // A temporary sign-in lockout is no admin lock: nothing to tell.
    for _ in 0..6 {
        api.post("/sessions")
            .json(json!({"username": "robin", "password": "wrong-password"}))
            .send()
            .await;
    }
    assert_eq!(told.names(api).await, Vec::<String>::new(), "a lockout");

    let token = api.admin_token().await;
    let renamed = api
        .patch(&format!("/users/{profile}"))
        .bearer(&token)
        .json(json!({"name": "Robin Hood"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let profiled = told.one(api, "profile.updated").await;
    assert_eq!(profiled.payload["changed"], json!(["name"]));
    assert_eq!(profiled.payload["accountId"], json!(robin));

    let removed = api
        .delete(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let deleted = told.one(api, "account.deleted").await;
    assert_eq!(deleted.payload["username"], "robin");

    // The server API: user.new (not account.created too), an update, user.deleted.
    let body = json!({"user_info": {"userId": "user123", "fullName": "John Doe", "email": "john@example.com"}});
    let upsert = || {
        api.post("/api/v1/server/users/user123")
            .bearer(&sdk_token("user123", false, ORG_API_SECRET, 300))
            .json(body.clone())
            .send()
    };
    let first = upsert().await;
    assert_eq!(first.status, 200, "{}", first.text);
    let new = told.one(api, "user.new").await;
    assert_eq!(new.payload["userId"], "user123");
    assert_eq!(new.payload["user"]["organization_user_id"], "user123");
    upsert().await;
    assert_eq!(
        told.names(api).await,
        Vec::<String>::new(),
        "an upsert that changes nothing"
    );
    let gone = api
        .delete("/api/v1/server/users/user123")
        .bearer(&sdk_token("user123", false, ORG_API_SECRET, 300))
        .send()
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    let deleted = told.one(api, "user.deleted").await;
    assert_eq!(deleted.payload["userId"], "user123");

    // The CRM extension API.
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    told.since(api).await;
    let contact = api
        .post(&format!("/contact?{}", q(&jwt)))
        .json(json!({"phoneNumber": "+16505559876", "newContactName": "Ada", "newContactType": "Contact"}))
        .send()
        .await;
    assert_eq!(contact.body["successful"], true, "{}", contact.text);
    let created = told.one(api, "contact.created").await;
    assert_eq!(created.payload["contact"]["name"], "Ada");
    let call = json!({
        "logInfo": {"id": "rc-1", "sessionId": "s-1", "direction": "Inbound",
                    "from": {"phoneNumber": "+16505559876"}, "to": {"phoneNumber": "+16505550100"},
                    "startTime": 1795150800000u64, "duration": 42, "result": "Call connected"},
        "contactId": contact.body["contact"]["id"], "contactName": "Ada", "note": "Hello"
    });
    for _ in 0..2 {
        let logged = api
            .post(&format!("/callLog?{}", q(&jwt)))
            .json(call.clone())
            .send()
            .await;
        assert_eq!(logged.status, 200, "{}", logged.text);
    }
    let logged = told.one(api, "call.logged").await;
    assert_eq!(logged.payload["call"]["sessionId"], "s-1");
    let patch = json!({"sessionId": "s-1", "note": "Follow up Friday"});
    for _ in 0..2 {
        api.patch(&format!("/callLog?{}", q(&jwt)))
            .json(patch.clone())
            .send()
            .await;
    }
    let patched = told.one(api, "call.updated").await;
    assert_eq!(patched.payload["changed"], json!(["note"]));
    let messages = json!({
        "logInfo": {"conversationId": "c-1", "conversationLogId": "c-1-day", "messages": [
            {"id": "m2", "type": "SMS", "direction": "Inbound", "subject": "two", "creationTime": "2026-11-21T05:02:00.000Z",
             "from": {"phoneNumber": "+16505559876"}, "to": [{"phoneNumber": "+16505550100"}]},
            {"id": "m1", "type": "SMS", "direction": "Inbound", "subject": "one", "creationTime": "2026-11-21T05:01:00.000Z",
             "from": {"phoneNumber": "+16505559876"}, "to": [{"phoneNumber": "+16505550100"}]}]},
        "contactId": "x", "contactName": "Ada", "contactType": "Contact"
    });
    for _ in 0..2 {
        api.post(&format!("/messageLog?{}", q(&jwt)))
            .json(messages.clone())
            .send()
            .await;
    }
    let logged = told.since(api).await;
    assert_eq!(
        logged.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["message.logged", "message.logged"],
        "each message once"
    );
    assert_eq!(logged[0].payload["messageId"], "m1");
}

/// Changes refused by a condition write nothing, their events included; so does a transaction that fails
/// on any of its other writes.
pub async fn a_failed_change_leaves_no_event(api: &Api) {
    let mut told = Told::new(api).await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let (_, _) = api.sign_up("sam", "sam-password").await;
    let token = api.sign_in("sam", "sam-password", None).await;
    let admin = api.admin_token().await;
    api.patch(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .json(json!({"email": "robin@example.com"}))
        .send()
        .await;
    assert_eq!(told.since(api).await.len(), 3);

    let taken = api
        .post("/accounts")
        .json(json!({"username": "ROBIN", "password": "another-password"}))
        .send()
        .await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    let me = api.get("/sessions").bearer(&token).send().await;
    let sam = me.body[0]["accountId"].as_str().unwrap().to_owned();
    let clash = api
        .patch(&format!("/accounts/{sam}"))
        .bearer(&token)
        .json(json!({"email": "robin@example.com", "currentPassword": "sam-password"}))
        .send()
        .await;
    assert_eq!(clash.status, 409, "{}", clash.text);
    let wrong = api
        .post("/sessions")
        .json(json!({"username": "admin", "password": format!("{ADMIN_PASSWORD}-wrong")}))
        .send()
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(told.names(api).await, Vec::<String>::new());

    // At the store: an event in a transaction whose other write fails is not written either.
    let event = Event::new(EventName::UserNew, ORG, json!({"userId": "nobody"}));
    let refused = api
        .app
        .store
        .transact(vec![
            event.write().unwrap(),
            Write::Check(Key::new("NOTHING#here", "NOTHING"), Condition::Exists),
        ])
        .await;
    assert!(refused.is_err());
    assert!(api.app.store.get(&event.key()).await.unwrap().is_none());
    assert_eq!(told.names(api).await, Vec::<String>::new());
}

/// Concurrent changes: as many events as changes that committed, each sign-up race telling one.
pub async fn concurrent_changes_each_tell_one(api: &Api) {
    let mut told = Told::new(api).await;
    let sign_up = |name: String| async move {
        api.post("/accounts")
            .json(json!({"username": name, "password": "a-good-password"}))
            .send()
            .await
            .status
    };
    let distinct = join_all((0..24).map(|i| sign_up(format!("user{i}")))).await;
    assert!(distinct.iter().all(|s| *s == 201), "{distinct:?}");
    let same = join_all((0..12).map(|_| sign_up("twin".into()))).await;
    assert_eq!(same.iter().filter(|s| **s == 201).count(), 1, "{same:?}");
    let events = told.since(api).await;
    assert_eq!(events.len(), 25);
    assert!(events.iter().all(|e| e.event == "account.created"));
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 25);
}

/// The marks of every secret the service makes or is given: its one-time and refresh tokens, personal API
/// keys and webhook secrets by their prefixes, signed tokens (JWTs) by their header, and the tests' own
/// passwords and organization secret.
const SECRET_MARKS: &[&str] = &[
    "sb_ott_",
    "sb_rt_",
    "sb_key_",
    "whsec_",
    "eyJ",
    "password-",
    ADMIN_PASSWORD,
    ORG_API_SECRET,
    "argon2",
    "passwordHash",
];

/// Fails if an event payload carries anything that looks like a secret.
pub fn assert_no_secret(events: &[Event]) {
    for event in events {
        let text = event.payload.to_string();
        for mark in SECRET_MARKS {
            assert!(!text.contains(mark), "{mark} in {}: {text}", event.event);
        }
    }
}

/// The catalogue walked: every event is made at least once, with secrets of each kind about (a reset
/// mail's token, sessions, one-time tokens, API keys, webhook secrets and their rotation, SDK tokens), and
/// no payload carries one. `avatar.updated` and `notification.sent` need a bucket and push senders; the
/// avatar and push suites make them and check them with [`assert_no_secret`].
pub async fn no_event_carries_a_secret(api: &Api) {
    every_committed_change_tells_one_event(api).await;
    let admin = api.admin_token().await;
    let (sam, _) = api.sign_up("sam", "sam-password-secret").await;
    let token = api.sign_in("sam", "sam-password-secret", None).await;
    api.patch(&format!("/accounts/{sam}"))
        .bearer(&token)
        .json(json!({"email": "sam@example.com", "password": "sam-password-new", "currentPassword": "sam-password-secret"}))
        .send()
        .await;
    api.post("/requests")
        .json(json!({"type": "passwordreset", "email": "sam@example.com"}))
        .send()
        .await;
    let reset = crate::mail::mail_to(api, "sam@example.com", 1).await[0].token();
    let made = crate::mail::reset_with(api, &sam, &reset, "sam-password-reset").await;
    assert_eq!(made, 200);
    let one_time = api
        .post(&format!("/accounts/{sam}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "signin"}))
        .send()
        .await;
    assert_eq!(one_time.status, 201, "{}", one_time.text);
    let opened = api
        .post("/sessions")
        .bearer(&admin)
        .json(json!({"username": "sam"}))
        .send()
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let hooks = crate::webhooks::local_targets(api);
    let hook = hooks
        .post("/webhooks")
        .bearer(&admin)
        .json(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}))
        .send()
        .await
        .str("id");
    hooks
        .post(&format!("/webhooks/{hook}/secret"))
        .bearer(&admin)
        .send()
        .await;

    let events = pending(api).await;
    assert_no_secret(&events);
    let told: HashSet<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let elsewhere = ["avatar.updated", "notification.sent"];
    let missing: Vec<&str> = switchboard::webhooks::events::catalogue()
        .filter(|name| !told.contains(name) && !elsewhere.contains(name))
        .collect();
    assert!(missing.is_empty(), "not walked: {missing:?}");
}

/// hoodie's requests: anonymous, always 202, limited per email; for an existing account the mail's
/// `passwordreset` token (never an event's: `account.password_reset_requested` names the account and the
/// request only) changes the password once.
pub async fn password_reset_requests(api: &Api) {
    let mut told = Told::new(api).await;
    let reply = api
        .post("/accounts")
        .json(json!({"username": "robin", "password": "robin-password", "email": "Robin@Example.com"}))
        .send()
        .await;
    let robin = reply.str("id");
    told.since(api).await;
    let ask = |email: &str| {
        api.post("/requests")
            .json(json!({"type": "passwordreset", "email": email}))
            .send()
    };
    let known = ask("robin@example.com").await;
    let unknown = ask("nobody@example.com").await;
    assert_eq!(known.status, 202, "{}", known.text);
    assert_eq!(unknown.status, 202, "{}", unknown.text);
    assert_eq!(known.body["type"], unknown.body["type"]);
    assert_eq!(
        known.body.as_object().unwrap().len(),
        unknown.body.as_object().unwrap().len(),
        "the same answer whether or not the email has an account"
    );
    let event = told_after_mail(api, &mut told, 1).await;
    assert_eq!(event.payload["accountId"], json!(robin));
    assert!(event.payload["requestId"].is_string());
    assert!(event.payload.get("token").is_none(), "{}", event.payload);
    let token = crate::mail::mail_to(api, "robin@example.com", 1).await[0].token();
    let reset = crate::mail::reset_with(api, &robin, &token, "robin-password-2").await;
    assert_eq!(reset, 200);
    assert_eq!(
        told.one(api, "account.password_changed").await.payload["by"],
        "reset"
    );
    api.sign_in("robin", "robin-password-2", None).await;

    // A second and a third are allowed this hour, a fourth is answered the same and does nothing.
    for count in [2, 3] {
        ask("robin@example.com").await;
        told_after_mail(api, &mut told, count).await;
    }
    let over = ask("robin@example.com").await;
    assert_eq!(over.status, 202);
    assert_eq!(
        told.names(api).await,
        Vec::<String>::new(),
        "over the limit"
    );

    for (body, problem) in [
        (
            json!({"type": "signup", "email": "a@b.c"}),
            "request body/type must be equal to 'passwordreset'",
        ),
        (
            json!({"type": "passwordreset"}),
            "request body must have required property 'email'",
        ),
        (
            json!({"type": "passwordreset", "email": "nope"}),
            "request body/email must be an email address of at most 254 bytes",
        ),
    ] {
        let refused = api.post("/requests").json(body.clone()).send().await;
        assert_eq!(refused.status, 400, "{body}");
        assert_eq!(refused.body["error"]["data"][0], problem, "{body}");
    }

    // Admins list, read and remove them.
    let admin = api.admin_token().await;
    let listed = api.get("/requests").bearer(&admin).send().await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let list = listed.body.as_array().unwrap();
    assert_eq!(list.len(), 4, "the one over the limit is not stored");
    assert_eq!(
        list.iter()
            .filter(|r| r["accountId"] == json!(robin))
            .count(),
        3
    );
    assert!(!listed.text.contains("sb_ott_"), "no token in the list");
    let id = list[0]["id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/requests/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        200
    );
    let user = api.sign_in("robin", "robin-password-2", None).await;
    assert_eq!(api.get("/requests").bearer(&user).send().await.status, 403);
    assert_eq!(api.get("/requests").send().await.status, 401);
    assert_eq!(
        api.delete(&format!("/requests/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        204
    );
    let gone = api
        .get(&format!("/requests/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!((gone.status, gone.message()), (404, "Request not found"));
}
