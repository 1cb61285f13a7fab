//! Identity security (issue 11): lockout that cannot be raced, read or abused, tenants that cannot see
//! each other, server-API users in their own namespace. Each case reproduces an attack, on both backends.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use switchboard::identity::bootstrap::Bootstrap;

use crate::api::{ADMIN, ADMIN_PASSWORD, Api, LOCKOUT_SECONDS, ORG, ORG_API_KEY, ORG_API_SECRET};
use crate::identity::{organization_sdk_token, sdk_token};

const LOCKED: &str = "This account is locked";
const INVALID: &str = "Invalid credentials";

async fn guess(api: &Api, username: &str, password: &str) -> crate::api::Reply {
    api.post("/sessions")
        .json(json!({"username": username, "password": password}))
        .send()
        .await
}

async fn lock_by_guessing(api: &Api, username: &str) {
    for _ in 0..5 {
        let reply = guess(api, username, "wrong-password").await;
        assert_eq!((reply.status, reply.message()), (401, INVALID));
    }
}

/// Item 1: 100 concurrent guesses, the right password last. Every attempt is recorded before its password
/// is verified, so at most five are verified, and the burst answers 401 only (never 409).
pub async fn parallel_guesses_cannot_pass_the_lockout(api: &Api) {
    // A lockout that outlasts the burst (the tests' own would end during it and let five more in).
    let api = &api.reconfigured(|config| config.lockout.seconds = 3600);
    api.sign_up("robin", "robin-password").await;
    let replies = join_all((0..100).map(|i| {
        let password = if i == 99 {
            "robin-password".to_owned()
        } else {
            format!("wrong-{i}")
        };
        async move { guess(api, "robin", &password).await }
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        replies.iter().all(|r| r.status == 401 || r.status == 201),
        "{statuses:?}"
    );
    // A verified password answers "Invalid credentials" (wrong) or a session (right); a refused one
    // answers "This account is locked" without being verified.
    let verified = replies
        .iter()
        .filter(|r| r.status == 201 || r.message() == INVALID)
        .count();
    eprintln!("item 1: {verified} of 100 concurrent guesses were verified");
    assert!(verified <= 5, "{verified} guesses verified: {statuses:?}");
    assert!(
        replies
            .iter()
            .all(|r| r.status == 201 || [INVALID, LOCKED].contains(&r.message()))
    );
    if !statuses.contains(&201) {
        let right = guess(api, "robin", "robin-password").await;
        assert_eq!((right.status, right.message()), (401, LOCKED));
    }
}

/// Item 2: once locked, the right and a wrong password get the same answer, as slowly as any refusal
/// (the dummy hash runs, never the real one).
pub async fn a_locked_account_is_no_password_oracle(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    lock_by_guessing(api, "robin").await;
    let right = guess(api, "robin", "robin-password").await;
    let wrong = guess(api, "robin", "wrong-password").await;
    assert_eq!((right.status, right.message()), (401, LOCKED));
    assert_eq!((&right.text, right.status), (&wrong.text, wrong.status));
    // The admin lock answers the same way.
    let admin = api.admin_token().await;
    let (kim, _) = api.sign_up("kim", "kim-password").await;
    let lock = api
        .post(&format!("/identities/{kim}/lock"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(lock.status, 204);
    for password in ["kim-password", "wrong-password"] {
        let reply = guess(api, "kim", password).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (401, right.text.as_str())
        );
    }
    // Timing: a locked refusal costs a hash, like an unknown user's.
    let time = |username: &'static str| async move {
        let start = Instant::now();
        for _ in 0..3 {
            guess(api, username, "robin-password").await;
        }
        start.elapsed()
    };
    let unknown = time("nobody").await;
    let locked = time("robin").await;
    assert!(
        locked * 3 > unknown,
        "locked {locked:?} vs unknown {unknown:?}: no hash on the locked path"
    );
    let _ = robin;
}

/// Item 3: failed sign-ins lock for a while (growing on repeat), block sign-in only, and are not the admin
/// lock; the tests configure `LOCKOUT_SECONDS`.
pub async fn failed_sign_in_lockout_is_temporary_and_blocks_sign_in_only(api: &Api) {
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let key = api
        .post("/users/me/api-keys")
        .bearer(&token)
        .json(json!({}))
        .send()
        .await
        .str("key");
    lock_by_guessing(api, "robin").await;
    assert_eq!(
        guess(api, "robin", "robin-password").await.message(),
        LOCKED
    );
    // Existing sessions and keys keep working: five guesses log nobody out.
    let me = api
        .get(&format!("/users/{profile}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    api.crm_login(&key).await;
    // The account shows the lockout, which is not the admin lock.
    let account = api
        .get(&format!("/accounts/{robin}"))
        .bearer(&api.admin_token().await)
        .send()
        .await;
    assert_eq!(account.body["locked"], false);
    assert!(account.body["lockedUntil"].is_string(), "{}", account.text);

    // It ends by itself.
    let wait = Duration::from_millis(LOCKOUT_SECONDS as u64 * 1000 + 300);
    tokio::time::sleep(wait).await;
    assert_eq!(guess(api, "robin", "robin-password").await.status, 201);

    // A lockout again right after one ended lasts twice as long.
    lock_by_guessing(api, "robin").await;
    tokio::time::sleep(wait).await;
    lock_by_guessing(api, "robin").await;
    tokio::time::sleep(wait).await;
    assert_eq!(
        guess(api, "robin", "robin-password").await.message(),
        LOCKED
    );
    // An admin unlock ends it at once.
    let admin = api.admin_token().await;
    let unlock = api
        .post(&format!("/identities/{robin}/unlock"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(unlock.status, 204);
    assert_eq!(guess(api, "robin", "robin-password").await.status, 201);
}

/// Item 3: the bootstrap admin, locked by anonymous guesses and by another admin, is recovered with
/// `switchboard-local bootstrap` (the break-glass), which can also reset its password.
pub async fn bootstrap_is_the_break_glass_for_the_admin(api: &Api) {
    let settings = Bootstrap {
        organization_id: ORG.into(),
        api_key: ORG_API_KEY.into(),
        api_secret: ORG_API_SECRET.into(),
        admin_username: ADMIN.into(),
        admin_password: ADMIN_PASSWORD.into(),
    };
    let first = api.admin_token().await;
    let admin_id = api
        .get(&format!("/accounts?username={ADMIN}"))
        .bearer(&first)
        .send()
        .await
        .body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A second admin locks the first; anonymous guesses lock it out too.
    let second = api
        .post("/accounts")
        .bearer(&first)
        .json(json!({"username": "second", "password": "second-password", "type": "100"}))
        .send()
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second = api.sign_in("second", "second-password", None).await;
    let lock = api
        .post(&format!("/identities/{admin_id}/lock"))
        .bearer(&second)
        .send()
        .await;
    assert_eq!(lock.status, 204);
    for _ in 0..5 {
        guess(api, ADMIN, "guess").await;
    }
    assert_eq!(guess(api, ADMIN, ADMIN_PASSWORD).await.message(), LOCKED);
    // Starting again with the variables changes nothing; the break-glass does.
    api.app.identities.bootstrap(&settings).await.unwrap();
    assert_eq!(guess(api, ADMIN, ADMIN_PASSWORD).await.message(), LOCKED);
    let report = api.app.identities.break_glass(&settings).await.unwrap();
    assert!(report.admin_recovered && !report.admin_created);
    api.admin_token().await;
    // With a new password it also resets it, and ends the admin's sessions.
    let before = api.admin_token().await;
    let reset = Bootstrap {
        admin_password: "a-new-admin-password".into(),
        ..settings
    };
    api.app.identities.break_glass(&reset).await.unwrap();
    assert_eq!(guess(api, ADMIN, ADMIN_PASSWORD).await.message(), INVALID);
    api.sign_in(ADMIN, "a-new-admin-password", None).await;
    let old = api.get("/sessions").bearer(&before).send().await;
    assert_eq!(old.status, 401, "{}", old.text);
}

/// Item 4: an identity without a password (a server-API user) cannot be signed into with one, and
/// guessing never locks it.
pub async fn password_less_identities_are_never_locked_by_guessing(api: &Api) {
    let upsert = || async {
        api.post("/api/v1/server/users/victim")
            .bearer(&sdk_token("victim", false, ORG_API_SECRET, 300))
            .json(json!({"user_info": {"fullName": "Victim"}}))
            .send()
            .await
    };
    let created = upsert().await;
    assert_eq!(created.status, 200, "{}", created.text);
    let token = created.body["data"]["token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..10 {
        let reply = guess(api, "ext:victim", "anything-at-all").await;
        assert_eq!((reply.status, reply.message()), (401, INVALID));
    }
    assert_eq!(api.get("/sessions").bearer(&token).send().await.status, 200);
    let again = upsert().await;
    assert_eq!(
        again.body["data"]["user"]["is_active"], true,
        "{}",
        again.text
    );
}

/// A second organization, `acme`, with an admin and a regular user; returns their access tokens.
pub async fn second_organization(api: &Api) -> (String, String) {
    use switchboard::identity::NewIdentity;
    let ids = &api.app.identities;
    ids.ensure_organization("acme", "Acme", ACME_API_KEY, ACME_API_SECRET)
        .await
        .unwrap();
    for (username, type_id) in [("acme-admin", "100"), ("acme-user", "001")] {
        ids.create_identity(NewIdentity {
            organization_id: "acme".into(),
            username: username.into(),
            password: Some("acme-password".into()),
            type_id: type_id.into(),
            profile: Some((username.into(), Default::default())),
            ..NewIdentity::default()
        })
        .await
        .unwrap();
    }
    let token = |username: &'static str| async move {
        let reply = api
            .post("/sessions")
            .json(json!({"username": username, "password": "acme-password", "organizationId": "acme"}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.str("accessToken")
    };
    (token("acme-admin").await, token("acme-user").await)
}

const ACME_API_KEY: &str = "acme-api-key";
const ACME_API_SECRET: &str = "acme-api-secret-0123456789abcdef0123";

/// Item 5: an admin (or user) of one organization reaches nothing of another through any route that
/// takes an id, and changes nothing there.
pub async fn tenants_cannot_reach_each_other(api: &Api) {
    let admin = api.admin_token().await;
    // Everything of the default organization an id can name.
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let bare = api
        .post("/accounts")
        .json(json!({"username": "bare", "password": "bare-password"}))
        .send()
        .await
        .str("id");
    let robin_token = api.sign_in("robin", "robin-password", None).await;
    let session = api.get("/sessions").bearer(&robin_token).send().await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = api
        .post("/users/me/api-keys")
        .bearer(&robin_token)
        .json(json!({}))
        .send()
        .await;
    let key_id = key.str("id");
    let token_id = api
        .post(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .json(json!({"type": "invite"}))
        .send()
        .await
        .str("id");
    let server = api
        .post("/api/v1/server/users/shared-uid")
        .bearer(&sdk_token("shared-uid", false, ORG_API_SECRET, 300))
        .json(json!({"user_info": {"fullName": "Default User"}}))
        .send()
        .await;
    assert_eq!(server.status, 200, "{}", server.text);
    let device = crate::push::device_id();
    let registered = api
        .post("/users/me/devices")
        .bearer(&robin_token)
        .json(crate::push::expo(&device, 1))
        .send()
        .await;
    assert_eq!(registered.status, 201, "{}", registered.text);

    let matrix: Vec<(&str, &str, String, Option<serde_json::Value>)> = vec![
        (
            "POST",
            "/users",
            "/users".into(),
            Some(json!({"identityId": bare, "name": "Planted"})),
        ),
        (
            "GET",
            "/users/{profileId}",
            format!("/users/{profile}"),
            None,
        ),
        (
            "PATCH",
            "/users/{profileId}",
            format!("/users/{profile}"),
            Some(json!({"name": "Owned"})),
        ),
        (
            "DELETE",
            "/users/{profileId}",
            format!("/users/{profile}"),
            None,
        ),
        (
            "POST",
            "/identities/{identityId}/lock",
            format!("/identities/{robin}/lock"),
            None,
        ),
        (
            "POST",
            "/identities/{identityId}/unlock",
            format!("/identities/{robin}/unlock"),
            None,
        ),
        (
            "DELETE",
            "/users/me/api-keys/{keyId}",
            format!("/users/me/api-keys/{key_id}"),
            None,
        ),
        (
            "GET",
            "/accounts/{accountId}",
            format!("/accounts/{robin}"),
            None,
        ),
        (
            "PATCH",
            "/accounts/{accountId}",
            format!("/accounts/{robin}"),
            Some(json!({"password": "owned-password"})),
        ),
        (
            "DELETE",
            "/accounts/{accountId}",
            format!("/accounts/{robin}"),
            None,
        ),
        (
            "DELETE",
            "/accounts/{accountId}/sessions",
            format!("/accounts/{robin}/sessions"),
            None,
        ),
        (
            "POST",
            "/accounts/{accountId}/tokens",
            format!("/accounts/{robin}/tokens"),
            Some(json!({"type": "passwordreset"})),
        ),
        (
            "GET",
            "/accounts/{accountId}/tokens",
            format!("/accounts/{robin}/tokens"),
            None,
        ),
        (
            "GET",
            "/accounts/{accountId}/tokens/{tokenId}",
            format!("/accounts/{robin}/tokens/{token_id}"),
            None,
        ),
        (
            "DELETE",
            "/accounts/{accountId}/tokens/{tokenId}",
            format!("/accounts/{robin}/tokens/{token_id}"),
            None,
        ),
        (
            "GET",
            "/accounts/{accountId}/roles",
            format!("/accounts/{robin}/roles"),
            None,
        ),
        (
            "PUT",
            "/accounts/{accountId}/roles/{role}",
            format!("/accounts/{robin}/roles/spy"),
            None,
        ),
        (
            "DELETE",
            "/accounts/{accountId}/roles/{role}",
            format!("/accounts/{robin}/roles/spy"),
            None,
        ),
        (
            "GET",
            "/accounts/{accountId}/profile",
            format!("/accounts/{robin}/profile"),
            None,
        ),
        (
            "PATCH",
            "/accounts/{accountId}/profile",
            format!("/accounts/{robin}/profile"),
            Some(json!({"name": "Owned"})),
        ),
        (
            "GET",
            "/sessions/{sessionId}",
            format!("/sessions/{session}"),
            None,
        ),
        (
            "DELETE",
            "/sessions/{sessionId}",
            format!("/sessions/{session}"),
            None,
        ),
        (
            "DELETE",
            "/api/v1/server/users/{uid}",
            "/api/v1/server/users/shared-uid".into(),
            None,
        ),
        (
            "DELETE",
            "/users/me/devices/{deviceId}",
            format!("/users/me/devices/{device}"),
            None,
        ),
        (
            "POST",
            "/users/{profileId}/notifications",
            format!("/users/{profile}/notifications"),
            Some(json!({"title": "t", "body": "b", "category": "system"})),
        ),
    ];
    // Every identity route that takes an id is in the matrix.
    for key in switchboard_local::route_keys() {
        let (method, path) = key.split_once(' ').unwrap();
        let identity = [
            "/users",
            "/identities",
            "/accounts",
            "/sessions",
            "/api/v1/server",
        ]
        .iter()
        .any(|p| path.starts_with(p));
        if identity
            && path.contains('{')
            && !(method == "POST" && path.starts_with("/api/v1/server"))
        {
            assert!(
                matrix.iter().any(|(m, p, _, _)| method == *m && path == *p),
                "{key} is not in the tenant matrix"
            );
        }
    }
    let (acme_admin, acme_user) = second_organization(api).await;
    let acme_sdk = sdk_for("acme", "shared-uid");
    for (method, _, uri, body) in &matrix {
        let bearers: Vec<&str> = if uri.starts_with("/api/v1/server") {
            vec![acme_sdk.as_str()]
        } else {
            vec![acme_admin.as_str(), acme_user.as_str()]
        };
        for bearer in bearers {
            let mut call = api.call(method, uri).bearer(bearer);
            if let Some(body) = body {
                call = call.json(body.clone());
            }
            let reply = call.send().await;
            assert!(
                matches!(reply.status, 403 | 404),
                "{method} {uri}: {} {}",
                reply.status,
                reply.text
            );
        }
    }
    // The server API of acme upserting the same uid makes acme's own user.
    let acme_upsert = api
        .post("/api/v1/server/users/shared-uid")
        .bearer(&acme_sdk)
        .json(json!({"user_info": {"fullName": "Acme User"}}))
        .send()
        .await;
    assert_eq!(
        acme_upsert.body["data"]["created"], true,
        "{}",
        acme_upsert.text
    );
    assert_eq!(acme_upsert.body["data"]["user"]["organization_id"], "acme");

    // Nothing of the default organization changed.
    let user = api
        .get(&format!("/users/{profile}"))
        .bearer(&robin_token)
        .send()
        .await;
    assert_eq!((user.status, &user.body["name"]), (200, &json!("robin")));
    let devices = api
        .get("/users/me/devices")
        .bearer(&robin_token)
        .send()
        .await;
    assert_eq!(devices.body[0]["active"], true, "{}", devices.text);
    let account = api
        .get(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(account.body["locked"], false);
    assert_eq!(account.body["roles"], json!([]));
    let bare_account = api
        .get(&format!("/accounts/{bare}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        bare_account.body["profileId"],
        serde_json::Value::Null,
        "{}",
        bare_account.text
    );
    let tokens = api
        .get(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(tokens.body.as_array().map(Vec::len), Some(1));
    api.crm_login(key.str("key").as_str()).await;
    api.sign_in("robin", "robin-password", None).await;
    let server_again = api
        .post("/api/v1/server/users/shared-uid")
        .bearer(&sdk_token("shared-uid", false, ORG_API_SECRET, 300))
        .json(json!({"user_info": {"fullName": "Default User"}}))
        .send()
        .await;
    assert_eq!(
        server_again.body["data"]["created"], false,
        "{}",
        server_again.text
    );
}

/// A stolen access token is not a takeover: the account's own password or email changes only with its
/// current password; a wrong or missing one changes nothing and keeps the token; an admin changing another
/// account needs none.
pub async fn own_password_and_email_changes_need_the_current_password(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let patch = |body: serde_json::Value| {
        api.patch(&format!("/accounts/{robin}"))
            .bearer(&token)
            .json(body)
    };
    for change in [
        json!({"password": "mallory-password"}),
        json!({"email": "mallory@example.com"}),
    ] {
        let missing = patch(change.clone()).send().await;
        assert_eq!(
            (missing.status, missing.message()),
            (400, "Validation Error")
        );
        let mut wrong = change.clone();
        wrong["currentPassword"] = json!("not-robin-password");
        let wrong = patch(wrong).send().await;
        assert_eq!(wrong.status, 403, "{}", wrong.text);
    }
    // Nothing changed: the old password still signs in, the email is unset, and the token still works.
    api.sign_in("robin", "robin-password", None).await;
    let account = api
        .get(&format!("/accounts/{robin}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(account.status, 200);
    assert_eq!(account.body["email"], serde_json::Value::Null);
    // Other fields need no password; with it, the change is made.
    let phone = patch(json!({"phone": "+14155550100"})).send().await;
    assert_eq!(phone.status, 200, "{}", phone.text);
    let changed = patch(json!({"email": "robin@example.com", "currentPassword": "robin-password"}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    // An admin changing another account keeps hoodie's admin update.
    let admin = api.admin_token().await;
    let reset = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .json(json!({"password": "robin-admin-set"}))
        .send()
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    api.sign_in("robin", "robin-admin-set", None).await;
}

/// An SDK token of organization acme for `uid`.
fn sdk_for(org: &str, uid: &str) -> String {
    organization_sdk_token((org, ACME_API_KEY), uid, false, ACME_API_SECRET, 300)
}

/// Item 6: email uniqueness is per organization, so one organization cannot probe another's users.
pub async fn emails_are_unique_per_organization(api: &Api) {
    let robin = api
        .post("/accounts")
        .json(json!({"username": "robin", "password": "robin-password", "email": "Robin@Example.com"}))
        .send()
        .await;
    assert_eq!(robin.status, 201, "{}", robin.text);
    second_organization(api).await;
    let acme = api
        .post("/api/v1/server/users/robin-at-acme")
        .bearer(&sdk_for("acme", "robin-at-acme"))
        .json(json!({"user_info": {"fullName": "Robin", "email": "robin@example.com"}}))
        .send()
        .await;
    assert_eq!(acme.status, 200, "{}", acme.text);
    assert_eq!(acme.body["data"]["user"]["email"], "robin@example.com");
    // Within one organization an email stays unique, whatever the case.
    let again = api
        .post("/accounts")
        .json(json!({"username": "robin2", "password": "robin-password", "email": "ROBIN@example.com"}))
        .send()
        .await;
    assert_eq!(
        (again.status, again.message()),
        (409, "An account with that email already exists")
    );
    let sdk = api
        .post("/api/v1/server/users/other")
        .bearer(&sdk_token("other", false, ORG_API_SECRET, 300))
        .json(json!({"user_info": {"fullName": "Other", "email": "robin@example.com"}}))
        .send()
        .await;
    assert_eq!(sdk.status, 409, "{}", sdk.text);
}

/// An anonymous sign-up as `ext:victim`, then the server API's upsert of user `victim`.
async fn squat_then_upsert(api: &Api) -> (crate::api::Reply, crate::api::Reply) {
    let squatter = api
        .post("/accounts")
        .json(json!({"username": "ext:victim", "password": "squatter-password"}))
        .send()
        .await;
    assert_eq!(squatter.status, 201, "{}", squatter.text);
    let upsert = api
        .post("/api/v1/server/users/victim")
        .bearer(&sdk_token("victim", true, ORG_API_SECRET, 300))
        .json(json!({"user_info": {"fullName": "Victim"}}))
        .send()
        .await;
    assert_eq!(upsert.status, 200, "{}", upsert.text);
    (squatter, upsert)
}

/// Item 7: an anonymous sign-up as `ext:victim` does not take the server API's user `victim`.
pub async fn server_api_users_cannot_be_squatted(api: &Api) {
    let (squatter, created) = squat_then_upsert(api).await;
    assert_eq!(created.body["data"]["created"], true);
    assert_ne!(created.body["data"]["user"]["id"], squatter.body["id"]);
    // The squatter's sign-in opens the squatter's account, not the server user's.
    let signed_in = guess(api, "ext:victim", "squatter-password").await;
    assert_eq!(signed_in.body["account"]["id"], squatter.body["id"]);
    assert_eq!(
        signed_in.body["account"]["externalId"],
        serde_json::Value::Null
    );
}

/// Item 8: concurrent first upserts of one new user all succeed: one user, one `created: true`.
pub async fn concurrent_first_upserts_all_succeed(api: &Api) {
    let replies = join_all((0..20).map(|i| async move {
        api.post("/api/v1/server/users/newcomer")
            .bearer(&sdk_token("newcomer", i % 2 == 0, ORG_API_SECRET, 300))
            .json(json!({"user_info": {"fullName": "New Comer", "email": "new@example.com"}}))
            .send()
            .await
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "{statuses:?} {}",
        replies[0].text
    );
    let created = replies
        .iter()
        .filter(|r| r.body["data"]["created"] == true)
        .count();
    assert_eq!(created, 1);
    let id = &replies[0].body["data"]["user"]["id"];
    assert!(replies.iter().all(|r| r.body["data"]["user"]["id"] == *id));
    assert!(
        replies
            .iter()
            .all(|r| r.body["data"]["user"]["full_name"] == "New Comer")
    );
}

/// Item 10: "log out everywhere" ends every session created before it, even one the session index does
/// not list yet (simulated: the session's index entry is removed, as if the index lagged).
pub async fn logout_everywhere_does_not_trust_the_index(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let hidden = unlisted_session(api, &robin).await;
    let listed = api.sign_in("robin", "robin-password", None).await;
    assert_eq!(
        api.get("/sessions")
            .bearer(&hidden.access_token)
            .send()
            .await
            .status,
        200
    );
    let out = api.delete("/sessions").bearer(&listed).send().await;
    assert_eq!(out.status, 200, "{}", out.text);
    for token in [&hidden.access_token, &listed] {
        let reply = api.get("/sessions").bearer(token).send().await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    let refresh = api
        .post("/sessions/refresh")
        .json(json!({"refreshToken": hidden.refresh_token}))
        .send()
        .await;
    assert_eq!(refresh.status, 401, "{}", refresh.text);
    // A session opened after the logout works.
    let after = api.sign_in("robin", "robin-password", None).await;
    assert_eq!(api.get("/sessions").bearer(&after).send().await.status, 200);
}

/// Item 12: the seed's contract: a PATCH that changes nothing is 400 `Failed to update user`; admin-only
/// routes refuse with `User is not authorized…`, admin-or-owner ones with `Identity is not authorized…`;
/// `?status=active` and `?email=…` filter; a rename to a taken username names the username.
pub async fn seed_contract(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, profile) = api.sign_up("robin", "robin-password").await;
    let (_, kim_profile) = api.sign_up("kim", "kim-password").await;
    let robin_token = api.sign_in("robin", "robin-password", None).await;

    let before = api
        .get(&format!("/users/{profile}"))
        .bearer(&robin_token)
        .send()
        .await;
    let same = api
        .patch(&format!("/users/{profile}"))
        .bearer(&robin_token)
        .json(json!({"name": "robin"}))
        .send()
        .await;
    assert_eq!(
        (same.status, same.message()),
        (400, "Failed to update user")
    );
    let after = api
        .get(&format!("/users/{profile}"))
        .bearer(&robin_token)
        .send()
        .await;
    assert_eq!(before.body["updatedAt"], after.body["updatedAt"]);

    for (method, uri, message) in [
        (
            "GET",
            "/users".to_owned(),
            "User is not authorized to access this resource",
        ),
        (
            "POST",
            format!("/identities/{robin}/lock"),
            "User is not authorized to access this resource",
        ),
        (
            "GET",
            "/accounts".to_owned(),
            "User is not authorized to access this resource",
        ),
        (
            "GET",
            format!("/users/{kim_profile}"),
            "Identity is not authorized to access this resource",
        ),
    ] {
        let reply = api.call(method, &uri).bearer(&robin_token).send().await;
        assert_eq!(
            (reply.status, reply.message()),
            (403, message),
            "{method} {uri}"
        );
    }

    let props = api
        .patch(&format!("/accounts/{robin}/profile"))
        .bearer(&robin_token)
        .json(json!({"status": "active", "email": "john.doe@example.com"}))
        .send()
        .await;
    assert_eq!(props.status, 200, "{}", props.text);
    for query in [
        "status=active",
        "email=john.doe@example.com",
        "status=active&name=robin",
    ] {
        let found = api
            .get(&format!("/users?{query}"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(found.status, 200, "{query}: {}", found.text);
        let ids: Vec<_> = found
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(profile)], "{query}");
    }
    let none = api
        .get("/users?status=inactive")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!((none.status, none.body.clone()), (200, json!([])));

    let with_email = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&robin_token)
        .json(json!({"email": "robin@example.com", "currentPassword": "robin-password"}))
        .send()
        .await;
    assert_eq!(with_email.status, 200, "{}", with_email.text);
    let rename = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&robin_token)
        .json(json!({"username": "KIM"}))
        .send()
        .await;
    assert_eq!(
        (rename.status, rename.message()),
        (409, "An account with that username already exists")
    );
}

/// Item 9: usernames compare by their NFKC_Casefold form, and names with control, format or bidi
/// characters are refused with the family's 400.
pub async fn lookalike_usernames_are_one_name(api: &Api) {
    for (first, second) in [
        ("straße", "STRASSE"),
        ("jose\u{301}", "Jos\u{e9}"),
        ("ｆｕｌｌ", "full"),
    ] {
        let created = api
            .post("/accounts")
            .json(json!({"username": first, "password": "lookalike-password"}))
            .send()
            .await;
        assert_eq!(created.status, 201, "{first}: {}", created.text);
        let again = api
            .post("/accounts")
            .json(json!({"username": second, "password": "lookalike-password"}))
            .send()
            .await;
        assert_eq!(
            (again.status, again.message()),
            (409, "An account with that username already exists"),
            "{first} / {second}"
        );
        let signed_in = guess(api, second, "lookalike-password").await;
        assert_eq!(
            signed_in.body["account"]["id"], created.body["id"],
            "{second}"
        );
    }
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    for name in [
        "ad\u{0}min",
        "ad\u{1b}min",
        "admin\u{202e}",
        "ad\u{200b}min",
        "ad\u{200d}min",
    ] {
        let sign_up = api
            .post("/accounts")
            .json(json!({"username": name, "password": "lookalike-password"}))
            .send()
            .await;
        assert_eq!(
            (sign_up.status, sign_up.message()),
            (400, "Validation Error"),
            "{name:?}"
        );
        let rename = api
            .patch(&format!("/accounts/{robin}"))
            .bearer(&token)
            .json(json!({"username": name}))
            .send()
            .await;
        assert_eq!(
            (rename.status, rename.message()),
            (400, "Validation Error"),
            "{name:?}"
        );
    }
    api.sign_in("robin", "robin-password", None).await;
}

/// Item 11: revoking a personal API key ends the CRM connections made with it (their `jwtToken`s fail and
/// are not refreshed), and only those: a connection made with another key goes on.
pub async fn revoking_a_key_ends_its_crm_connections_only(api: &Api) {
    let kept_key = api.api_key("agent").await;
    let token = api.sign_in("agent", "crm-user-password", None).await;
    let revoked = api
        .post("/users/me/api-keys")
        .bearer(&token)
        .json(json!({"name": "laptop"}))
        .send()
        .await;
    let (revoked_id, revoked_key) = (revoked.str("id"), revoked.str("key"));
    let doomed = [
        api.crm_login(&revoked_key).await,
        api.crm_login(&revoked_key).await,
    ];
    let kept = api.crm_login(&kept_key).await;
    let contact = |jwt: String| async move {
        api.get(&format!(
            "/contact?jwtToken={jwt}&phoneNumber=%2B16505559876"
        ))
        .send()
        .await
    };
    for jwt in doomed.iter().chain([&kept]) {
        assert_eq!(contact(jwt.clone()).await.status, 200);
    }
    let revoke = api
        .delete(&format!("/users/me/api-keys/{revoked_id}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(revoke.status, 204, "{}", revoke.text);
    for jwt in &doomed {
        let reply = contact(jwt.clone()).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (400, "Please go to Settings and authorize CRM platform")
        );
    }
    assert_eq!(contact(kept).await.status, 200);
    let login = api
        .post("/apiKeyLogin")
        .json(json!({"platform": "switchboard", "apiKey": revoked_key}))
        .send()
        .await;
    assert_eq!(login.status, 400, "{}", login.text);
}

/// Writes an identity as the code before issue 11 did: lower-cased username with its marker (also for
/// server-API identities), an email marker shared by every organization. Returns its id.
async fn old_identity(
    api: &Api,
    username: &str,
    email: Option<&str>,
    external_id: Option<&str>,
    locked: bool,
) -> String {
    use switchboard::identity::Identity;
    use switchboard::store::Record;
    use switchboard::store::{Condition, Item, Key, Write};
    let now = switchboard::time::now_rfc3339();
    let identity = Identity {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: ORG.into(),
        username: username.to_lowercase(),
        email: email.map(str::to_owned),
        phone: None,
        password_hash: Some(
            switchboard::identity::password::hash("old-password".into())
                .await
                .unwrap(),
        ),
        type_id: "001".into(),
        roles: Vec::new(),
        locked,
        failed_logins: if locked { 5 } else { 0 },
        locked_until: None,
        lockouts: 0,
        pending_attempts: Vec::new(),
        signed_out_at: None,
        signed_out_except: None,
        external_id: external_id.map(str::to_owned),
        profile_id: None,
        created_at: now.clone(),
        updated_at: now,
        version: 0,
    };
    let marker = |pk: String| {
        Write::Put(
            Item::new(Key::new(pk, "UNIQUE"), json!({"identityId": identity.id})),
            Condition::Absent,
        )
    };
    let mut writes = vec![
        Write::Put(identity.to_item().unwrap(), Condition::Absent),
        marker(format!("USERNAME#{ORG}#{}", username.to_lowercase())),
    ];
    if let Some(email) = email {
        writes.push(marker(format!("EMAIL#{email}")));
    }
    if let Some(external) = external_id {
        writes.push(marker(format!("EXTID#{ORG}#{external}")));
    }
    api.app.store.transact(writes).await.unwrap();
    identity.id
}

/// Item 14: `switchboard-local migrate` rewrites a store filled the old way (username and email markers,
/// server-API usernames, the single lock, the shared CRM connection); a second run changes nothing, and a
/// run after more old items were added (an interrupted migration) finishes the job.
pub async fn migration_rewrites_an_old_store(api: &Api) {
    use switchboard::crm::token::CrmTokens;
    use switchboard::store::{Item, Key};
    // A lockout long enough to be seen after the migration.
    let api = &api.reconfigured(|config| config.lockout.seconds = 3600);
    let strasse = old_identity(api, "Straße", Some("robin@example.com"), None, false).await;
    let victim = old_identity(api, "ext:victim", None, Some("victim"), false).await;
    let locked_out = old_identity(api, "guessed", None, None, true).await;
    // An admin lock: locked with fewer than five failures.
    let held = old_identity(api, "held", None, None, true).await;
    let held_key = switchboard::identity::Identity::key_of(&held);
    let mut item = api.app.store.get(&held_key).await.unwrap().unwrap();
    item.body["failedLogins"] = json!(0);
    api.app.store.update(item).await.unwrap();
    // The old CRM connection of one identity, and a jwtToken of it.
    let connection = Item::new(
        Key::new(format!("IDENT#{strasse}"), "CRM#switchboard"),
        json!({"identityId": strasse, "platform": "switchboard", "connectionId": "old-connection", "createdAt": "2024-01-01T00:00:00.000Z"}),
    );
    api.app.store.create(connection).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let jwt = CrmTokens::new(&api.app.config.crm_secret)
        .issue(&strasse, "", "switchboard", "old-connection", now)
        .unwrap();

    // Half of it first, as if interrupted: then everything.
    let report = api.app.identities.migrate(ORG).await.unwrap();
    assert_eq!(
        (report.migrated, report.conflicts.len()),
        (4, 0),
        "{report:?}"
    );
    let late = old_identity(api, "ﬁnn", Some("finn@example.com"), None, false).await;
    let report = api.app.identities.migrate(ORG).await.unwrap();
    assert_eq!(
        (report.migrated, report.conflicts.len()),
        (1, 0),
        "{report:?}"
    );
    let again = api.app.identities.migrate(ORG).await.unwrap();
    assert_eq!((again.identities, again.migrated), (6, 0), "{again:?}");
    // The member directory finds the old identities by their words.
    let admin = api.admin_token().await;
    let found = api
        .get("/members?query=strasse")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        found.body[0]["identityId"],
        json!(strasse),
        "{}",
        found.text
    );
    let by_email = api.get("/members?query=finn").bearer(&admin).send().await;
    assert_eq!(
        by_email.body.as_array().unwrap().len(),
        1,
        "{}",
        by_email.text
    );

    // Usernames by their canonical form.
    let signed_in = guess(api, "STRASSE", "old-password").await;
    assert_eq!(
        signed_in.body["account"]["id"],
        json!(strasse),
        "{}",
        signed_in.text
    );
    assert_eq!(
        guess(api, "finn", "old-password").await.body["account"]["id"],
        json!(late)
    );
    // Emails per organization.
    let taken = api
        .post("/accounts")
        .json(json!({"username": "other", "password": "other-password", "email": "robin@example.com"}))
        .send()
        .await;
    assert_eq!(
        (taken.status, taken.message()),
        (409, "An account with that email already exists")
    );
    second_organization(api).await;
    let acme = api
        .post("/api/v1/server/users/robin")
        .bearer(&sdk_for("acme", "robin"))
        .json(json!({"user_info": {"fullName": "Robin", "email": "robin@example.com"}}))
        .send()
        .await;
    assert_eq!(acme.status, 200, "{}", acme.text);
    // The server-API user keeps its external id and loses its username marker.
    let (_, upsert) = squat_then_upsert(api).await;
    assert_eq!(
        (
            upsert.body["data"]["created"].clone(),
            upsert.body["data"]["user"]["id"].clone()
        ),
        (json!(false), json!(victim)),
        "{}",
        upsert.text
    );
    // The old lock after five failures is now a lockout, not the admin lock.
    let account = api
        .get(&format!("/accounts/{locked_out}"))
        .bearer(&api.admin_token().await)
        .send()
        .await;
    assert_eq!(account.body["locked"], false, "{}", account.text);
    assert!(account.body["lockedUntil"].is_string(), "{}", account.text);
    // The admin lock stays, and gains the item a write's token check looks for.
    let lock = switchboard::identity::Identity::lock_key(&held);
    assert!(api.app.store.get(&lock).await.unwrap().is_some());
    // The old CRM connection's jwtToken still works.
    let contact = api
        .get(&format!(
            "/contact?jwtToken={jwt}&phoneNumber=%2B16505559876"
        ))
        .send()
        .await;
    assert_eq!(contact.status, 200, "{}", contact.text);
}

/// A password change ends the account's other sessions in the write of the new hash, including a session
/// the index does not list yet; the caller's own session stays. An admin's change ends them all.
pub async fn password_change_does_not_trust_the_index(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let hidden = unlisted_session(api, &robin).await.access_token;
    let own = api.sign_in("robin", "robin-password", None).await;
    let changed = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&own)
        .json(json!({"password": "robin-new-password", "currentPassword": "robin-password"}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let status = async |token: &str| api.get("/sessions").bearer(token).send().await.status;
    assert_eq!(status(&hidden).await, 401, "an unlisted session survived");
    assert_eq!(status(&own).await, 200, "the caller's own session ended");

    let hidden = unlisted_session(api, &robin).await.access_token;
    let reset = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .json(json!({"password": "robin-third-password"}))
        .send()
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    assert_eq!(status(&hidden).await, 401);
    assert_eq!(
        status(&own).await,
        401,
        "an admin's reset ends every session"
    );
    let after = api.sign_in("robin", "robin-third-password", None).await;
    assert_eq!(status(&after).await, 200);
}

/// A session of `identity` that the session index does not list (its index entry removed), as a lagging
/// index would leave a session opened a moment ago.
async fn unlisted_session(api: &Api, identity: &str) -> switchboard::identity::SignedIn {
    use switchboard::identity::SessionContext;
    use switchboard::store::Record;
    let ids = &api.app.identities;
    let found = ids.identity(identity).await.unwrap().unwrap();
    let hidden = ids
        .start_session(found, SessionContext::default(), Vec::new())
        .await
        .unwrap();
    let mut item = hidden.session.to_item().unwrap();
    item.version = 1;
    item.index = None;
    api.app.store.update(item).await.unwrap();
    hidden
}

/// Correct sign-ins never lock an account: eight at once (more than the failures allowed) start no
/// lockout, and attempts cut short before they resolved (an outage) stop counting after a few seconds.
pub async fn correct_sign_ins_never_lock(api: &Api) {
    use switchboard::identity::lockout::PENDING_SECONDS;
    use switchboard::store::Record;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let replies = join_all((0..8).map(|_| guess(api, "robin", "robin-password"))).await;
    assert!(replies.iter().any(|r| r.status == 201));
    assert!(
        replies
            .iter()
            .all(|r| r.status == 201 || r.message() == LOCKED)
    );
    let after = guess(api, "robin", "robin-password").await;
    assert_eq!(after.status, 201, "{}", after.text);

    // Five attempts admitted long enough ago that they can only have been cut short.
    let ids = &api.app.identities;
    let mut identity = ids.identity(&robin).await.unwrap().unwrap();
    let stale = switchboard::time::unix_now() - PENDING_SECONDS - 1;
    identity.pending_attempts = vec![stale; 5];
    api.app
        .store
        .update(identity.to_item().unwrap())
        .await
        .unwrap();
    let after = guess(api, "robin", "robin-password").await;
    assert_eq!(after.status, 201, "{}", after.text);
}
