//! Tokens from elsewhere (issue 18), run unchanged on each storage backend: a token the organization's server
//! SDK signed (ContactsManager's `generateToken`) works wherever a user's own access token does, and only
//! for a live, unlocked user of that organization, with its active secret, HS256 only.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use switchboard::identity::records::OrganizationKey;
use switchboard::store::{Condition, Record, Write};

use crate::api::{Api, ORG, ORG_API_KEY, ORG_API_SECRET};
use crate::identity::{organization_sdk_token, sdk_token};

async fn server_user(api: &Api, uid: &str) -> String {
    let created = api
        .post(&format!("/api/v1/server/users/{uid}"))
        .bearer(&sdk_token(uid, false, ORG_API_SECRET, 300))
        .json(json!({"expiry_seconds": 3600, "user_info": {"userId": uid, "fullName": "Ada Lovelace"}}))
        .send()
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    created.body["data"]["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The SDK's own token of an existing user is that user on the end-user routes.
pub async fn an_sdk_token_is_its_user_on_every_end_user_route(api: &Api) {
    server_user(api, "user123").await;
    let token = sdk_token("user123", true, ORG_API_SECRET, 300);
    let me = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["name"], "Ada Lovelace");
    let profile = me.str("id");
    for path in [
        "/users/me/devices".to_owned(),
        "/users/me/preferences".to_owned(),
        format!("/users/{profile}"),
        format!("/members/{profile}"),
        "/members?query=ada".to_owned(),
        "/sessions".to_owned(),
    ] {
        let reply = api.get(&path).bearer(&token).send().await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    let renamed = api
        .patch(&format!("/users/{profile}"))
        .bearer(&token)
        .json(json!({"name": "Ada King"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    // Node's token shape too.
    let node = sdk_token("user123", false, ORG_API_SECRET, 300);
    assert_eq!(api.get("/users/me").bearer(&node).send().await.status, 200);
    // And the directory saw the user: last seen moved.
    let seen = api
        .get(&format!("/members/{profile}/last-seen"))
        .bearer(&node)
        .send()
        .await;
    assert_eq!(seen.body["status"], "online", "{}", seen.text);
}

/// Anything but a live, unlocked user's token signed with its organization's active secret is 401, in
/// the family's envelope, and changes nothing.
pub async fn sdk_tokens_that_must_not_pass(api: &Api) {
    server_user(api, "user123").await;
    let (acme_admin, _) = crate::identity_security::second_organization(api).await;
    let _ = acme_admin;
    let now = switchboard::time::unix_now();
    let claims = |api_key: &str| json!({"user_id": "user123", "api_key": api_key, "org_id": ORG, "iat": now, "exp": now + 300});
    let signed = |alg: Algorithm, secret: &str, claims: serde_json::Value| {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let mut no_exp = claims(ORG_API_KEY);
    no_exp.as_object_mut().unwrap().remove("exp");
    for (what, token) in [
        (
            "an unknown user",
            sdk_token("nobody", false, ORG_API_SECRET, 300),
        ),
        (
            "an expired token",
            sdk_token("user123", false, ORG_API_SECRET, -60),
        ),
        (
            "a wrong secret",
            sdk_token("user123", false, "another-secret-0123456789abcdef0123", 300),
        ),
        (
            "another organization's",
            organization_sdk_token(
                ("acme", "acme-api-key"),
                "user123",
                false,
                "acme-api-secret-0123456789abcdef0123",
                300,
            ),
        ),
        (
            "a wrong api_key claim",
            signed(Algorithm::HS256, ORG_API_SECRET, claims("acme-api-key")),
        ),
        (
            "an unknown api_key",
            signed(Algorithm::HS256, ORG_API_SECRET, claims("nope")),
        ),
        (
            "HS384",
            signed(Algorithm::HS384, ORG_API_SECRET, claims(ORG_API_KEY)),
        ),
        (
            "HS512",
            signed(Algorithm::HS512, ORG_API_SECRET, claims(ORG_API_KEY)),
        ),
        ("no exp", signed(Algorithm::HS256, ORG_API_SECRET, no_exp)),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&claims(ORG_API_KEY).to_string())
            ),
        ),
    ] {
        let reply = api.get("/users/me/devices").bearer(&token).send().await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert_eq!(
            reply.body["error"]["message"], "token could not be verified",
            "{what}"
        );
    }

    // A locked user: 401 locked; unlocked, it passes again.
    let token = sdk_token("user123", false, ORG_API_SECRET, 300);
    let identity = api
        .app
        .identities
        .identity_by_external_id(ORG, "user123")
        .await
        .unwrap()
        .unwrap();
    let admin = api.admin_token().await;
    api.post(&format!("/identities/{}/lock", identity.id))
        .bearer(&admin)
        .send()
        .await;
    let locked = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(
        (locked.status, locked.message()),
        (401, "This account is locked")
    );
    api.post(&format!("/identities/{}/unlock", identity.id))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(api.get("/users/me").bearer(&token).send().await.status, 200);

    // A rotated secret stops the old one's tokens at once; the new one's pass.
    let key = OrganizationKey::key_of(ORG_API_KEY);
    let item = api.app.store.get(&key).await.unwrap().unwrap();
    let mut rotated = OrganizationKey::from_item(&item).unwrap();
    let version = rotated.version;
    rotated.api_secret = "rotated-secret-0123456789abcdef0123456".into();
    api.app
        .store
        .transact(vec![Write::Put(
            rotated.to_item().unwrap(),
            Condition::Version(version),
        )])
        .await
        .unwrap();
    assert_eq!(api.get("/users/me").bearer(&token).send().await.status, 401);
    let fresh = sdk_token(
        "user123",
        false,
        "rotated-secret-0123456789abcdef0123456",
        300,
    );
    assert_eq!(api.get("/users/me").bearer(&fresh).send().await.status, 200);

    // A deleted user's tokens stop.
    let deleted = api
        .delete("/api/v1/server/users/user123")
        .bearer(&fresh)
        .send()
        .await;
    assert!(deleted.status < 300, "{}", deleted.text);
    assert_eq!(api.get("/users/me").bearer(&fresh).send().await.status, 401);
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Registers `provider`'s issuer for the default organization (discovery finds its keys); its id.
async fn register(api: &Api, provider: &crate::oidc::Provider) -> String {
    let admin = api.admin_token().await;
    let added = api
        .post("/identity-providers")
        .bearer(&admin)
        .json(
            json!({"issuer": provider.issuer, "audiences": [crate::oidc::AUDIENCE],
            "nameClaim": "name", "emailClaim": "email"}),
        )
        .send()
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    added.str("id")
}

/// A token from the organization's own provider (a real client-credentials grant of `oidc-provider`) is
/// its user: provisioned on first use with `user.new`, kept up to date with its claims, stopped by a lock.
pub async fn a_token_of_the_organizations_provider_is_its_user(api: &Api) {
    let api = &crate::webhooks::local_targets(api);
    let provider = crate::oidc::Provider::start().await;
    register(api, &provider).await;
    let token = provider
        .client_credentials(
            "auth0|ada",
            json!({"name": "Ada Lovelace", "email": "ada@example.com"}),
        )
        .await;
    let me = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["name"], "Ada Lovelace");
    let identity = api
        .app
        .identities
        .identity_by_external_id(ORG, "auth0|ada")
        .await
        .unwrap()
        .expect("provisioned");
    assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    assert_eq!(
        identity.username, "ext:auth0|ada",
        "in the server-API namespace"
    );
    let told: Vec<_> = crate::outbox::pending(api)
        .await
        .into_iter()
        .filter(|e| e.event == "user.new")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    // The same user again, with x-user-id and X-Tenant-ID as antz sends them, and ES256.
    let es = provider
        .token(json!({"sub": "auth0|ada", "alg": "ES256", "claims": {"name": "Ada King", "email": "ada@example.com"}}))
        .await;
    let again = api
        .get("/users/me/devices")
        .bearer(&es)
        .header("x-user-id", "auth0|ada")
        .header("x-tenant-id", ORG)
        .send()
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let renamed = api.get("/users/me").bearer(&es).send().await;
    assert_eq!(renamed.body["name"], "Ada King", "the name claim moved");
    let users = crate::outbox::pending(api)
        .await
        .into_iter()
        .filter(|e| e.event == "user.new")
        .count();
    assert_eq!(users, 1, "provisioned once");

    // A rotated key is picked up by a process that has not seen the set yet (the cache refetches on an
    // unknown kid at most once a minute).
    provider.rotate().await;
    let rotated = provider.token(json!({"sub": "auth0|ada"})).await;
    let soon = api.get("/users/me").bearer(&rotated).send().await;
    assert_eq!(
        soon.status, 401,
        "fetched less than a minute ago: {}",
        soon.text
    );
    let fresh = crate::webhooks::local_targets(api);
    assert_eq!(
        fresh.get("/users/me").bearer(&rotated).send().await.status,
        200
    );

    // A lock stops the user's external tokens too.
    let admin = api.admin_token().await;
    api.post(&format!("/identities/{}/lock", identity.id))
        .bearer(&admin)
        .send()
        .await;
    let locked = api.get("/users/me").bearer(&es).send().await;
    assert_eq!(
        (locked.status, locked.message()),
        (401, "This account is locked")
    );
}

/// The attack set: each gets 401 and provisions nobody; a key set that cannot be fetched is a 503.
pub async fn tokens_from_elsewhere_that_must_not_pass(api: &Api) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let api = &crate::webhooks::local_targets(api);
    let provider = crate::oidc::Provider::start().await;
    let stranger = crate::oidc::Provider::start().await;
    register(api, &provider).await;
    crate::identity_security::second_organization(api).await;
    let now = switchboard::time::unix_now();
    let jwks = reqwest_free_get(&format!("{}/jwks", provider.issuer)).await;
    let public = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
    let forged = |alg: Algorithm, claims: serde_json::Value| {
        let mut header = Header::new(alg);
        header.kid = jwks["keys"][0]["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .unwrap()
    };
    let claims = json!({"iss": provider.issuer, "aud": crate::oidc::AUDIENCE, "sub": "mallory",
        "iat": now, "exp": now + 300});
    let cases: Vec<(&str, String, Headers)> = vec![
        (
            "a wrong audience",
            provider
                .token(json!({"sub": "mallory", "aud": "someone-else"}))
                .await,
            vec![],
        ),
        (
            "an unregistered issuer",
            stranger.token(json!({"sub": "mallory"})).await,
            vec![],
        ),
        (
            "an expired token",
            provider
                .token(json!({"sub": "mallory", "expiresIn": -600}))
                .await,
            vec![],
        ),
        (
            "an unknown kid",
            provider
                .token(json!({"sub": "mallory", "unpublished": true}))
                .await,
            vec![],
        ),
        (
            "a published kid, another key",
            provider
                .token(json!({"sub": "mallory", "unpublished": true,
            "kid": jwks["keys"][0]["kid"]}))
                .await,
            vec![],
        ),
        (
            "no kid",
            provider
                .token(json!({"sub": "mallory", "noKid": true}))
                .await,
            vec![],
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&claims.to_string())
            ),
            vec![],
        ),
        (
            "HS256 with the public key",
            forged(Algorithm::HS256, claims.clone()),
            vec![],
        ),
        (
            "another tenant",
            provider.token(json!({"sub": "mallory"})).await,
            vec![("x-tenant-id", "acme")],
        ),
        (
            "an x-user-id mismatch",
            provider.token(json!({"sub": "mallory"})).await,
            vec![("x-user-id", "alice")],
        ),
        (
            "no sub",
            provider
                .token(json!({"sub": "mallory", "claims": {"sub": null}}))
                .await,
            vec![],
        ),
    ];
    for (what, token, headers) in cases {
        let mut call = api.get("/users/me").bearer(&token);
        for (name, value) in headers {
            call = call.header(name, value);
        }
        let reply = call.send().await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert_eq!(
            reply.body["error"]["message"], "token could not be verified",
            "{what}"
        );
    }
    let nobody = api
        .app
        .identities
        .identity_by_external_id(ORG, "mallory")
        .await
        .unwrap();
    assert!(nobody.is_none(), "nobody provisioned");
    assert!(
        crate::outbox::pending(api)
            .await
            .iter()
            .all(|e| e.event != "user.new"),
        "no user.new"
    );

    // An issuer whose keys cannot be fetched: 503, not 401.
    let admin = api.admin_token().await;
    let down = crate::oidc::Provider::start().await;
    let added = api
        .post("/identity-providers")
        .bearer(&admin)
        .json(
            json!({"issuer": down.issuer, "audiences": [crate::oidc::AUDIENCE],
            "jwksUri": "http://127.0.0.1:9/jwks"}),
        )
        .send()
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let token = down.token(json!({"sub": "mallory"})).await;
    let unavailable = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.text);
}

/// The deployment's own provider (`SWITCHBOARD_OIDC_ISSUER`, `SWITCHBOARD_OIDC_AUDIENCE`) needs no
/// registration; its tokens are users of the configured organization only.
pub async fn the_configured_provider_needs_no_registration(api: &Api) {
    let provider = crate::oidc::Provider::start().await;
    let settings = switchboard::config::OidcSettings {
        issuer: provider.issuer.clone(),
        audiences: vec![crate::oidc::AUDIENCE.into()],
        jwks_url: None,
    };
    let api =
        &crate::webhooks::local_targets(api).reconfigured(|config| config.oidc = Some(settings));
    let token = provider
        .token(json!({"sub": "kc-7", "claims": {"name": "Grace Hopper"}}))
        .await;
    let me = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["name"], "Grace Hopper");
    let other = api
        .get("/users/me")
        .bearer(&token)
        .header("x-tenant-id", "acme")
        .send()
        .await;
    assert_eq!(other.status, 401, "{}", other.text);
    let wrong = provider
        .token(json!({"sub": "kc-7", "aud": "another-app"}))
        .await;
    assert_eq!(api.get("/users/me").bearer(&wrong).send().await.status, 401);
}

/// An issuer two organizations trust: its tokens need `X-Tenant-ID` to say whose user they are.
pub async fn an_issuer_two_organizations_trust_needs_the_tenant(api: &Api) {
    let api = &crate::webhooks::local_targets(api);
    let provider = crate::oidc::Provider::start().await;
    register(api, &provider).await;
    crate::identity_security::second_organization(api).await;
    api.app
        .identities
        .add_provider(switchboard::identity::providers::IdentityProvider {
            organization_id: "acme".into(),
            ..switchboard::identity::providers::IdentityProvider::configured(
                &switchboard::config::OidcSettings {
                    issuer: provider.issuer.clone(),
                    audiences: vec![crate::oidc::AUDIENCE.into()],
                    jwks_url: None,
                },
                "acme",
            )
        })
        .await
        .unwrap();
    let token = provider.token(json!({"sub": "shared-user"})).await;
    let ambiguous = api.get("/users/me").bearer(&token).send().await;
    assert_eq!(ambiguous.status, 401, "{}", ambiguous.text);
    for tenant in [ORG, "acme"] {
        let me = api
            .get("/users/me")
            .bearer(&token)
            .header("x-tenant-id", tenant)
            .send()
            .await;
        assert_eq!(me.status, 200, "{tenant}: {}", me.text);
        let user = api
            .app
            .identities
            .identity_by_external_id(tenant, "shared-user")
            .await
            .unwrap();
        assert!(user.is_some(), "a user of {tenant}");
    }
}

/// Registering providers: admin only, validated, one per issuer per organization, changed and removed.
pub async fn admins_register_the_issuers_they_trust(api: &Api) {
    let admin = api.admin_token().await;
    api.sign_up("robin", "robin-password").await;
    let user = api.sign_in("robin", "robin-password", None).await;
    let body = json!({"issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/",
        "audiences": ["client-a"]});
    let refused = api
        .post("/identity-providers")
        .bearer(&user)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let added = api
        .post("/identity-providers")
        .bearer(&admin)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(
        added.body["issuer"],
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
    );
    assert_eq!(added.body["userIdClaim"], "sub");
    let twice = api
        .post("/identity-providers")
        .bearer(&admin)
        .json(body)
        .send()
        .await;
    assert_eq!(twice.status, 409, "{}", twice.text);
    for (bad, problem) in [
        (
            json!({"audiences": ["a"]}),
            "request body must have required property 'issuer'",
        ),
        (
            json!({"issuer": "not a url", "audiences": ["a"]}),
            "request body/issuer must be an absolute http(s) URL",
        ),
        (
            json!({"issuer": "https://x.example", "audiences": []}),
            "request body/audiences must be 1 to 20 non-empty strings",
        ),
        (
            json!({"issuer": "https://x.example", "audiences": ["a"], "extra": 1}),
            "request body must NOT have additional properties",
        ),
    ] {
        let reply = api
            .post("/identity-providers")
            .bearer(&admin)
            .json(bad.clone())
            .send()
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert_eq!(reply.body["error"]["data"][0], problem, "{bad}");
    }
    let id = added.str("id");
    let listed = api.get("/identity-providers").bearer(&admin).send().await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let patched = api
        .patch(&format!("/identity-providers/{id}"))
        .bearer(&admin)
        .json(json!({"audiences": ["client-a", "client-b"], "userIdClaim": "email"}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["audiences"], json!(["client-a", "client-b"]));
    let (acme_admin, _) = crate::identity_security::second_organization(api).await;
    let hidden = api
        .get(&format!("/identity-providers/{id}"))
        .bearer(&acme_admin)
        .send()
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);
    let removed = api
        .delete(&format!("/identity-providers/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let gone = api
        .get(&format!("/identity-providers/{id}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(
        (gone.status, gone.message()),
        (404, "Identity provider not found")
    );
}

/// Extra request headers of an attack.
type Headers = Vec<(&'static str, &'static str)>;

/// A GET of a loopback URL's JSON, without an HTTP client crate.
async fn reqwest_free_get(url: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (address, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET /{path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap()
}
