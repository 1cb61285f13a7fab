//! The member directory and last seen (issue 22), run unchanged on each storage backend: word-prefix
//! search over name, username and email (case- and accent-insensitive), what a fellow member sees, the
//! terms following every change, another organization out of reach, and last seen moving at most once a
//! minute.

use serde_json::{Value, json};
use switchboard::identity::members::LastSeen;
use switchboard::store::Record;

use crate::api::{Api, Reply};

async fn member_named(api: &Api, username: &str, name: &str, email: &str) -> (String, String) {
    let reply = api
        .post("/accounts")
        .json(
            json!({"username": username, "password": "a-good-password", "email": email,
            "profile": {"name": name, "firstName": name.split(' ').next().unwrap()}}),
        )
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (
        reply.str("id"),
        reply.body["profile"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn search(api: &Api, token: &str, query: &str) -> Reply {
    let reply = api
        .get(&format!("/members?{query}"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply
}

fn usernames(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Word prefixes of name, username and email, whatever the case and accents; every query word must match.
pub async fn members_find_each_other_by_word_prefix(api: &Api) {
    member_named(api, "jalvarez", "José Álvarez", "jose@example.com").await;
    member_named(api, "josephine", "Joséphine Baker", "jb@example.org").await;
    member_named(api, "jsmith", "John Smith", "john.smith@example.com").await;
    let robin = api.sign_up("robin", "robin-password").await;
    let _ = robin;
    let token = api.sign_in("robin", "robin-password", None).await;

    for (query, expected) in [
        ("query=jose", &["jalvarez", "josephine"][..]),
        ("query=JOSÉ", &["jalvarez", "josephine"]),
        ("query=alva", &["jalvarez"]),
        ("query=smi", &["jsmith"]),
        ("query=john%20smi", &["jsmith"]),
        ("query=smith%20jose", &[]),
        ("query=example", &["jalvarez", "josephine", "jsmith"]),
        ("query=example.com", &["jalvarez", "jsmith"]),
        ("query=josephine", &["josephine"]),
        ("query=zzz", &[]),
        ("query=ose", &[]),
    ] {
        assert_eq!(
            usernames(&search(api, &token, query).await),
            expected,
            "{query}"
        );
    }
    // No query, no paging: everyone, the admin included.
    let everyone = search(api, &token, "").await;
    assert_eq!(
        everyone.body.as_array().unwrap().len(),
        5,
        "{}",
        everyone.text
    );
    // Paged.
    let first = search(api, &token, "query=jose&page=1&limit=1").await;
    let second = search(api, &token, "query=jose&page=2&limit=1").await;
    let third = search(api, &token, "query=jose&page=3&limit=1").await;
    let mut both = usernames(&first);
    both.extend(usernames(&second));
    both.sort();
    assert_eq!(both, ["jalvarez", "josephine"]);
    assert_eq!(third.body, json!([]));

    for (query, problem) in [
        ("limit=0", "request query/limit must be >= 1"),
        ("page=abc", "request query/page must be integer"),
        (
            "page=20&limit=100",
            "request query/page times limit must be at most 1000",
        ),
    ] {
        let refused = api
            .get(&format!("/members?{query}"))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.text);
        assert_eq!(refused.body["error"]["data"][0], problem, "{query}");
    }
    assert_eq!(api.get("/members").send().await.status, 401);
}

/// What a fellow member sees: no email or phone, the profile id as `id`, the name's parts, and a status
/// that follows the member's last request; another organization's member is not there.
pub async fn a_member_sees_what_a_fellow_member_may(api: &Api) {
    let (robin, profile) = member_named(api, "robin", "Robin Hood", "robin@example.com").await;
    let (sam, _) = member_named(api, "sam", "Sam Tarly", "sam@example.com").await;
    let _ = sam;
    let token = api.sign_in("sam", "a-good-password", None).await;
    let one = api
        .get(&format!("/members/{profile}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["id"], json!(profile));
    assert_eq!(one.body["identityId"], json!(robin));
    assert_eq!(one.body["username"], "robin");
    assert_eq!(one.body["displayName"], "Robin Hood");
    assert_eq!(one.body["firstName"], "Robin");
    assert_eq!(one.body["lastName"], Value::Null);
    assert_eq!(one.body["avatarUrl"], Value::Null);
    assert_eq!(
        (one.body["status"].as_str(), one.body["lastSeenAt"].as_str()),
        (Some("offline"), None)
    );
    assert!(
        one.body.get("email").is_none() && one.body.get("phone").is_none(),
        "{}",
        one.text
    );

    // Robin's first request marks him seen: online.
    let robin_token = api.sign_in("robin", "a-good-password", None).await;
    api.get("/sessions").bearer(&robin_token).send().await;
    let seen = api
        .get(&format!("/members/{profile}/last-seen"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.body["status"], "online");
    let at = seen.body["lastSeenAt"].as_str().unwrap();
    let ago = switchboard::time::unix_now() - at.parse::<jiff::Timestamp>().unwrap().as_second();
    assert!((0..60).contains(&ago), "{ago}");

    // Another organization: its members are not found, and do not find ours.
    let (acme_admin, acme_user) = crate::identity_security::second_organization(api).await;
    for bearer in [&acme_admin, &acme_user] {
        let missing = api
            .get(&format!("/members/{profile}"))
            .bearer(bearer)
            .send()
            .await;
        assert_eq!(
            (missing.status, missing.message()),
            (404, "Member not found")
        );
        let listed = search(api, bearer, "query=robin").await;
        assert_eq!(listed.body, json!([]));
    }
    let acme = search(api, &acme_user, "query=acme").await;
    assert_eq!(usernames(&acme), ["acme-admin", "acme-user"]);
    let theirs = acme.body[0]["id"].as_str().unwrap().to_owned();
    let hidden = api
        .get(&format!("/members/{theirs}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(hidden.status, 404);
    let unknown = api
        .get("/members/nobody/last-seen")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(unknown.status, 404);
}

/// The directory follows every change: a renamed profile, a changed email and username, a deleted account.
pub async fn the_directory_follows_every_change(api: &Api) {
    let (robin, profile) = member_named(api, "robin", "Robin Hood", "robin@example.com").await;
    let admin = api.admin_token().await;
    let token = api.sign_in("robin", "a-good-password", None).await;
    let renamed = api
        .patch(&format!("/users/{profile}"))
        .bearer(&token)
        .json(json!({"name": "Robin Locksley"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(
        usernames(&search(api, &admin, "query=hood").await),
        Vec::<String>::new()
    );
    assert_eq!(
        usernames(&search(api, &admin, "query=locks").await),
        ["robin"]
    );
    let changed = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .json(json!({"email": "outlaw@sherwood.example", "username": "hood"}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        usernames(&search(api, &admin, "query=sherwood").await),
        ["hood"]
    );
    assert_eq!(
        usernames(&search(api, &admin, "query=robin").await),
        ["hood"],
        "still Robin Locksley"
    );
    assert_eq!(
        usernames(&search(api, &admin, "query=example.com").await),
        Vec::<String>::new()
    );
    let deleted = api
        .delete(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .send()
        .await;
    assert!(deleted.status < 300, "{}", deleted.text);
    assert_eq!(
        usernames(&search(api, &admin, "query=locksley").await),
        Vec::<String>::new()
    );
    // Nothing of robin's is left in the directory's partitions.
    for letter in ["h", "l", "o", "r", "s", "e"] {
        let page = api
            .app
            .store
            .query(&switchboard::store::Query::new(format!(
                "MEMBERS#default#{letter}"
            )))
            .await
            .unwrap();
        assert!(
            page.items.iter().all(|i| !i.key.sk.contains(&robin)),
            "{letter}: {:?}",
            page.items
        );
    }
}

/// A new user connected to the CRM API, its last-seen mark deleted: its `jwtToken` and the mark's key.
async fn crm_user_unseen(api: &Api, username: &str) -> (String, switchboard::store::Key) {
    let jwt = api.crm_login(&api.api_key(username).await).await;
    let user = api
        .app
        .identities
        .identity_by_username(crate::api::ORG, username)
        .await
        .unwrap()
        .unwrap();
    let mark = LastSeen::key_of(&user.id);
    api.app
        .store
        .delete(&mark, switchboard::store::Condition::Exists)
        .await
        .ok();
    (jwt, mark)
}

/// Last seen moves at most once a minute: requests in between write nothing.
pub async fn last_seen_moves_at_most_once_a_minute(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    for _ in 0..5 {
        assert_eq!(api.get("/sessions").bearer(&token).send().await.status, 200);
    }
    let key = LastSeen::key_of(&robin);
    let item = api.app.store.get(&key).await.unwrap().expect("seen");
    let seen = LastSeen::from_item(&item).unwrap();
    assert_eq!(seen.version, 1, "one write for five requests");
    // A minute later (the mark set back), the next request moves it.
    let earlier = LastSeen {
        identity_id: robin.clone(),
        at: seen.at - 61,
        version: 0,
    };
    api.app
        .store
        .transact(vec![switchboard::store::Write::Put(
            earlier.to_item().unwrap(),
            switchboard::store::Condition::Version(1),
        )])
        .await
        .unwrap();
    api.get("/sessions").bearer(&token).send().await;
    let moved = LastSeen::from_item(&api.app.store.get(&key).await.unwrap().unwrap()).unwrap();
    assert_eq!(moved.version, 3);
    assert!(moved.at >= seen.at, "{} < {}", moved.at, seen.at);

    // The CRM routes move it too (their token check reads it in the same batch).
    let (jwt, mark) = crm_user_unseen(api, "agent").await;
    let contact = api
        .get(&format!(
            "/contact?jwtToken={jwt}&phoneNumber=%2B16505559876"
        ))
        .send()
        .await;
    assert_eq!(contact.status, 200, "{}", contact.text);
    assert!(
        api.app.store.get(&mark).await.unwrap().is_some(),
        "a CRM request marks its user seen"
    );

    // So do the CRM writes, which read the mark beside their transaction.
    let (jwt, mark) = crm_user_unseen(api, "writer").await;
    let logged = api
        .post(&format!("/callLog?jwtToken={jwt}"))
        .json(
            serde_json::json!({"logInfo": {"sessionId": "seen-1", "direction": "Inbound",
            "from": {"phoneNumber": "+16505559876"}, "to": {"phoneNumber": "+16505550100"}},
            "contactId": "c1", "contactName": "Ada"}),
        )
        .send()
        .await;
    assert_eq!(logged.body["successful"], true, "{}", logged.text);
    assert!(
        api.app.store.get(&mark).await.unwrap().is_some(),
        "a CRM write marks its user seen"
    );
}
