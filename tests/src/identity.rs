//! The identity suite: the three faces (user service, accounts and sessions, server API) end to end, run
//! unchanged on each storage backend.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::api::{ADMIN, ADMIN_PASSWORD, Api, ORG, ORG_API_KEY, ORG_API_SECRET, TOKEN_SECRET};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The README walkthrough: bootstrap → admin token → create user → lock → the user's token fails.
pub async fn first_run_walkthrough(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    assert_eq!(
        api.get(&format!("/users/{profile}"))
            .bearer(&token)
            .send()
            .await
            .status,
        200
    );

    let lock = api
        .post(&format!("/identities/{robin}/lock"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!((lock.status, lock.text.as_str()), (204, ""));
    let refused = api
        .get(&format!("/users/{profile}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(
        (refused.status, refused.message()),
        (401, "This account is locked")
    );
    let sign_in = api
        .post("/sessions")
        .json(json!({"username": "robin", "password": "robin-password"}))
        .send()
        .await;
    assert_eq!(
        (sign_in.status, sign_in.message()),
        (401, "This account is locked")
    );

    assert_eq!(
        api.post(&format!("/identities/{robin}/unlock"))
            .bearer(&admin)
            .send()
            .await
            .status,
        204
    );
    assert_eq!(
        api.get(&format!("/users/{profile}"))
            .bearer(&token)
            .send()
            .await
            .status,
        200
    );
}

pub async fn usernames_are_case_insensitive(api: &Api) {
    api.sign_up("Robin", "robin-password").await;
    for spelling in ["robin", "ROBIN", "Robin", " rObIn "] {
        api.sign_in(spelling, "robin-password", None).await;
    }
    let again = api
        .post("/accounts")
        .json(json!({"username": "ROBIN", "password": "other-password"}))
        .send()
        .await;
    assert_eq!(
        (again.status, again.message()),
        (409, "An account with that username already exists")
    );
    let found = api
        .get("/accounts?username=RoBiN")
        .bearer(&api.admin_token().await)
        .send()
        .await;
    assert_eq!(found.body.as_array().unwrap().len(), 1);
    assert_eq!(found.body[0]["username"], "robin");
}

pub async fn unknown_user_and_wrong_password_look_alike(api: &Api) {
    api.sign_up("robin", "robin-password").await;
    let wrong = api
        .post("/sessions")
        .json(json!({"username": "robin", "password": "nope-nope"}))
        .send()
        .await;
    let unknown = api
        .post("/sessions")
        .json(json!({"username": "nobody", "password": "nope-nope"}))
        .send()
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!((wrong.status, &wrong.text), (unknown.status, &unknown.text));
    assert_eq!(wrong.message(), "Invalid credentials");
}

pub async fn five_failures_lock_the_identity(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    for _ in 0..5 {
        let r = api
            .post("/sessions")
            .json(json!({"username": "robin", "password": "wrong-password"}))
            .send()
            .await;
        assert_eq!((r.status, r.message()), (401, "Invalid credentials"));
    }
    let right = api
        .post("/sessions")
        .json(json!({"username": "robin", "password": "robin-password"}))
        .send()
        .await;
    assert_eq!(
        (right.status, right.message()),
        (401, "This account is locked")
    );
    // An admin unlocks it, and the count starts again.
    let admin = api.admin_token().await;
    assert_eq!(
        api.post(&format!("/identities/{robin}/unlock"))
            .bearer(&admin)
            .send()
            .await
            .status,
        204
    );
    api.sign_in("robin", "robin-password", None).await;
}

pub async fn concurrent_sign_ups_make_one_account(api: &Api) {
    let replies = join_all((0..64).map(|i| {
        api.post("/accounts")
            .json(json!({"username": if i % 2 == 0 { "Race" } else { "race" }, "password": format!("password-{i}")}))
            .send()
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 201)
            .all(|r| r.status == 409)
    );
    let all = api
        .get("/accounts?limit=100")
        .bearer(&api.admin_token().await)
        .send()
        .await;
    let races = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["username"] == "race")
        .count();
    assert_eq!(races, 1);
}

pub async fn one_time_token_opens_one_session(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "signin", "contact": "robin@example.com"}))
        .send()
        .await;
    assert_eq!(token.status, 201, "{}", token.text);
    assert_eq!(token.body["contact"], "robin@example.com");
    let secret = token.str("token");
    // Finding the account by token does not use it up.
    let found = api
        .get(&format!("/accounts?token={secret}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(found.body[0]["id"], json!(robin));

    let replies =
        join_all((0..20).map(|_| api.post("/sessions").json(json!({"token": secret})).send()))
            .await;
    let sessions = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        sessions,
        1,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.message().to_owned()))
            .collect::<Vec<_>>()
    );
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 201)
            .all(|r| r.status == 404)
    );
    let listed = api
        .get("/sessions")
        .bearer(&api.sign_in("robin", "robin-password", None).await)
        .send()
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);

    let expired = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "login", "timeout": 0}))
        .send()
        .await;
    let used = api
        .post("/sessions")
        .json(json!({"token": expired.str("token")}))
        .send()
        .await;
    assert_eq!((used.status, used.message()), (404, "Token expired"));
    let bad_type = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "Bad Type"}))
        .send()
        .await;
    assert_eq!(bad_type.status, 400);
}

pub async fn concurrent_profile_updates_lose_nothing(api: &Api) {
    let (_, profile) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let before = api
        .app
        .identities
        .profile(&profile)
        .await
        .unwrap()
        .unwrap()
        .version;
    let replies = join_all((0..64).map(|i| {
        api.patch(&format!("/users/{profile}"))
            .bearer(&token)
            .json(json!({"name": format!("name-{i}")}))
            .send()
    }))
    .await;
    let applied = replies.iter().filter(|r| r.status == 200).count() as u64;
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let after = api.app.identities.profile(&profile).await.unwrap().unwrap();
    // Every accepted update was applied on top of the one before: none was silently overwritten.
    assert_eq!(after.version, before + applied);
    let last = replies
        .iter()
        .filter(|r| r.status == 200)
        .max_by_key(|r| r.body["updatedAt"].as_str().unwrap().to_owned());
    assert!(last.is_some());
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

pub async fn token_attacks_are_refused(api: &Api) {
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let good = api.sign_in("robin", "robin-password", None).await;
    let uri = format!("/users/{profile}");
    assert_eq!(api.get(&uri).bearer(&good).send().await.status, 200);
    let parts: Vec<&str> = good.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let mut attacks: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        attacks.push((format!("alg {alg}"), format!("{header}.{}.", parts[1])));
        attacks.push((
            format!("alg {alg} with signature"),
            format!("{header}.{}.{}", parts[1], parts[2]),
        ));
    }
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let forged = jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(TOKEN_SECRET.as_bytes()),
        )
        .unwrap();
        attacks.push((format!("{alg:?} with the right key"), forged));
    }
    let rs256 = b64(&json!({"alg": "RS256", "typ": "JWT"}));
    attacks.push((
        "RS256 header".into(),
        format!("{rs256}.{}.{}", parts[1], parts[2]),
    ));
    attacks.push((
        "empty signature".into(),
        format!("{}.{}.", parts[0], parts[1]),
    ));
    let sign = |claims: &Value, key: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    attacks.push((
        "wrong key".into(),
        sign(&claims, "another-secret-0123456789abcdef0123456789"),
    ));
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 120);
    attacks.push(("expired".into(), sign(&expired, TOKEN_SECRET)));
    for missing in ["exp", "sub", "sid", "iss", "aud"] {
        let mut partial = claims.clone();
        partial.as_object_mut().unwrap().remove(missing);
        attacks.push((format!("missing {missing}"), sign(&partial, TOKEN_SECRET)));
    }
    let mut foreign = claims.clone();
    foreign["aud"] = json!("someone-else");
    attacks.push(("other audience".into(), sign(&foreign, TOKEN_SECRET)));
    let mut swapped = claims.clone();
    swapped["sub"] = json!("01a1fc99-0000-7000-8000-000000000000");
    attacks.push((
        "session of another identity".into(),
        sign(&swapped, TOKEN_SECRET),
    ));
    attacks.push(("garbage".into(), "not-a-token".into()));
    for (name, token) in &attacks {
        let reply = api.get(&uri).bearer(token).send().await;
        assert_eq!(
            (reply.status, reply.message()),
            (401, "token could not be verified"),
            "{name}"
        );
    }
    assert_eq!(
        api.get(&uri).send().await.message(),
        "token could not be verified"
    );

    // After logout, and once the identity is gone, the same good token fails.
    let other = api.sign_in("robin", "robin-password", None).await;
    assert_eq!(
        api.delete("/sessions").bearer(&good).send().await.status,
        200
    );
    assert_eq!(api.get(&uri).bearer(&good).send().await.status, 401);
    assert_eq!(
        api.get(&uri).bearer(&other).send().await.status,
        401,
        "logout everywhere ends every session"
    );
    let fresh = api.sign_in("robin", "robin-password", None).await;
    let admin = api.admin_token().await;
    assert_eq!(
        api.delete(&format!("/accounts/{robin}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        200
    );
    assert_eq!(api.get("/sessions").bearer(&fresh).send().await.status, 401);
}

pub async fn fingerprint_binds_the_token(api: &Api) {
    let (_, profile) = api.sign_up("robin", "robin-password").await;
    let token = api
        .sign_in("robin", "robin-password", Some("device-1"))
        .await;
    let uri = format!("/users/{profile}");
    assert_eq!(
        api.get(&uri)
            .bearer(&token)
            .header("x-nb-fingerprint", "device-1")
            .send()
            .await
            .status,
        200
    );
    for fingerprint in [None, Some("device-2"), Some("")] {
        let mut call = api.get(&uri).bearer(&token);
        if let Some(fp) = fingerprint {
            call = call.header("x-nb-fingerprint", fp);
        }
        let reply = call.send().await;
        assert_eq!(
            (reply.status, reply.message()),
            (401, "Token fails security check"),
            "{fingerprint:?}"
        );
    }
}

/// Seed 003's error table, message for message.
pub async fn seed_error_table(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let missing = "01a1fc99-0000-7000-8000-000000000000";

    // (method, uri, body, bearer, status, message)
    type Case<'a> = (&'a str, String, Option<Value>, &'a str, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/users".into(),
            Some(json!({"extra": true})),
            &admin,
            400,
            "Validation Error",
        ),
        (
            "POST",
            "/users".into(),
            Some(json!({"identityId": robin, "name": "x"})),
            "",
            401,
            "token could not be verified",
        ),
        (
            "GET",
            format!("/users/{missing}"),
            None,
            &admin,
            404,
            "User profile not found",
        ),
        (
            "PATCH",
            format!("/users/{missing}"),
            Some(json!({"name": "x"})),
            &admin,
            404,
            "User profile not found",
        ),
        (
            "PATCH",
            format!("/users/{profile}"),
            Some(json!({})),
            &token,
            400,
            "Request body is required",
        ),
        (
            "PATCH",
            format!("/users/{profile}"),
            None,
            &token,
            400,
            "Request body is required",
        ),
        (
            "PATCH",
            format!("/users/{profile}"),
            Some(json!({"status": "inactive"})),
            &token,
            400,
            "Validation Error",
        ),
        (
            "DELETE",
            format!("/users/{missing}"),
            None,
            &admin,
            404,
            "User not found",
        ),
        (
            "POST",
            format!("/identities/{missing}/lock"),
            None,
            &admin,
            404,
            "User not found",
        ),
        (
            "POST",
            format!("/identities/{missing}/unlock"),
            None,
            &admin,
            404,
            "User not found",
        ),
        (
            "GET",
            "/users".into(),
            None,
            &token,
            403,
            "User is not authorized to access this resource",
        ),
        (
            "POST",
            format!("/identities/{robin}/lock"),
            None,
            &token,
            403,
            "User is not authorized to access this resource",
        ),
        (
            "GET",
            "/users?limit=51".into(),
            None,
            &admin,
            400,
            "Validation Error",
        ),
        (
            "GET",
            "/users?page=0".into(),
            None,
            &admin,
            400,
            "Validation Error",
        ),
    ];
    for (method, uri, body, bearer, status, message) in cases {
        let mut call = api.call(method, &uri);
        if !bearer.is_empty() {
            call = call.bearer(bearer);
        }
        if let Some(body) = body {
            call = call.json(body);
        }
        let reply = call.send().await;
        assert_eq!(
            (reply.status, reply.message()),
            (status, message),
            "{method} {uri}: {}",
            reply.text
        );
        assert!(
            reply.body["error"].is_object(),
            "{method} {uri}: envelope {}",
            reply.text
        );
    }
    let invalid = api
        .post("/users")
        .bearer(&admin)
        .json(json!({"extra": true}))
        .send()
        .await;
    assert_eq!(
        invalid.body["error"]["data"],
        json!([
            "request body must have required property 'identityId'",
            "request body must have required property 'name'",
            "request body must NOT have additional properties"
        ])
    );
    // Nothing was changed by the refused requests.
    let after = api
        .get(&format!("/users/{profile}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(after.body["name"], "robin");
}

pub async fn user_service_crud(api: &Api) {
    let admin = api.admin_token().await;
    let created = api
        .post("/accounts")
        .json(json!({"username": "pat", "password": "pat-password"}))
        .send()
        .await;
    let pat = created.str("id");
    let token = api.sign_in("pat", "pat-password", None).await;
    let user = api
        .post("/users")
        .bearer(&token)
        .json(json!({"identityId": pat, "name": "John Doe"}))
        .send()
        .await;
    assert_eq!(user.status, 200, "{}", user.text);
    assert_eq!(user.body["identityId"], json!(pat));
    assert_eq!(user.body["avatar"], Value::Null);
    let id = user.str("id");
    let twice = api
        .post("/users")
        .bearer(&token)
        .json(json!({"identityId": pat, "name": "Again"}))
        .send()
        .await;
    assert_eq!(twice.status, 409);

    // An avatar is only ever an upload Switchboard checked (tests/src/avatar.rs): a client cannot write one.
    let refused = api
        .patch(&format!("/users/{id}"))
        .bearer(&token)
        .json(json!({"avatar": {"url": "https://cdn.example.com/a.png", "objectId": "a1"}}))
        .send()
        .await;
    assert_eq!(
        (refused.status, refused.message()),
        (400, "Validation Error")
    );
    assert_eq!(
        refused.body["error"]["data"],
        json!(["request body/avatar/objectId was not issued for this profile"])
    );
    let unchanged = api.get(&format!("/users/{id}")).bearer(&token).send().await;
    assert_eq!(unchanged.body["avatar"], Value::Null);
    assert_eq!(unchanged.body["name"], "John Doe");

    for i in 0..3 {
        let (_, _) = api.sign_up(&format!("user{i}"), "some-password").await;
    }
    let page = api.get("/users?limit=2&page=2").bearer(&admin).send().await;
    assert_eq!(page.body.as_array().unwrap().len(), 2, "{}", page.text);
    let by_name = api
        .get("/users?name=John%20Doe")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        by_name
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].clone())
            .collect::<Vec<_>>(),
        vec![json!(id)]
    );
    // Other keys are exact filters on stored fields; a key that cannot name one is refused.
    let unknown_filter = api.get("/users?status=active").bearer(&admin).send().await;
    assert_eq!(
        (unknown_filter.status, &unknown_filter.body),
        (200, &json!([]))
    );
    let bad_key = api.get("/users?a-b=1").bearer(&admin).send().await;
    assert_eq!(bad_key.status, 400);

    let deleted = api
        .delete(&format!("/users/{id}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert_eq!(
        api.get(&format!("/users/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        404
    );
    // The identity may create a profile again once the old one is gone.
    let again = api
        .post("/users")
        .bearer(&token)
        .json(json!({"identityId": pat, "name": "New"}))
        .send()
        .await;
    assert_eq!(again.status, 200);
}

/// Every route × {admin, owner, other regular user, guest, no token, bad fingerprint}.
pub async fn authorization_matrix(api: &Api) {
    let admin = api.admin_token().await;
    let (owner, owner_profile) = api.sign_up("owner", "owner-password").await;
    let (_, _) = api.sign_up("other", "other-password").await;
    // Locked and unlocked by the matrix, so that the principals above stay usable.
    let (target, _) = api.sign_up("target", "target-password").await;
    let guest = api
        .post("/accounts")
        .bearer(&admin)
        .json(json!({"username": "guest", "password": "guest-password", "type": "000", "profile": {"name": "g"}}))
        .send()
        .await;
    assert_eq!(guest.status, 201, "{}", guest.text);
    let tokens = [
        ("admin", Some(admin.clone()), None),
        (
            "owner",
            Some(api.sign_in("owner", "owner-password", None).await),
            None,
        ),
        (
            "other",
            Some(api.sign_in("other", "other-password", None).await),
            None,
        ),
        (
            "guest",
            Some(api.sign_in("guest", "guest-password", None).await),
            None,
        ),
        ("none", None, None),
        (
            "bad fingerprint",
            Some(
                api.sign_in("owner", "owner-password", Some("device-1"))
                    .await,
            ),
            Some("device-2"),
        ),
    ];
    let p = &owner_profile;
    let o = &owner;
    let owner_token = tokens[1].1.clone().unwrap();
    let account_token = api
        .post(&format!("/accounts/{o}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "invite"}))
        .send()
        .await;
    let t = account_token.str("id");
    let owner_session = api
        .post("/sessions")
        .json(json!({"username": "owner", "password": "owner-password"}))
        .send()
        .await;
    let s = owner_session.str("id");
    let key = api
        .post("/users/me/api-keys")
        .bearer(&owner_token)
        .json(json!({}))
        .send()
        .await
        .str("id");
    // (method, uri, body, expected statuses for admin, owner, other, guest, none, bad fingerprint)
    let rows: Vec<(&str, String, Option<Value>, [u16; 6])> = vec![
        (
            "GET",
            format!("/users/{p}"),
            None,
            [200, 200, 403, 403, 401, 401],
        ),
        (
            "PATCH",
            format!("/users/{p}"),
            Some(json!({"name": "n"})),
            // The owner passes the check; its update repeats the admin's, so changes nothing (seed: 400).
            [200, 400, 403, 403, 401, 401],
        ),
        ("GET", "/users".into(), None, [200, 403, 403, 403, 401, 401]),
        (
            "POST",
            "/users".into(),
            Some(json!({"identityId": o, "name": "n"})),
            [409, 409, 403, 403, 401, 401],
        ),
        (
            "POST",
            format!("/identities/{target}/lock"),
            None,
            [204, 403, 403, 403, 401, 401],
        ),
        (
            "POST",
            format!("/identities/{target}/unlock"),
            None,
            [204, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            "/users/me/api-keys".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        (
            "POST",
            "/users/me/api-keys".into(),
            Some(json!({})),
            [201, 201, 201, 403, 401, 401],
        ),
        (
            "GET",
            format!("/accounts/{o}"),
            None,
            [200, 200, 403, 403, 401, 401],
        ),
        (
            "GET",
            "/accounts".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "PATCH",
            format!("/accounts/{o}"),
            Some(json!({"phone": "+16505550100"})),
            [200, 200, 403, 403, 401, 401],
        ),
        (
            "GET",
            format!("/accounts/{o}/roles"),
            None,
            [200, 200, 403, 403, 401, 401],
        ),
        (
            "PUT",
            format!("/accounts/{o}/roles/editor"),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            format!("/accounts/{o}/profile"),
            None,
            [200, 200, 403, 403, 401, 401],
        ),
        (
            "PATCH",
            format!("/accounts/{o}/profile"),
            Some(json!({"city": "Berlin"})),
            [200, 200, 403, 403, 401, 401],
        ),
        (
            "POST",
            format!("/accounts/{o}/tokens"),
            Some(json!({"type": "invite"})),
            [201, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            format!("/accounts/{o}/tokens"),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            "/sessions".into(),
            None,
            [200, 200, 200, 200, 401, 401],
        ),
        (
            "GET",
            "/sessions?all=true".into(),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "GET",
            format!("/sessions/{s}"),
            None,
            [200, 200, 404, 404, 401, 401],
        ),
        (
            "GET",
            format!("/accounts/{o}/tokens/{t}"),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        (
            "DELETE",
            format!("/accounts/{o}/roles/editor"),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        // Only the owner sees its own keys: anyone else learns nothing (404).
        (
            "DELETE",
            format!("/users/me/api-keys/{key}"),
            None,
            [404, 204, 404, 404, 401, 401],
        ),
        (
            "DELETE",
            format!("/accounts/{o}/tokens/{t}"),
            None,
            [200, 403, 403, 403, 401, 401],
        ),
        // The admin ends the owner's session; after that it is gone for everyone.
        (
            "DELETE",
            format!("/sessions/{s}"),
            None,
            [200, 404, 404, 404, 401, 401],
        ),
    ];
    for (method, uri, body, expected) in rows {
        for ((who, token, fingerprint), want) in tokens.iter().zip(expected) {
            let mut call = api.call(method, &uri);
            if let Some(token) = token {
                call = call.bearer(token);
            }
            if let Some(fp) = fingerprint {
                call = call.header("x-nb-fingerprint", fp);
            }
            if let Some(body) = &body {
                call = call.json(body.clone());
            }
            let reply = call.send().await;
            assert_eq!(
                reply.status, want,
                "{method} {uri} as {who}: {}",
                reply.text
            );
        }
    }
    // Destructive routes last, as the owner and then as others.
    let other_token = &tokens[2].1.clone().unwrap();
    assert_eq!(
        api.delete(&format!("/users/{p}"))
            .bearer(other_token)
            .send()
            .await
            .status,
        403
    );
    assert_eq!(
        api.delete(&format!("/accounts/{o}"))
            .bearer(other_token)
            .send()
            .await
            .status,
        403
    );
    assert_eq!(
        api.delete(&format!("/users/{p}"))
            .bearer(tokens[1].1.as_ref().unwrap())
            .send()
            .await
            .status,
        204
    );
    assert_eq!(
        api.delete(&format!("/accounts/{o}")).send().await.status,
        401
    );
    assert_eq!(
        api.delete(&format!("/accounts/{o}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        200
    );
}

pub async fn sessions_are_stored_listed_and_revocable(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let signed = api
        .post("/sessions")
        .header("user-agent", "phone/1.0")
        .json(json!({"username": "robin", "password": "robin-password"}))
        .send()
        .await;
    assert_eq!(signed.status, 201);
    for field in ["id", "accessToken", "refreshToken", "expiresAt"] {
        assert!(signed.body[field].is_string(), "{field}: {}", signed.text);
    }
    assert_eq!(signed.body["account"]["id"], json!(robin));
    let first = signed.str("accessToken");
    let second = api.sign_in("robin", "robin-password", None).await;
    let listed = api.get("/sessions").bearer(&first).send().await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["userAgent"] == "phone/1.0")
    );

    let refreshed = api
        .post("/sessions/refresh")
        .json(json!({"refreshToken": signed.str("refreshToken")}))
        .send()
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let renewed = refreshed.str("accessToken");
    assert_eq!(
        api.get("/sessions").bearer(&renewed).send().await.status,
        200
    );
    let bogus = api
        .post("/sessions/refresh")
        .json(json!({"refreshToken": "sb_rt_forged"}))
        .send()
        .await;
    assert_eq!(bogus.status, 401);

    // Removing one session ends its tokens only.
    let removed = api
        .delete(&format!("/sessions/{}", signed.str("id")))
        .bearer(&second)
        .send()
        .await;
    assert_eq!(removed.status, 200);
    assert_eq!(api.get("/sessions").bearer(&first).send().await.status, 401);
    assert_eq!(
        api.get("/sessions").bearer(&renewed).send().await.status,
        401
    );
    assert_eq!(
        api.get("/sessions").bearer(&second).send().await.status,
        200
    );
    let gone = api
        .get(&format!("/sessions/{}", signed.str("id")))
        .bearer(&second)
        .send()
        .await;
    assert_eq!((gone.status, gone.message()), (404, "Session invalid"));

    // A password change ends the other sessions, keeps the caller's.
    let third = api.sign_in("robin", "robin-password", None).await;
    let changed = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&second)
        .json(json!({"password": "a-new-password", "currentPassword": "robin-password"}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        api.get("/sessions").bearer(&second).send().await.status,
        200
    );
    assert_eq!(api.get("/sessions").bearer(&third).send().await.status, 401);
    api.sign_in("robin", "a-new-password", None).await;
    let old = api
        .post("/sessions")
        .json(json!({"username": "robin", "password": "robin-password"}))
        .send()
        .await;
    assert_eq!(old.status, 401);
}

pub async fn password_reset_with_a_one_time_token(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "passwordreset"}))
        .send()
        .await;
    let secret = token.str("token");
    let reset = api
        .patch(&format!("/accounts/{robin}"))
        .json(json!({"token": secret, "password": "reset-password"}))
        .send()
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    api.sign_in("robin", "reset-password", None).await;
    let replay = api
        .patch(&format!("/accounts/{robin}"))
        .json(json!({"token": secret, "password": "evil-password"}))
        .send()
        .await;
    assert_eq!(replay.status, 404);
}

pub async fn accounts_tokens_roles_and_profile(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    for name in ["a1", "a2", "a3"] {
        api.sign_up(name, "some-password").await;
    }
    // find all: pages by cursor, with profiles, in either order.
    let first = api
        .get("/accounts?limit=2&include=profile")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(first.body.as_array().unwrap().len(), 2);
    assert!(first.body[0]["profile"].is_object());
    let cursor = first.headers["x-next-cursor"].to_str().unwrap().to_owned();
    let mut seen: Vec<Value> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        let page = api
            .get(&format!("/accounts?limit=2&cursor={cursor}"))
            .bearer(&admin)
            .send()
            .await;
        seen.extend(
            page.body
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].clone()),
        );
        next = page
            .headers
            .get("x-next-cursor")
            .map(|c| c.to_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 5);
    let newest = api
        .get("/accounts?sort=-createdAt&limit=1")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(newest.body[0]["username"], "a3");
    assert_eq!(
        api.get("/accounts?cursor=forged")
            .bearer(&admin)
            .send()
            .await
            .status,
        400
    );
    // An empty cursor is never one a listing issued.
    for listing in ["/accounts", "/sessions?all=true", "/requests"] {
        let sep = if listing.contains('?') { '&' } else { '?' };
        let reply = api
            .get(&format!("{listing}{sep}cursor="))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body["error"]["message"].as_str()),
            (400, Some("Invalid pagination cursor")),
            "{listing}: {}",
            reply.text
        );
    }

    // Tokens: add, find, find all, remove.
    let token = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "invite"}))
        .send()
        .await;
    let id = token.str("id");
    let found = api
        .get(&format!("/accounts/{robin}/tokens/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        (found.status, found.body["type"].clone()),
        (200, json!("invite"))
    );
    assert!(
        found.body.get("token").is_none(),
        "the secret is shown only once"
    );
    assert_eq!(
        api.get(&format!("/accounts/{robin}/tokens"))
            .bearer(&admin)
            .send()
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.delete(&format!("/accounts/{robin}/tokens/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        200
    );
    assert_eq!(
        api.get(&format!("/accounts/{robin}/tokens/{id}"))
            .bearer(&admin)
            .send()
            .await
            .status,
        404
    );
    let used = api
        .post("/sessions")
        .json(json!({"token": token.str("token")}))
        .send()
        .await;
    assert_eq!(used.status, 404);

    // Roles: add (idempotent), find all, remove.
    for _ in 0..2 {
        let added = api
            .call("PUT", &format!("/accounts/{robin}/roles/mycustomrole"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(
            (added.status, added.body.clone()),
            (200, json!("mycustomrole"))
        );
    }
    let roles = api
        .get(&format!("/accounts/{robin}/roles"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(roles.body, json!(["mycustomrole"]));
    assert_eq!(
        api.delete(&format!("/accounts/{robin}/roles/mycustomrole"))
            .bearer(&admin)
            .send()
            .await
            .status,
        200
    );
    assert_eq!(
        api.delete(&format!("/accounts/{robin}/roles/mycustomrole"))
            .bearer(&admin)
            .send()
            .await
            .status,
        404
    );
    assert_eq!(
        api.call("PUT", &format!("/accounts/{robin}/roles/Bad%20Role"))
            .bearer(&admin)
            .send()
            .await
            .status,
        400
    );

    // Profile: free-form properties merged, null removes.
    let token = api.sign_in("robin", "robin-password", None).await;
    let updated = api
        .patch(&format!("/accounts/{robin}/profile"))
        .bearer(&token)
        .json(json!({"fullname": "Dr Pat Hook", "address": {"city": "Berlin"}}))
        .send()
        .await;
    assert_eq!(updated.body["address"]["city"], "Berlin");
    api.patch(&format!("/accounts/{robin}/profile"))
        .bearer(&token)
        .json(json!({"address": null}))
        .send()
        .await;
    let profile = api
        .get(&format!("/accounts/{robin}/profile"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(profile.body["fullname"], "Dr Pat Hook");
    assert!(profile.body.get("address").is_none());
    let account = api
        .get(&format!("/accounts/{robin}?include=profile"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(account.body["profile"]["fullname"], "Dr Pat Hook");
}

pub async fn personal_api_keys(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let created = api
        .post("/users/me/api-keys")
        .bearer(&token)
        .json(json!({"name": "CRM"}))
        .send()
        .await;
    assert_eq!(created.status, 201);
    let key = created.str("key");
    let id = created.str("id");
    let identity = api
        .app
        .identities
        .identity_for_api_key(&key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.id, robin);
    let listed = api.get("/users/me/api-keys").bearer(&token).send().await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(
        !listed.text.contains(&key),
        "a key is shown only when created"
    );
    let other = api.sign_up("other", "other-password").await;
    let other_token = api.sign_in("other", "other-password", None).await;
    assert_eq!(
        api.delete(&format!("/users/me/api-keys/{id}"))
            .bearer(&other_token)
            .send()
            .await
            .status,
        404,
        "{other:?}"
    );
    assert_eq!(
        api.delete(&format!("/users/me/api-keys/{id}"))
            .bearer(&token)
            .send()
            .await
            .status,
        204
    );
    assert!(
        api.app
            .identities
            .identity_for_api_key(&key)
            .await
            .unwrap()
            .is_none()
    );
}

/// What the ContactsManager SDKs sign: Node's claims and Python's.
pub fn sdk_token(user_id: &str, python: bool, secret: &str, exp_in: i64) -> String {
    organization_sdk_token((ORG, ORG_API_KEY), user_id, python, secret, exp_in)
}

/// [`sdk_token`] of the organization `(id, api key)`.
pub(crate) fn organization_sdk_token(
    (org, api_key): (&str, &str),
    user_id: &str,
    python: bool,
    secret: &str,
    exp_in: i64,
) -> String {
    let now = now();
    let mut claims = json!({
        "user_id": user_id, "api_key": api_key, "org_id": org,
        "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + exp_in,
    });
    if python {
        claims["device_info"] = json!({"deviceType": "server"});
        claims["iss"] = json!(org);
    } else {
        claims["device"] = json!({"deviceType": "server"});
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub async fn server_api_for_the_sdks(api: &Api) {
    let body = json!({
        "expiry_seconds": 3600,
        "user_info": {"userId": "user123", "fullName": "John Doe", "email": "john@example.com", "metadata": {"role": "admin"}},
        "device_info": {"deviceType": "mobile"}
    });
    let created = api
        .post("/api/v1/server/users/user123")
        .bearer(&sdk_token("user123", false, ORG_API_SECRET, 300))
        .json(body.clone())
        .send()
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["status"], "success");
    let data = &created.body["data"];
    assert_eq!(data["created"], true);
    assert_eq!(data["user"]["organization_user_id"], "user123");
    assert_eq!(data["user"]["full_name"], "John Doe");
    assert_eq!(data["user"]["contact_metadata"]["role"], "admin");
    let expires_at = data["token"]["expires_at"].as_i64().unwrap();
    assert!((expires_at - now() - 3600).abs() < 10);
    let user_token = data["token"]["token"].as_str().unwrap().to_owned();

    // The token it returns is accepted by the user-facing routes, for that user.
    let sessions = api.get("/sessions").bearer(&user_token).send().await;
    assert_eq!(sessions.status, 200, "{}", sessions.text);
    let account = api
        .get(&format!(
            "/accounts/{}",
            data["user"]["id"].as_str().unwrap()
        ))
        .bearer(&user_token)
        .send()
        .await;
    assert_eq!(account.body["externalId"], "user123");

    // Again (Python SDK claims): an update, not a second user.
    let mut renamed = body.clone();
    renamed["user_info"]["fullName"] = json!("John Q. Doe");
    let updated = api
        .post("/api/v1/server/users/user123")
        .bearer(&sdk_token("user123", true, ORG_API_SECRET, 300))
        .json(renamed)
        .send()
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["data"]["created"], false);
    assert_eq!(updated.body["data"]["user"]["id"], data["user"]["id"]);
    assert_eq!(updated.body["data"]["user"]["full_name"], "John Q. Doe");

    for (name, token, status) in [
        (
            "wrong secret",
            sdk_token("user123", false, "not-the-org-secret-0123456789abcdef", 300),
            401,
        ),
        (
            "expired",
            sdk_token("user123", false, ORG_API_SECRET, -120),
            401,
        ),
        (
            "other user",
            sdk_token("someone-else", false, ORG_API_SECRET, 300),
            403,
        ),
    ] {
        let reply = api
            .post("/api/v1/server/users/user123")
            .bearer(&token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text);
        assert!(reply.body["detail"].is_string(), "{name}: {}", reply.text);
    }
    let unsigned = api
        .post("/api/v1/server/users/user123")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(unsigned.status, 401);

    let valid = api
        .post("/api/v1/client/validate-key")
        .json(json!({"api_key": ORG_API_KEY}))
        .send()
        .await;
    assert_eq!(
        (valid.status, valid.body["data"]["valid"].clone()),
        (200, json!(true))
    );
    let invalid = api
        .post("/api/v1/client/validate-key")
        .json(json!({"api_key": "nope"}))
        .send()
        .await;
    assert_eq!(
        (invalid.status, invalid.text.as_str()),
        (401, r#"{"detail":"Invalid API key"}"#)
    );

    let deleted = api
        .delete("/api/v1/server/users/user123")
        .bearer(&sdk_token("user123", false, ORG_API_SECRET, 300))
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(
        deleted.body["data"]["deleted_contact_id"],
        data["user"]["id"]
    );
    assert_eq!(
        api.get("/sessions").bearer(&user_token).send().await.status,
        401
    );
    let again = api
        .delete("/api/v1/server/users/user123")
        .bearer(&sdk_token("user123", false, ORG_API_SECRET, 300))
        .send()
        .await;
    assert_eq!((again.status, again.message()), (404, "User not found"));
}

pub async fn bootstrap_is_idempotent(api: &Api) {
    use switchboard::identity::bootstrap::Bootstrap;
    let settings = Bootstrap {
        organization_id: ORG.into(),
        api_key: ORG_API_KEY.into(),
        api_secret: ORG_API_SECRET.into(),
        admin_username: ADMIN.into(),
        admin_password: ADMIN_PASSWORD.into(),
    };
    let reports = join_all((0..8).map(|_| api.app.identities.bootstrap(&settings))).await;
    assert!(reports.iter().all(|r| {
        r.as_ref()
            .is_ok_and(|r| !r.admin_created && !r.organization_created)
    }));
    let admin = api.admin_token().await;
    let admins = api
        .get(&format!("/accounts?username={ADMIN}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(admins.body.as_array().unwrap().len(), 1);
    assert_eq!(admins.body[0]["type"], "100");
}

pub async fn admins_stay_in_their_organization(api: &Api) {
    use switchboard::identity::NewIdentity;
    let ids = &api.app.identities;
    ids.ensure_organization(
        "acme",
        "Acme",
        "acme-key",
        "acme-secret-0123456789abcdef0123456789",
    )
    .await
    .unwrap();
    ids.create_identity(NewIdentity {
        organization_id: "acme".into(),
        username: "acme-admin".into(),
        password: Some("acme-password".into()),
        type_id: "100".into(),
        ..NewIdentity::default()
    })
    .await
    .unwrap();
    let foreign = api
        .post("/sessions")
        .json(json!({"username": "acme-admin", "password": "acme-password", "organizationId": "acme"}))
        .send()
        .await;
    assert_eq!(foreign.status, 201, "{}", foreign.text);
    let foreign = foreign.str("accessToken");
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    for (method, uri) in [
        ("GET", format!("/users/{profile}")),
        ("GET", format!("/accounts/{robin}")),
        ("POST", format!("/identities/{robin}/lock")),
        ("DELETE", format!("/accounts/{robin}")),
        ("PUT", format!("/accounts/{robin}/roles/spy")),
    ] {
        let reply = api.call(method, &uri).bearer(&foreign).send().await;
        assert!(
            matches!(reply.status, 403 | 404),
            "{method} {uri}: {} {}",
            reply.status,
            reply.text
        );
    }
    let listed = api.get("/users").bearer(&foreign).send().await;
    assert_eq!(listed.body, json!([]));
    // Robin is untouched.
    api.sign_in("robin", "robin-password", None).await;
}

pub async fn guests_read_but_do_not_write(api: &Api) {
    let admin = api.admin_token().await;
    let guest = api
        .post("/accounts")
        .bearer(&admin)
        .json(json!({"username": "guest", "password": "guest-password", "type": "000"}))
        .send()
        .await;
    let id = guest.str("id");
    let token = api.sign_in("guest", "guest-password", None).await;
    assert_eq!(
        api.get(&format!("/accounts/{id}"))
            .bearer(&token)
            .send()
            .await
            .status,
        200
    );
    for (method, uri, body) in [
        ("PATCH", format!("/accounts/{id}"), json!({"phone": "+1"})),
        ("DELETE", format!("/accounts/{id}"), json!({})),
        (
            "PATCH",
            format!("/accounts/{id}/profile"),
            json!({"city": "x"}),
        ),
        ("POST", "/users/me/api-keys".to_owned(), json!({})),
    ] {
        let reply = api
            .call(method, &uri)
            .bearer(&token)
            .json(body)
            .send()
            .await;
        assert_eq!(reply.status, 403, "{method} {uri}: {}", reply.text);
    }
}

/// `GET /users/me` answers the caller's own user (antz's `getMe`), not a profile named "me"; a caller
/// without a profile gets 404, and no token 401.
pub async fn get_me_answers_the_callers_own_user(api: &Api) {
    let (_, profile) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let me = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(me.status, 200, "{}", me.text);
    let by_id = api
        .get(&format!("/users/{profile}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(me.body, by_id.body);
    assert_eq!(me.body["id"], profile.as_str());
    let bare = api
        .post("/accounts")
        .json(json!({"username": "bare", "password": "bare-password"}))
        .send()
        .await;
    assert_eq!(bare.status, 201, "{}", bare.text);
    let bare = api.sign_in("bare", "bare-password", None).await;
    let none = api.get("/users/me").bearer(&bare).send().await;
    assert_eq!(
        (none.status, none.message()),
        (404, "User profile not found")
    );
    assert_eq!(api.get("/users/me").send().await.status, 401);
}
pub async fn refused_updates_keep_the_token(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "passwordreset"}))
        .send()
        .await;
    let secret = token.str("token");
    for body in [
        json!({"token": secret, "password": "short"}),
        json!({"token": secret, "type": "100"}),
        json!({"token": secret, "username": "  "}),
    ] {
        let reply = api
            .patch(&format!("/accounts/{robin}"))
            .json(body.clone())
            .send()
            .await;
        assert!(matches!(reply.status, 400 | 403), "{body}: {}", reply.text);
    }
    let reset = api
        .patch(&format!("/accounts/{robin}"))
        .json(json!({"token": secret, "password": "long-enough-now"}))
        .send()
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
}

pub async fn path_ids_are_percent_decoded(api: &Api) {
    let uid = "user 42/é";
    let encoded = "user%2042%2F%C3%A9";
    let body = json!({"user_info": {"userId": uid, "fullName": "Spacey"}});
    let created = api
        .post(&format!("/api/v1/server/users/{encoded}"))
        .bearer(&sdk_token(uid, false, ORG_API_SECRET, 300))
        .json(body)
        .send()
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.body["data"]["created"], true);
    assert_eq!(created.body["data"]["user"]["organization_user_id"], uid);
}
