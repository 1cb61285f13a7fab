//! Sessions that last (issue 22), run unchanged on each storage backend: sliding sessions with an idle
//! and an absolute limit, refresh tokens that rotate and end their session when a replaced one comes back,
//! hoodie's session views, an admin's paging, ending an account's sessions, and impersonation.

use futures::future::join_all;
use serde_json::{Value, json};
use switchboard::identity::Session;
use switchboard::identity::secrets;
use switchboard::store::Record;
use switchboard::time::{now_rfc3339, unix_now};

use crate::api::{ADMIN, Api, ORG, Reply};

const DAY: i64 = 24 * 3600;

/// Seconds from now to an RFC 3339 time in `value`.
fn from_now(value: &Value) -> i64 {
    let at = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    at.parse::<jiff::Timestamp>().unwrap().as_second() - unix_now()
}

async fn sign_in(api: &Api, body: Value) -> Reply {
    let reply = api.post("/sessions").json(body).send().await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply
}

async fn refresh(api: &Api, token: &str) -> Reply {
    api.post("/sessions/refresh")
        .json(json!({"refreshToken": token}))
        .send()
        .await
}

async fn own_sessions(api: &Api, token: &str) -> Reply {
    api.get("/sessions").bearer(token).send().await
}

/// A session lasts 30 days idle and 90 at most; each refresh gives a new refresh token and extends it; the
/// replaced token used again ends the session, its newest tokens included.
pub async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session(api: &Api) {
    api.sign_up("robin", "robin-password").await;
    let signed = sign_in(
        api,
        json!({"username": "robin", "password": "robin-password"}),
    )
    .await;
    let first = signed.str("refreshToken");
    let idle = from_now(&signed.body["sessionExpiresAt"]);
    assert!(
        (30 * DAY - 60..=30 * DAY).contains(&idle),
        "30 days: {idle}"
    );
    let listed = own_sessions(api, &signed.str("accessToken")).await;
    let ends = from_now(&listed.body[0]["endsAt"]);
    assert!(
        (90 * DAY - 60..=90 * DAY).contains(&ends),
        "90 days: {ends}"
    );

    let renewed = refresh(api, &first).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let second = renewed.str("refreshToken");
    assert_ne!(second, first, "rotated");
    assert_eq!(renewed.body["id"], signed.body["id"], "the same session");
    let access = renewed.str("accessToken");
    assert_eq!(own_sessions(api, &access).await.status, 200);
    let third = refresh(api, &second).await;
    assert_eq!(third.status, 200, "{}", third.text);

    // The first token again: theft. The whole session ends.
    let reused = refresh(api, &first).await;
    assert_eq!(
        (reused.status, reused.message()),
        (401, "token could not be verified")
    );
    assert_eq!(refresh(api, &third.str("refreshToken")).await.status, 401);
    assert_eq!(
        own_sessions(api, &third.str("accessToken")).await.status,
        401
    );
    for junk in ["", "sb_rt_", "sb_rt_nope.nope", "sb_rt_.x", "not-a-token"] {
        let refused = refresh(api, junk).await;
        assert!(
            refused.status == 401 || refused.status == 400,
            "{junk}: {}",
            refused.text
        );
    }
}

/// Two refreshes racing with one token: one wins, and the other, a reuse, ends the session.
pub async fn racing_refreshes_end_the_session(api: &Api) {
    api.sign_up("robin", "robin-password").await;
    let signed = sign_in(
        api,
        json!({"username": "robin", "password": "robin-password"}),
    )
    .await;
    let token = signed.str("refreshToken");
    let replies = join_all((0..2).map(|_| refresh(api, &token))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.contains(&401), "{statuses:?}");
    let winner = replies.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(refresh(api, &winner.str("refreshToken")).await.status, 401);
    assert_eq!(
        own_sessions(api, &winner.str("accessToken")).await.status,
        401,
        "the session ended"
    );
}

/// hoodie's `timeout`: the session's idle timeout, within the configured one.
pub async fn a_sign_in_may_shorten_its_session(api: &Api) {
    api.sign_up("robin", "robin-password").await;
    let short = sign_in(
        api,
        json!({"username": "robin", "password": "robin-password", "timeout": 3600}),
    )
    .await;
    let left = from_now(&short.body["sessionExpiresAt"]);
    assert!((3540..=3600).contains(&left), "{left}");
    let renewed = refresh(api, &short.str("refreshToken")).await;
    let left = from_now(&renewed.body["sessionExpiresAt"]);
    assert!(
        (3540..=3600).contains(&left),
        "a refresh extends by the same: {left}"
    );
    for timeout in [json!(0), json!(31 * DAY), json!("3600")] {
        let refused = api
            .post("/sessions")
            .json(json!({"username": "robin", "password": "robin-password", "timeout": timeout}))
            .send()
            .await;
        assert_eq!(refused.status, 400, "{timeout}: {}", refused.text);
    }
}

/// A session from before rotation (its id the hash of its refresh token) refreshes once into the new form,
/// keeping its id, and ends at its sign-in plus the maximum.
pub async fn a_session_from_before_rotation_keeps_working(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let legacy = secrets::generate("sb_rt_");
    let session = Session {
        id: secrets::digest(&legacy),
        identity_id: robin.clone(),
        organization_id: ORG.into(),
        created_at: now_rfc3339(),
        last_used_at: now_rfc3339(),
        expires_at: unix_now() + 2 * DAY,
        fingerprint: None,
        user_agent: None,
        device: None,
        refresh: None,
        replaced: Vec::new(),
        idle_seconds: None,
        ends_at: None,
        impersonated_by: None,
        version: 0,
    };
    api.app
        .store
        .create(session.to_item().unwrap())
        .await
        .unwrap();
    let renewed = refresh(api, &legacy).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    assert_eq!(renewed.body["id"], json!(session.id));
    let next = renewed.str("refreshToken");
    assert!(
        next.starts_with(&format!("sb_rt_{}.", session.id)),
        "{next}"
    );
    assert_eq!(refresh(api, &next).await.status, 200);
    assert_eq!(refresh(api, &legacy).await.status, 401, "replaced");
}

/// Every session answer names its account (`{id, username}`); an admin pages through the organization's
/// sessions, all or one account's, and ends all of an account's at once.
pub async fn session_views_paging_and_ending_an_accounts_sessions(api: &Api) {
    let admin = api.admin_token().await;
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let (sam, _) = api.sign_up("sam", "sam-password").await;
    let mut robin_tokens = Vec::new();
    for _ in 0..3 {
        robin_tokens.push(api.sign_in("robin", "robin-password", None).await);
    }
    let sam_token = api.sign_in("sam", "sam-password", None).await;
    let own = own_sessions(api, &robin_tokens[0]).await;
    assert_eq!(own.body.as_array().unwrap().len(), 3);
    assert_eq!(
        own.body[0]["account"],
        json!({"id": robin, "username": "robin"})
    );
    let id = own.body[0]["id"].as_str().unwrap().to_owned();
    let one = api
        .get(&format!("/sessions/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(one.body["account"]["username"], "robin", "{}", one.text);

    // The admin's pages: 3 of robin's, 1 of sam's and the admin's own, 2 at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/sessions?all=true&limit=2&cursor={c}"),
            None => "/sessions?all=true&limit=2".into(),
        };
        let page = api.get(&path).bearer(&admin).send().await;
        assert_eq!(page.status, 200, "{}", page.text);
        let items = page.body.as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|s| s["account"]["username"].clone()));
        cursor = page
            .headers
            .get("x-next-cursor")
            .map(|c| c.to_str().unwrap().to_owned());
        if cursor.is_none() {
            break;
        }
    }
    seen.sort_by_key(|v| v.to_string());
    assert_eq!(
        seen,
        [
            json!(ADMIN),
            json!("robin"),
            json!("robin"),
            json!("robin"),
            json!("sam")
        ]
    );
    let robins = api
        .get(&format!("/sessions?all=true&accountId={robin}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(robins.body.as_array().unwrap().len(), 3, "{}", robins.text);
    for (query, status) in [
        ("all=true", 403),
        ("all=true&limit=0", 400),
        ("all=maybe", 400),
    ] {
        let refused = api
            .get(&format!("/sessions?{query}"))
            .bearer(&sam_token)
            .send()
            .await;
        assert_eq!(refused.status, status, "{query}: {}", refused.text);
    }

    // Ending robin's sessions: his tokens fail at once, sam's go on.
    let refused = api
        .delete(&format!("/accounts/{robin}/sessions"))
        .bearer(&sam_token)
        .send()
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let ended = api
        .delete(&format!("/accounts/{robin}/sessions"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(ended.body.as_array().unwrap().len(), 3);
    assert_eq!(ended.body[0]["account"]["username"], "robin");
    for token in &robin_tokens {
        assert_eq!(own_sessions(api, token).await.status, 401);
    }
    assert_eq!(own_sessions(api, &sam_token).await.status, 200);
    let missing = api
        .delete("/accounts/nobody/sessions")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let _ = sam;
}

/// An admin opens a session for an account without its password, told as `session.impersonated`
/// naming the admin; never for an admin, never by a non-admin.
pub async fn an_admin_opens_a_session_for_an_account(api: &Api) {
    let admin = api.admin_token().await;
    let admin_id = own_sessions(api, &admin).await.body[0]["accountId"].clone();
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let opened = api
        .post("/sessions")
        .bearer(&admin)
        .json(json!({"username": "Robin"}))
        .send()
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    assert_eq!(opened.body["account"]["id"], json!(robin));
    let as_robin = opened.str("accessToken");
    let sessions = own_sessions(api, &as_robin).await;
    assert_eq!(sessions.body[0]["impersonatedBy"], admin_id);
    let told: Vec<_> = crate::outbox::pending(api)
        .await
        .into_iter()
        .filter(|e| e.event == "session.impersonated")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].payload["accountId"], json!(robin));
    assert_eq!(told[0].payload["by"], admin_id);
    assert_eq!(told[0].payload["sessionId"], opened.body["id"]);
    crate::outbox::assert_no_secret(&told);

    let user = api.sign_in("robin", "robin-password", None).await;
    for (bearer, username, status) in [
        (&user, "robin", 403),
        (&admin, ADMIN, 403),
        (&admin, "nobody", 404),
        (&"not-a-token".to_owned(), "robin", 401),
    ] {
        let refused = api
            .post("/sessions")
            .bearer(bearer)
            .json(json!({"username": username}))
            .send()
            .await;
        assert_eq!(refused.status, status, "{username}: {}", refused.text);
    }
    let anonymous = api
        .post("/sessions")
        .json(json!({"username": "robin"}))
        .send()
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
}
