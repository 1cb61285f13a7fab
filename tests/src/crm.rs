//! The CRM extension suite: App Connect's flow end to end, its error answers, and the concurrency cases,
//! run unchanged on each storage backend.

use futures::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::api::{Api, CRM_SECRET};

const AUTHORIZE: &str = "Please go to Settings and authorize CRM platform";

fn q(jwt: &str) -> String {
    format!("jwtToken={jwt}")
}

async fn create_contact(api: &Api, jwt: &str, phone: &str, name: &str) -> String {
    let reply = api
        .post(&format!("/contact?{}", q(jwt)))
        .json(json!({"phoneNumber": phone, "newContactName": name, "newContactType": "Contact"}))
        .send()
        .await;
    assert_eq!(reply.body["successful"], true, "{}", reply.text);
    reply.body["contact"]["id"].as_str().unwrap().to_owned()
}

/// The identity the suite's CRM user ("agent") is.
async fn agent(api: &Api) -> switchboard::identity::Identity {
    api.app
        .identities
        .identity_by_username("default", "agent")
        .await
        .unwrap()
        .unwrap()
}

fn call(session: &str, contact: Option<&str>) -> Value {
    let mut body = json!({
        "logInfo": {
            "id": "rc-1", "sessionId": session, "telephonySessionId": "t-1", "direction": "Inbound",
            "from": {"phoneNumber": "+16505559876"}, "to": {"phoneNumber": "+16505550100"},
            "startTime": 1795150800000u64, "duration": 42, "result": "Call connected",
            "recording": {"link": "https://media.example.com/r/1"}
        },
        "contactName": "Ada Lovelace", "contactType": "Contact", "note": "Asked about pricing"
    });
    if let Some(contact) = contact {
        body["contactId"] = json!(contact);
    }
    body
}

fn messages(ids: &[&str]) -> Value {
    // Newest first, as the extension sends them.
    let list: Vec<Value> = ids
        .iter()
        .enumerate()
        .rev()
        .map(|(i, id)| {
            json!({"id": id, "type": "SMS", "direction": "Inbound", "subject": format!("text {i}"),
                   "from": {"phoneNumber": "+16505559876"}, "to": [{"phoneNumber": "+16505550100"}],
                   "creationTime": format!("2026-11-21T05:0{i}:00.000Z")})
        })
        .collect();
    json!({
        "logInfo": {"conversationId": "c-1", "conversationLogId": "c-1-2026-11-21", "messages": list,
                    "correspondents": [{"phoneNumber": "+16505559876"}]},
        "contactId": "x", "contactName": "Ada Lovelace", "contactType": "Contact"
    })
}

/// login → match → create → log call → duplicate → get → patch → message log → replay → unAuthorize →
/// token refused.
pub async fn app_connect_flow(api: &Api) {
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    let login_again = api
        .post("/apiKeyLogin")
        .json(json!({"platform": "switchboard", "apiKey": key}))
        .send()
        .await;
    assert_eq!(login_again.body["name"], "agent");
    assert_eq!(login_again.body["returnMessage"]["messageType"], "success");
    let second_jwt = login_again.str("jwtToken");

    // No match yet: a success with the placeholder alone. `+` arrives as a space.
    let none = api
        .get(&format!("/contact?{}&phoneNumber=%2016505559876", q(&jwt)))
        .send()
        .await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.body["successful"], true);
    assert_eq!(none.body["returnMessage"]["message"], "Contact not found");
    assert_eq!(
        none.body["contact"],
        json!([{"id": "createNewContact", "name": "Create new contact...", "additionalInfo": null, "isNewContact": true}])
    );

    // Create (query-string form, as the 2024 spec shows) and match at once, with formats.
    let created = api
        .post(&format!("/contact?{}&phoneNumber=%2B16505559876&newContactName=Ada%20Lovelace&newContactType=Contact", q(&jwt)))
        .send()
        .await;
    assert_eq!(
        created.body["returnMessage"]["message"], "Contact created.",
        "{}",
        created.text
    );
    let contact = created.body["contact"]["id"].as_str().unwrap().to_owned();
    let found = api
        .get(&format!(
            "/contact?{}&phoneNumber=%2016505559876&overridingFormat=(***)%20***-****,***-***-****",
            q(&jwt)
        ))
        .send()
        .await;
    assert_eq!(found.body["successful"], true, "{}", found.text);
    let list = found.body["contact"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], json!(contact));
    assert_eq!(list[0]["name"], "Ada Lovelace");
    assert_eq!(list[1]["id"], "createNewContact");

    // Log a call, then the duplicate.
    let logged = api
        .post(&format!("/callLog?{}", q(&jwt)))
        .json(call("s-100", Some(&contact)))
        .send()
        .await;
    assert_eq!(logged.body["successful"], true, "{}", logged.text);
    let log_id = logged.str("logId");
    let duplicate = api
        .post(&format!("/callLog?{}", q(&second_jwt)))
        .json(call("s-100", Some(&contact)))
        .send()
        .await;
    assert_eq!(
        duplicate.body,
        json!({"successful": false, "returnMessage": {"message": "Existing log for session s-100", "messageType": "warning", "ttl": 3000}})
    );

    // Get: matched, unmatched, and session 0 never matches.
    let got = api
        .get(&format!(
            "/callLog?{}&sessionIds=s-100,s-404,0&requireDetails=true",
            q(&jwt)
        ))
        .send()
        .await;
    let logs = got.body["logs"].as_array().unwrap();
    assert_eq!(logs[0]["matched"], true);
    assert_eq!(logs[0]["logId"], json!(log_id));
    assert_eq!(logs[0]["logData"]["note"], "Asked about pricing");
    assert_eq!(logs[1], json!({"sessionId": "s-404", "matched": false}));
    assert_eq!(logs[2], json!({"sessionId": "0", "matched": false}));

    // Patch twice: the same answer, no duplicated text.
    let patch = json!({"sessionId": "s-100", "subject": "Pricing", "note": "Follow up Friday", "recordingLink": "https://media.example.com/r/2", "duration": 50});
    let first = api
        .patch(&format!("/callLog?{}", q(&jwt)))
        .json(patch.clone())
        .send()
        .await;
    let second = api
        .patch(&format!("/callLog?{}", q(&jwt)))
        .json(patch)
        .send()
        .await;
    assert_eq!(
        first.body["updatedNote"], "Follow up Friday",
        "{}",
        first.text
    );
    assert_eq!(first.body, second.body);
    let after = api
        .get(&format!(
            "/callLog?{}&sessionIds=s-100&requireDetails=true",
            q(&jwt)
        ))
        .send()
        .await;
    assert_eq!(after.body["logs"][0]["logData"]["note"], "Follow up Friday");
    assert_eq!(
        after.body["logs"][0]["logData"]["recordingLink"],
        "https://media.example.com/r/2"
    );
    let unknown = api
        .patch(&format!("/callLog?{}", q(&jwt)))
        .json(json!({"sessionId": "s-404", "note": "x"}))
        .send()
        .await;
    assert_eq!(unknown.body, json!({"successful": false}));

    // Message log (refused without a contact, writing nothing), replay, empty.
    let mut orphan = messages(&["m1", "m2"]);
    orphan.as_object_mut().unwrap().remove("contactId");
    let refused = api
        .post(&format!("/messageLog?{}", q(&jwt)))
        .json(orphan)
        .send()
        .await;
    assert_eq!(
        refused.body,
        json!({"successful": false, "returnMessage": {"message": "Contact not found for number +16505559876", "messageType": "warning", "ttl": 3000}})
    );
    let logged = api
        .post(&format!("/messageLog?{}", q(&jwt)))
        .json(messages(&["m1", "m2"]))
        .send()
        .await;
    assert_eq!(
        logged.body["logIds"],
        json!(["m1", "m2"]),
        "oldest first: {}",
        logged.text
    );
    let replay = api
        .post(&format!("/messageLog?{}", q(&jwt)))
        .json(messages(&["m1", "m2"]))
        .send()
        .await;
    assert_eq!(
        replay.body,
        json!({"successful": true, "logIds": [], "returnMessage": null})
    );
    let more = api
        .post(&format!("/messageLog?{}", q(&jwt)))
        .json(messages(&["m1", "m2", "m3"]))
        .send()
        .await;
    assert_eq!(more.body["logIds"], json!(["m3"]));
    let empty = api
        .post(&format!("/messageLog?{}", q(&jwt)))
        .json(json!({"logInfo": {"messages": []}}))
        .send()
        .await;
    assert_eq!(empty.body["successful"], false);
    assert_eq!(empty.body["returnMessage"]["message"], "No message to log.");

    // unAuthorize ends every token of the connection.
    let out = api.post(&format!("/unAuthorize?{}", q(&jwt))).send().await;
    assert_eq!(out.body["successful"], true, "{}", out.text);
    for token in [&jwt, &second_jwt] {
        let refused = api
            .get(&format!("/contact?{}&phoneNumber=%2B16505559876", q(token)))
            .send()
            .await;
        assert_eq!((refused.status, refused.text.as_str()), (400, AUTHORIZE));
    }
    let again = api.post(&format!("/unAuthorize?{}", q(&jwt))).send().await;
    assert_eq!(again.status, 400);
    // A new login works, and sees the same data.
    let jwt = api.crm_login(&key).await;
    let found = api
        .get(&format!("/contact?{}&phoneNumber=%2B16505559876", q(&jwt)))
        .send()
        .await;
    assert_eq!(found.body["contact"][0]["id"], json!(contact));
}

pub async fn login_and_token_errors(api: &Api) {
    let key = api.api_key("agent").await;
    let cases = [
        (json!({"apiKey": key}), "Missing platform name"),
        (
            json!({"platform": "", "apiKey": key}),
            "Missing platform name",
        ),
        (json!({"platform": "switchboard"}), "Missing API key"),
        (
            json!({"platform": "pipedrive", "apiKey": key}),
            "Unknown platform pipedrive",
        ),
        (
            json!({"platform": "switchboard", "apiKey": "sb_key_forged"}),
            "Invalid API key",
        ),
    ];
    for (body, message) in cases {
        let reply = api.post("/apiKeyLogin").json(body.clone()).send().await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (400, message),
            "{body}"
        );
    }
    assert_eq!(
        api.post("/apiKeyLogin").raw("{nope").send().await.status,
        400
    );

    let jwt = api.crm_login(&key).await;
    // Bearer works as well as the query string.
    let bearer = api
        .get("/contact?phoneNumber=%2B16505559876")
        .bearer(&jwt)
        .send()
        .await;
    assert_eq!(bearer.status, 200);
    assert!(
        bearer.headers.get("x-refreshed-jwt-token").is_none(),
        "a fresh token is not refreshed"
    );
    for token in ["", "garbage", &format!("{jwt}x")] {
        let reply = api
            .get(&format!(
                "/contact?jwtToken={token}&phoneNumber=%2B16505559876"
            ))
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (400, AUTHORIZE),
            "{token}"
        );
    }
    let missing = api.get("/contact?phoneNumber=%2B16505559876").send().await;
    assert_eq!((missing.status, missing.text.as_str()), (400, AUTHORIZE));

    // A token with 6 days left is honoured and replaced by a fresh one.
    let parts: Vec<&str> = jwt.split('.').collect();
    use base64::Engine;
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    claims["exp"] = json!(claims["iat"].as_i64().unwrap() + 6 * 24 * 3600);
    let aging = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(CRM_SECRET.as_bytes()),
    )
    .unwrap();
    let reply = api
        .get(&format!(
            "/contact?{}&phoneNumber=%2B16505559876",
            q(&aging)
        ))
        .send()
        .await;
    assert_eq!(reply.status, 200);
    let fresh = reply.headers["x-refreshed-jwt-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        api.get(&format!(
            "/contact?{}&phoneNumber=%2B16505559876",
            q(&fresh)
        ))
        .send()
        .await
        .status,
        200
    );
    // Signed with another key, or HS512: refused.
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"another-secret-0123456789abcdef0123"),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(CRM_SECRET.as_bytes()),
    )
    .unwrap();
    for token in [forged, hs512] {
        assert_eq!(
            api.get(&format!(
                "/contact?{}&phoneNumber=%2B16505559876",
                q(&token)
            ))
            .send()
            .await
            .status,
            400
        );
    }
}

pub async fn contacts_match_however_they_were_typed(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let a = create_contact(api, &jwt, "(650) 555-9876", "Typed with parens").await;
    let b = create_contact(api, &jwt, "650.555.9876", "Typed with dots").await;
    let c = create_contact(api, &jwt, "+1 650 555 9876", "Typed E.164").await;
    create_contact(api, &jwt, "+1 650 555 1234", "Someone else").await;
    create_contact(api, &jwt, "+44 20 7946 0958", "London").await;
    let found = api
        .get(&format!(
            "/contact?{}&phoneNumber=%2B16505559876&overridingFormat=(***)%20***-****",
            q(&jwt)
        ))
        .send()
        .await;
    let mut ids: Vec<String> = found.body["contact"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.pop().as_deref(),
        Some("createNewContact"),
        "the placeholder ends the list"
    );
    ids.sort();
    let mut want = vec![a, b, c];
    want.sort();
    assert_eq!(ids, want);
    let london = api
        .get(&format!("/contact?{}&phoneNumber=%2B442079460958", q(&jwt)))
        .send()
        .await;
    assert_eq!(london.body["contact"][0]["name"], "London");

    for (query, message) in [
        ("", "Missing phoneNumber"),
        ("&phoneNumber=", "Missing phoneNumber"),
        ("&phoneNumber=hello", "Invalid phoneNumber: hello"),
    ] {
        let reply = api
            .get(&format!("/contact?{}{query}", q(&jwt)))
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (400, message),
            "{query}"
        );
    }
    for body in [
        json!({"newContactName": "x"}),
        json!({"phoneNumber": "+16505550000"}),
        json!({"phoneNumber": "no digits", "newContactName": "x"}),
    ] {
        let reply = api
            .post(&format!("/contact?{}", q(&jwt)))
            .json(body.clone())
            .send()
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    // Another user sees none of these.
    let other = api.crm_login(&api.api_key("other").await).await;
    let theirs = api
        .get(&format!(
            "/contact?{}&phoneNumber=%2B16505559876",
            q(&other)
        ))
        .send()
        .await;
    assert_eq!(theirs.body["contact"].as_array().unwrap().len(), 1);
}

pub async fn call_log_rules(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let no_contact = api
        .post(&format!("/callLog?{}", q(&jwt)))
        .json(call("s-1", None))
        .send()
        .await;
    assert_eq!(no_contact.body["successful"], false);
    assert_eq!(
        no_contact.body["returnMessage"]["message"],
        "Contact not found for number +16505559876"
    );
    for i in 0..7 {
        api.post(&format!("/callLog?{}", q(&jwt)))
            .json(call(&format!("s-{i}"), Some("c")))
            .send()
            .await;
    }
    let many = api
        .get(&format!(
            "/callLog?{}&sessionIds=s-0,s-1,s-2,s-3,s-4,s-5,s-6",
            q(&jwt)
        ))
        .send()
        .await;
    let logs = many.body["logs"].as_array().unwrap();
    assert_eq!(
        logs.len(),
        7,
        "every id is answered, not App Connect's first five"
    );
    assert!(
        logs.iter().all(|l| l["matched"] == true
            && l["contact"]["id"] == "c"
            && l.get("logData").is_none())
    );
    // Up to 100 ids, each answered once per mention; more is refused.
    let hundred: Vec<String> = (0..100).map(|i| format!("s-{}", i % 10)).collect();
    let answered = api
        .get(&format!(
            "/callLog?{}&sessionIds={}",
            q(&jwt),
            hundred.join(",")
        ))
        .send()
        .await;
    let logs = answered.body["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 100);
    assert_eq!(logs[99]["sessionId"], "s-9");
    assert_eq!(logs[99]["matched"], false);
    assert_eq!(logs[96]["matched"], true);
    let too_many = api
        .get(&format!(
            "/callLog?{}&sessionIds={},s-0",
            q(&jwt),
            hundred.join(",")
        ))
        .send()
        .await;
    assert_eq!(
        (too_many.status, too_many.text.as_str()),
        (400, "At most 100 sessionIds")
    );
    let missing = api.get(&format!("/callLog?{}", q(&jwt))).send().await;
    assert_eq!(missing.body["successful"], false);
    for body in [
        json!({"logInfo": {}}),
        json!({"contactId": "c"}),
        json!("text"),
    ] {
        let reply = api
            .post(&format!("/callLog?{}", q(&jwt)))
            .json(body.clone())
            .send()
            .await;
        assert_eq!(reply.status, 400, "{body}");
    }
    assert_eq!(
        api.patch(&format!("/callLog?{}", q(&jwt)))
            .json(json!({"note": "x"}))
            .send()
            .await
            .status,
        400
    );
    // Another user cannot see or change them.
    let other = api.crm_login(&api.api_key("other").await).await;
    let theirs = api
        .get(&format!("/callLog?{}&sessionIds=s-0", q(&other)))
        .send()
        .await;
    assert_eq!(theirs.body["logs"][0]["matched"], false);
    let patched = api
        .patch(&format!("/callLog?{}", q(&other)))
        .json(json!({"sessionId": "s-0", "note": "x"}))
        .send()
        .await;
    assert_eq!(patched.body["successful"], false);
}

/// Each body is refused with its 400 message.
async fn refuses(api: &Api, method: &str, path: &str, jwt: &str, cases: &[(Value, &str)]) {
    for (body, message) in cases {
        let reply = api
            .call(method, &format!("{path}?{}", q(jwt)))
            .json(body.clone())
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (400, *message),
            "{body}"
        );
    }
}

/// Settings per identity, merged per name; notes cached per session; dispositions on the call log.
pub async fn settings_notes_and_dispositions(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let other = api.crm_login(&api.api_key("other").await).await;
    let save = |token: &str, settings: Value| {
        api.post(&format!("/user/settings?{}", q(token)))
            .json(json!({ "userSettings": settings }))
            .send()
    };
    let first = save(
        &jwt,
        json!({"autoLogCall": {"value": true}, "theme": {"value": "dark"}}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let merged = save(
        &jwt,
        json!({"autoLogCall": {"value": false, "customizable": true}}),
    )
    .await;
    assert_eq!(
        merged.body,
        json!({"userSettings": {"autoLogCall": {"value": false, "customizable": true}, "theme": {"value": "dark"}}})
    );
    let read = api.get(&format!("/user/settings?{}", q(&jwt))).send().await;
    assert_eq!(read.body, merged.body["userSettings"]);
    let theirs = api
        .get(&format!("/user/settings?{}", q(&other)))
        .send()
        .await;
    assert_eq!(theirs.body, json!({}));
    for token in ["", "garbage"] {
        let reply = api
            .get(&format!("/user/settings?jwtToken={token}"))
            .send()
            .await;
        assert_eq!((reply.status, reply.body.clone()), (200, json!({})));
    }
    refuses(
        api,
        "POST",
        "/user/settings",
        &jwt,
        &[
            (json!({}), "Missing userSettings"),
            (json!({"userSettings": [1]}), "Missing userSettings"),
            (
                json!({"userSettings": {"autoLogCall": true}}),
                "userSettings.autoLogCall must be an object",
            ),
        ],
    )
    .await;
    let refused = api
        .post("/user/settings?jwtToken=garbage")
        .json(json!({"userSettings": {}}))
        .send()
        .await;
    assert_eq!((refused.status, refused.text.as_str()), (400, AUTHORIZE));
    let unchanged = api.get(&format!("/user/settings?{}", q(&jwt))).send().await;
    assert_eq!(unchanged.body, merged.body["userSettings"]);

    // A cached note is replaced by a later one, used by a log without a note, and only for its owner.
    for note in ["first", "second"] {
        let cached = api
            .post(&format!("/callLog/cacheNote?{}", q(&jwt)))
            .json(json!({"sessionId": 77, "note": note}))
            .send()
            .await;
        assert_eq!(cached.body, json!({"successful": true}), "{}", cached.text);
    }
    let mut unnoted = call("77", Some("c"));
    unnoted.as_object_mut().unwrap().remove("note");
    for token in [&jwt, &other] {
        let logged = api
            .post(&format!("/callLog?{}", q(token)))
            .json(unnoted.clone())
            .send()
            .await;
        assert_eq!(logged.body["successful"], true, "{}", logged.text);
    }
    let details = |token: &str| {
        api.get(&format!(
            "/callLog?{}&sessionIds=77&requireDetails=true",
            q(token)
        ))
        .send()
    };
    assert_eq!(
        details(&jwt).await.body["logs"][0]["logData"]["note"],
        "second"
    );
    assert_eq!(details(&other).await.body["logs"][0]["logData"]["note"], "");
    // A note given with the log wins over the cached one.
    api.post(&format!("/callLog/cacheNote?{}", q(&jwt)))
        .json(json!({"sessionId": "78", "note": "cached"}))
        .send()
        .await;
    api.post(&format!("/callLog?{}", q(&jwt)))
        .json(call("78", Some("c")))
        .send()
        .await;
    assert_eq!(
        api.get(&format!(
            "/callLog?{}&sessionIds=78&requireDetails=true",
            q(&jwt)
        ))
        .send()
        .await
        .body["logs"][0]["logData"]["note"],
        "Asked about pricing"
    );
    refuses(
        api,
        "POST",
        "/callLog/cacheNote",
        &jwt,
        &[
            (json!({"note": "x"}), "Missing sessionId"),
            (json!({"sessionId": "1"}), "Missing note"),
            (json!({"sessionId": "1", "note": 5}), "Missing note"),
            (json!("text"), "Invalid JSON body"),
        ],
    )
    .await;

    // Dispositions replace the earlier ones and come back in logData; additionalSubmission when given.
    let dispose = |token: &str, body: Value| {
        api.call("PUT", &format!("/callDisposition?{}", q(token)))
            .json(body)
            .send()
    };
    let first = dispose(
        &jwt,
        json!({"sessionId": "77", "dispositions": {"outcome": "Busy", "extra": 1}}),
    )
    .await;
    assert_eq!(first.body["successful"], true, "{}", first.text);
    assert_eq!(
        first.body["returnMessage"]["message"],
        "Call disposition updated."
    );
    dispose(&jwt, json!({"sessionId": "77", "dispositions": {"outcome": "Sold"}, "additionalSubmission": {"deal": "d-1"}})).await;
    let data = details(&jwt).await.body["logs"][0]["logData"].clone();
    assert_eq!(data["dispositions"], json!({"outcome": "Sold"}));
    assert_eq!(data["additionalSubmission"], json!({"deal": "d-1"}));
    assert_eq!(
        data["note"], "second",
        "a disposition leaves the note alone"
    );
    assert_eq!(
        details(&other).await.body["logs"][0]["logData"]["dispositions"],
        json!({}),
        "another user's log of the same session is untouched"
    );
    let unknown = dispose(&jwt, json!({"sessionId": "404", "dispositions": {}})).await;
    assert_eq!(unknown.body["successful"], false);
    assert_eq!(
        unknown.body["returnMessage"]["message"],
        "No call log for session 404"
    );
    refuses(
        api,
        "PUT",
        "/callDisposition",
        &jwt,
        &[
            (json!({"dispositions": {}}), "Missing sessionId"),
            (json!({"sessionId": "77"}), "Missing dispositions"),
            (
                json!({"sessionId": "77", "dispositions": "x"}),
                "Missing dispositions",
            ),
            (
                json!({"sessionId": "77", "dispositions": {}, "additionalSubmission": 3}),
                "additionalSubmission must be an object",
            ),
        ],
    )
    .await;
    assert_eq!(
        details(&jwt).await.body["logs"][0]["logData"]["dispositions"],
        json!({"outcome": "Sold"}),
        "refused requests change nothing"
    );
}

pub async fn concurrent_call_logs_make_one(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let replies = join_all((0..64).map(|_| {
        api.post(&format!("/callLog?{}", q(&jwt)))
            .json(call("s-race", Some("c")))
            .send()
    }))
    .await;
    let created = replies
        .iter()
        .filter(|r| r.body["successful"] == true)
        .count();
    assert_eq!(created, 1);
    let existing = replies
        .iter()
        .filter(|r| r.body["returnMessage"]["message"] == "Existing log for session s-race")
        .count();
    assert_eq!(
        existing,
        63,
        "{:?}",
        replies.iter().map(|r| r.text.clone()).collect::<Vec<_>>()
    );
}

pub async fn concurrent_message_logs_log_each_once(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let ids = ["m0", "m1", "m2", "m3", "m4"];
    let replies = join_all((0..16).map(|_| {
        api.post(&format!("/messageLog?{}", q(&jwt)))
            .json(messages(&ids))
            .send()
    }))
    .await;
    let mut logged: Vec<String> = replies
        .iter()
        .flat_map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.body["logIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    logged.sort();
    assert_eq!(
        logged,
        ids.to_vec(),
        "each message logged exactly once across all requests"
    );
    let owner = agent(api).await;
    let partition =
        switchboard::crm::records::LoggedMessage::conversation(&owner.id, "c-1-2026-11-21");
    let page = api
        .app
        .store
        .query(&switchboard::store::Query::new(partition).on(switchboard::store::Index::Gsi1))
        .await
        .unwrap();
    let order: Vec<&str> = page
        .items
        .iter()
        .map(|m| m.body["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(order, ids.to_vec(), "stored once each, oldest first");
    // Each message carries its conversation and contact (there is no read-modify-write record of the day).
    assert!(
        page.items
            .iter()
            .all(|m| m.body["conversationId"] == "c-1" && m.body["contactId"] == "x"),
        "{:?}",
        page.items[0].body
    );
}

pub async fn oversized_input_is_refused(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let long = "9".repeat(1100);
    let huge = "x".repeat(400_000);
    let mut long_message = messages(&["m1"]);
    long_message["logInfo"]["messages"][0]["id"] = json!(long);
    let mut huge_message = messages(&["m1"]);
    huge_message["logInfo"]["messages"][0]["subject"] = json!(huge);
    let mut huge_note = call("s-huge", Some("c"));
    huge_note["note"] = json!(huge);
    let cases = [
        ("POST", "/callLog", call(&long, Some("c"))),
        ("POST", "/callLog", huge_note),
        ("PATCH", "/callLog", json!({"sessionId": long, "note": "x"})),
        (
            "POST",
            "/contact",
            json!({"phoneNumber": format!("+1{long}"), "newContactName": "x"}),
        ),
        (
            "POST",
            "/contact",
            json!({"phoneNumber": "+16505559876", "newContactName": huge}),
        ),
        ("POST", "/messageLog", long_message),
        ("POST", "/messageLog", huge_message),
    ];
    for (method, path, body) in cases {
        let reply = api
            .call(method, &format!("{path}?{}", q(&jwt)))
            .json(body)
            .send()
            .await;
        let shown = &reply.text[..reply.text.len().min(200)];
        assert!(
            reply.status == 400 || reply.body["successful"] == false,
            "{method} {path}: {} {shown}",
            reply.status
        );
    }
    // Free-form JSON that DynamoDB could not hold as a map is stored as given.
    let mut odd = call("s-odd", Some("c"));
    odd["additionalSubmission"] = json!({"": 1, "big": 1e200});
    odd["logInfo"]["startTime"] = json!(1e200);
    let reply = api
        .post(&format!("/callLog?{}", q(&jwt)))
        .json(odd)
        .send()
        .await;
    assert_eq!(reply.body["successful"], true, "{}", reply.text);
    // A busy conversation-day keeps taking messages.
    let big = "y".repeat(90_000);
    for i in 0..8 {
        let mut batch = messages(&[&format!("busy-{i}")]);
        batch["logInfo"]["messages"][0]["subject"] = json!(big);
        let reply = api
            .post(&format!("/messageLog?{}", q(&jwt)))
            .json(batch)
            .send()
            .await;
        assert_eq!(
            reply.body["successful"],
            true,
            "message {i}: {}",
            &reply.text[..reply.text.len().min(200)]
        );
    }
    let get = api
        .get(&format!("/callLog?{}&sessionIds={long}", q(&jwt)))
        .send()
        .await;
    assert_eq!(get.status, 200);
}

/// The writes that carry the token check inside themselves (`POST /contact`, `/callLog`, `/messageLog`)
/// refuse a revoked token, a locked identity and a deleted one at once, and write nothing: the same numbers,
/// sessions and messages are new when written later with a good token. A token from before `org` was in
/// it still works (its check comes first).
pub async fn a_refused_token_writes_nothing(api: &Api) {
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    let owner = agent(api).await;
    let admin = api.admin_token().await;
    let writes = |n: usize| {
        let mut logged = call(&format!("refused-{n}"), Some("c1"));
        let mut unnoted = call(&format!("refused-unnoted-{n}"), Some("c1"));
        unnoted["note"] = json!("");
        logged["note"] = json!("typed");
        vec![
            (
                "/contact",
                json!({"phoneNumber": format!("+1650555771{n}"), "newContactName": "Refused"}),
            ),
            ("/callLog", logged),
            ("/callLog", unnoted),
            ("/messageLog", messages(&[&format!("refused-m{n}")])),
        ]
    };
    // Sends every write of `writes(n)` with `jwt`; answers each path with its reply.
    let send = async |jwt: &str, n: usize| {
        let mut replies = Vec::new();
        for (path, body) in writes(n) {
            let reply = api
                .post(&format!("{path}?{}", q(jwt)))
                .json(body)
                .send()
                .await;
            replies.push((path, reply));
        }
        replies
    };
    let refused = async |jwt: &str, n: usize, why: &str| {
        for (path, reply) in send(jwt, n).await {
            assert_eq!(
                (reply.status, reply.text.as_str()),
                (400, AUTHORIZE),
                "{why}: POST {path}"
            );
        }
    };
    // Whether each write of `writes(n)` is new (nothing was written by a refused request).
    let all_new = async |jwt: &str, n: usize| {
        for (path, reply) in send(jwt, n).await {
            assert_eq!(
                reply.body["successful"], true,
                "POST {path}: {}",
                reply.text
            );
            if path == "/messageLog" {
                assert_eq!(reply.body["logIds"], json!([format!("refused-m{n}")]));
            }
        }
    };

    // Revoked: unAuthorize ends the connection.
    let out = api.post(&format!("/unAuthorize?{}", q(&jwt))).send().await;
    assert_eq!(out.body["successful"], true, "{}", out.text);
    refused(&jwt, 0, "revoked").await;
    let jwt = api.crm_login(&key).await;
    all_new(&jwt, 0).await;

    // Locked, then unlocked.
    let lock = |verb: &'static str| {
        api.post(&format!("/identities/{}/{verb}", owner.id))
            .bearer(&admin)
    };
    assert_eq!(lock("lock").send().await.status, 204);
    refused(&jwt, 1, "locked").await;
    // A token from before `org` (checked first, then written as) is refused the same way.
    let tokens = switchboard::crm::CrmTokens::new(&api.app.config.crm_secret);
    let claims = tokens.verify(&jwt).unwrap();
    let legacy = tokens
        .issue(&owner.id, "", &claims.platform, &claims.cid, claims.iat)
        .unwrap();
    refused(&legacy, 2, "locked, legacy token").await;
    assert_eq!(lock("unlock").send().await.status, 204);
    all_new(&jwt, 1).await;
    all_new(&legacy, 2).await;

    // Deleted: the account goes, with it every write.
    let deleted = api
        .delete(&format!("/accounts/{}", owner.id))
        .bearer(&admin)
        .send()
        .await;
    assert!(deleted.status < 300, "{}", deleted.text);
    refused(&jwt, 3, "deleted").await;
    let partition = api
        .app
        .store
        .query(&switchboard::store::Query::new(format!(
            "IDENT#{}",
            owner.id
        )))
        .await
        .unwrap();
    assert!(
        partition
            .items
            .iter()
            .all(|i| !i.key.sk.contains("refused-3") && !i.key.sk.contains("refused-m3")),
        "{:?}",
        partition
            .items
            .iter()
            .map(|i| &i.key.sk)
            .collect::<Vec<_>>()
    );
}

/// Deleting an account deletes what it left: in the CRM (contacts with their phone entries, call logs,
/// messages, cached notes, settings, connections) and its API keys, sessions and one-time tokens, from
/// the identity's removal on the table's stream, however many pages of it there are; another user's
/// contact on the same number stays. An invocation with no time left hands the removal back, and the
/// next one finishes it.
pub async fn deleting_an_account_removes_what_it_left(api: &Api) {
    use switchboard::crm::records::{CallLog, PhoneEntry};
    use switchboard::remains::{self, Forgotten};
    use switchboard::store::{Condition, Index, Query, Record, Write};

    let number = "+16505557733";
    let admin = api.admin_token().await;
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    let owner = agent(api).await.id;
    let ada = api.crm_login(&api.api_key("ada").await).await;
    let adas = create_contact(api, &ada, number, "Ada's").await;
    create_contact(api, &jwt, number, "Agent's").await;
    let writes = [
        ("/callLog", call("gone-1", None)),
        ("/messageLog", messages(&["gone-m1", "gone-m2"])),
        (
            "/callLog/cacheNote",
            json!({"sessionId": "gone-2", "note": "typed"}),
        ),
        (
            "/user/settings",
            json!({"userSettings": {"autoLogCall": {"value": true}}}),
        ),
    ];
    for (path, body) in writes {
        let reply = api
            .post(&format!("{path}?{}", q(&jwt)))
            .json(body)
            .send()
            .await;
        assert_eq!(reply.status, 200, "POST {path}: {}", reply.text);
    }
    // More than one page of call logs.
    let logs: Vec<Write> = (0..130)
        .map(|i| {
            let log = CallLog {
                session_id: format!("bulk-{i}"),
                owner: owner.clone(),
                ..CallLog::default()
            };
            Write::Put(log.to_item().unwrap(), Condition::Absent)
        })
        .collect();
    for chunk in logs.chunks(65) {
        api.app.store.transact(chunk.to_vec()).await.unwrap();
    }
    let store = api.app.store.as_ref();
    let partition = Query::new(format!("IDENT#{owner}"));
    let entries = Query::new(PhoneEntry::partition(
        &owner,
        &switchboard::crm::phone::key(number).unwrap(),
    ));
    // Every page of each.
    let count = async |query: &Query| {
        let (mut total, mut cursor) = (0, None);
        loop {
            let page = store.query(&query.clone().after(cursor)).await.unwrap();
            total += page.items.len();
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return total,
            }
        }
    };
    // Its API key, its session and a one-time token, listed per organization.
    let token = api
        .post(&format!("/accounts/{owner}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "invite"}))
        .send()
        .await;
    assert_eq!(token.status, 201, "{}", token.text);
    let owned = |kind: &str| {
        Query::new(format!("ORG#{}#{kind}", crate::api::ORG))
            .on(Index::Gsi1)
            .prefix(format!("{owner}#"))
    };
    let (keys, sessions, tokens) = (owned("APIKEYS"), owned("SESSIONS"), owned("TOKENS"));
    for (query, what) in [
        (&keys, "API key"),
        (&sessions, "session"),
        (&tokens, "token"),
    ] {
        assert_eq!(count(query).await, 1, "the agent's {what}");
    }
    let left = async || {
        count(&partition).await
            + count(&entries).await
            + count(&keys).await
            + count(&sessions).await
            + count(&tokens).await
    };
    assert!(left().await > 130, "the account's CRM data is there");

    // Deleted without the stream (the suite's store has none): then an invocation with no time left
    // deletes nothing, and the next one all of it.
    api.app.identities.delete_identity(&owner).await.unwrap();
    let before = left().await;
    // A request past its token check when the account went writes nothing after it: settings and a
    // note are guarded by the identity too, so nothing outlives the clean-up.
    let changes = json!({"late": {"value": 1}});
    let late = api
        .app
        .crm
        .update_user_settings(&owner, changes.as_object().unwrap(), &[])
        .await;
    assert!(late.is_err(), "{late:?}");
    let late = api.app.crm.cache_note(&owner, "late", "late", &[]).await;
    assert!(late.is_err(), "{late:?}");
    assert_eq!(left().await, before);
    let no_time = std::time::Instant::now() + switchboard::deadline::MARGIN;
    let forgotten =
        switchboard::deadline::within(Some(no_time), remains::forget(store, &owner)).await;
    assert_eq!(forgotten.unwrap(), Forgotten::Partly(0));
    assert_eq!(left().await, before, "nothing deleted without time");
    assert_eq!(
        remains::forget(store, &owner).await.unwrap(),
        Forgotten::All(before)
    );
    assert_eq!(left().await, 0);

    // Deleted through the API: the stream's removal (in process here, as the local server hands it
    // over) deletes what the account left.
    let other = api.api_key("sam").await;
    let sam = api.crm_login(&other).await;
    let sam_id = api
        .app
        .identities
        .identity_by_username("default", "sam")
        .await
        .unwrap()
        .unwrap()
        .id;
    create_contact(api, &sam, number, "Sam's").await;
    let deleted = api
        .delete(&format!("/accounts/{sam_id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let sam_keys = Query::new(format!("ORG#{}#APIKEYS", crate::api::ORG))
        .on(Index::Gsi1)
        .prefix(format!("{sam_id}#"));
    let sam_partition = Query::new(format!("IDENT#{sam_id}"));
    let sam_left = async || count(&sam_partition).await + count(&sam_keys).await;
    let mut waited = 0;
    while sam_left().await > 0 && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        waited += 1;
    }
    assert_eq!(
        sam_left().await,
        0,
        "the deleted account's CRM data and API key go from the stream"
    );
    let found = api
        .get(&format!(
            "/contact?{}&phoneNumber=%2B{}",
            q(&ada),
            &number[1..]
        ))
        .send()
        .await;
    assert_eq!(
        found.body["contact"][0]["id"],
        json!(adas),
        "{}",
        found.text
    );
}
