//! The avatar suite (issue 7): upload URLs that S3 itself holds to their terms, the authorization matrix,
//! and settling uploads (check, attach once, newest wins, nothing left behind), on each storage backend
//! against the s3s-fs of the test services (which verifies SigV4).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchboard::avatar::Outcome;
use switchboard::avatar::objects::{self, AvatarObjects};
use switchboard::identity::Profile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::Api;

pub const S3S_URL: &str = "SWITCHBOARD_TEST_S3S_URL";

/// A fresh bucket in the test services' s3s-fs.
pub async fn bucket() -> AvatarObjects {
    let s3 = objects::endpoint_client(
        &crate::service_url(S3S_URL),
        "switchboardtest",
        "switchboardtestsecret",
    );
    let name = format!("avatars-{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = s3.create_bucket().bucket(&name).send().await {
        panic!("cannot create a bucket in s3s-fs: {e:?}");
    }
    AvatarObjects::new(s3, name)
}

pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One HTTP/1.1 request with a raw body to an `http://` URL (a presigned one), as curl sends it: the status
/// and the body.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let url = url::Url::parse(url).expect("url");
    let addr: SocketAddr = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
    .parse()
    .expect("a loopback address");
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    // A server that refuses early may close before reading the whole body.
    let _ = stream.read_to_end(&mut response).await;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let status = String::from_utf8_lossy(&response[..split])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response[(split + 4).min(response.len())..].to_vec())
}

/// `curl -T`: a PUT of `bytes` declaring `content_type`.
pub async fn upload(url: &str, content_type: &str, bytes: &[u8]) -> u16 {
    http("PUT", url, &[("content-type", content_type)], bytes)
        .await
        .0
}

/// An upload URL for `profile`: `(objectId, url)`.
pub async fn upload_url(
    api: &Api,
    token: &str,
    profile: &str,
    kind: &str,
    length: usize,
) -> (String, String) {
    let reply = api
        .get(&format!(
            "/user-profiles/{profile}/avatar-upload-url?contentType={kind}&contentLength={length}"
        ))
        .bearer(token)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (reply.str("objectId"), reply.str("url"))
}

/// Signs up a user with a profile: `(token, profileId)`.
pub async fn user(api: &Api, name: &str) -> (String, String) {
    let (_, profile) = api.sign_up(name, &format!("{name}-password")).await;
    (
        api.sign_in(name, &format!("{name}-password"), None).await,
        profile,
    )
}

pub fn quarantine(profile: &str, object: &str) -> String {
    objects::quarantine_key(crate::api::ORG, profile, object)
}

async fn exists(api: &Api, key: &str) -> bool {
    let objects = &api.app.avatars.objects;
    let url = objects.download_url(key).await.unwrap();
    match http("GET", &url, &[], b"").await.0 {
        200 => true,
        404 => false,
        other => panic!("GET {key}: {other}"),
    }
}

/// The profile as stored.
pub async fn stored(api: &Api, profile: &str) -> Profile {
    api.app.identities.profile(profile).await.unwrap().unwrap()
}

pub async fn profile_version(api: &Api, profile: &str) -> u64 {
    stored(api, profile).await.version
}

pub async fn stored_avatar(api: &Api, profile: &str) -> Option<Value> {
    stored(api, profile).await.avatar
}

/// The presigned PUT takes the declared upload and S3 refuses, by itself, any other length, any other
/// content type, another key and an expired URL.
pub async fn the_upload_url_holds_to_its_terms(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let red = fixture("red.png");
    let (object, url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );

    let longer = [&red[..], b"!"].concat();
    assert_eq!(
        upload(&url, "image/png", &longer).await,
        403,
        "another length"
    );
    assert_eq!(
        upload(&url, "image/jpeg", &red).await,
        403,
        "another content type"
    );
    let other_key = url.replace(&object, &uuid::Uuid::now_v7().to_string());
    assert_eq!(
        upload(&other_key, "image/png", &red).await,
        403,
        "an edited key"
    );
    let expired = api
        .app
        .avatars
        .objects
        .upload_url(
            &quarantine(&profile, &object),
            "image/png",
            red.len() as u64,
            SystemTime::now() - Duration::from_secs(16 * 60),
        )
        .await
        .unwrap();
    assert_eq!(
        upload(&expired, "image/png", &red).await,
        403,
        "an expired URL"
    );
    assert!(!exists(api, &quarantine(&profile, &object)).await);

    assert_eq!(
        upload(&url, "image/png", &red).await,
        200,
        "the declared upload"
    );
    assert!(exists(api, &quarantine(&profile, &object)).await);
}

/// Owner and admin get a URL; another user, a guest and no token do not (seed 003's messages); the
/// parameters are checked all at once.
pub async fn upload_url_authorization_and_validation(api: &Api) {
    let (owner, profile) = user(api, "robin").await;
    let (other, _) = user(api, "pat").await;
    let admin = api.admin_token().await;
    let guest = api
        .post("/accounts")
        .bearer(&admin)
        .json(
            json!({"username": "guest", "password": "guest-password", "type": "000",
            "profile": {"name": "guest"}}),
        )
        .send()
        .await;
    let guest_profile = guest.body["profile"]["id"].as_str().unwrap().to_owned();
    let guest = api.sign_in("guest", "guest-password", None).await;
    let path = |p: &str| {
        format!("/user-profiles/{p}/avatar-upload-url?contentType=image/png&contentLength=100")
    };
    let cases: Vec<(&str, String, Option<&str>, u16, &str)> = vec![
        ("owner", path(&profile), Some(&owner), 200, ""),
        ("admin", path(&profile), Some(&admin), 200, ""),
        (
            "other user",
            path(&profile),
            Some(&other),
            403,
            "Identity is not authorized to access this resource",
        ),
        (
            "guest, own profile",
            path(&guest_profile),
            Some(&guest),
            403,
            "Identity is not authorized to access this resource",
        ),
        (
            "no token",
            path(&profile),
            None,
            401,
            "token could not be verified",
        ),
        (
            "bad token",
            path(&profile),
            Some("nope"),
            401,
            "token could not be verified",
        ),
        (
            "admin, no such profile",
            path("missing"),
            Some(&admin),
            404,
            "User profile not found",
        ),
        (
            "user, no such profile",
            path("missing"),
            Some(&owner),
            403,
            "Identity is not authorized to access this resource",
        ),
    ];
    for (who, uri, token, status, message) in cases {
        let mut call = api.get(&uri);
        if let Some(token) = token {
            call = call.bearer(token);
        }
        let reply = call.send().await;
        assert_eq!(reply.status, status, "{who}: {}", reply.text);
        if status == 200 {
            assert!(uuid::Uuid::parse_str(&reply.str("objectId")).is_ok());
        } else {
            assert_eq!(reply.message(), message, "{who}");
        }
    }
    for (query, problems) in [
        (
            "contentType=image/svg%2Bxml&contentLength=10",
            vec!["request query/contentType must be equal to one of the allowed values"],
        ),
        (
            "contentType=text/html&contentLength=10",
            vec!["request query/contentType must be equal to one of the allowed values"],
        ),
        (
            "contentType=image/png&contentLength=0",
            vec!["request query/contentLength must be >= 1 and <= 10000000"],
        ),
        (
            "contentType=image/png&contentLength=10000001",
            vec!["request query/contentLength must be >= 1 and <= 10000000"],
        ),
        (
            "contentType=image/png&contentLength=1.5",
            vec!["request query/contentLength must be integer"],
        ),
        (
            "",
            vec![
                "request query must have required property 'contentType'",
                "request query must have required property 'contentLength'",
            ],
        ),
        (
            "contentType=image/heic&contentLength=10&x=1",
            vec!["request query must NOT have additional properties"],
        ),
    ] {
        let reply = api
            .get(&format!(
                "/user-profiles/{profile}/avatar-upload-url?{query}"
            ))
            .bearer(&owner)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.message()),
            (400, "Validation Error"),
            "{query}"
        );
        assert_eq!(reply.body["error"]["data"], json!(problems), "{query}");
    }
}

/// A PNG header followed by junk, a text file sent as image/png and a truncated JPEG: refused, deleted,
/// the profile unchanged. A good upload is attached, and the same event again changes nothing.
pub async fn uploads_are_checked_and_attached_once(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let red = fixture("red.png");
    let jpeg = fixture("grey.jpg");
    let junk = [&red[..33], &[0x42; 40][..]].concat();
    let cases: [(&str, Vec<u8>); 3] = [
        ("image/png", junk),
        ("image/png", b"just some text, not an image at all".to_vec()),
        ("image/jpeg", jpeg[..jpeg.len() - 2].to_vec()),
    ];
    let before = api.app.identities.profile(&profile).await.unwrap().unwrap();
    for (kind, bytes) in cases {
        let (object, url) = upload_url(api, &token, &profile, kind, bytes.len()).await;
        assert_eq!(upload(&url, kind, &bytes).await, 200);
        let key = quarantine(&profile, &object);
        let outcome = api.app.avatars.process(&key).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Refused(_)),
            "{kind}: {outcome:?}"
        );
        assert!(!exists(api, &key).await, "{kind}: deleted");
    }
    let after = api.app.identities.profile(&profile).await.unwrap().unwrap();
    assert_eq!((after.version, after.avatar), (before.version, None));

    let (object, url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    assert_eq!(upload(&url, "image/png", &red).await, 200);
    let key = quarantine(&profile, &object);
    let outcome = api.app.avatars.process(&key).await.unwrap();
    assert!(matches!(outcome, Outcome::Attached(_)), "{outcome:?}");
    let attached = api.app.identities.profile(&profile).await.unwrap().unwrap();
    let again = api.app.avatars.process(&key).await.unwrap();
    assert!(matches!(again, Outcome::AlreadyAttached), "{again:?}");
    let unchanged = api.app.identities.profile(&profile).await.unwrap().unwrap();
    assert_eq!(unchanged.version, attached.version, "one attach");
    // The outbox: the attach told `avatar.updated` once, the refusals and the second event nothing.
    let told: Vec<_> = crate::outbox::pending(api)
        .await
        .into_iter()
        .filter(|e| e.event == "avatar.updated")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    crate::outbox::assert_no_secret(&told);
    assert_eq!(told[0].payload["profileId"], profile);
    assert_eq!(told[0].payload["objectId"], object);
    assert_eq!(told[0].payload["contentType"], "image/png");
    let avatar = stored_avatar(api, &profile).await.unwrap();
    assert_eq!(avatar["objectId"], object);
    assert!(!exists(api, &key).await, "nothing left in quarantine");
    let final_key = objects::avatar_key(crate::api::ORG, &profile, &object);
    let download = api
        .app
        .avatars
        .objects
        .download_url(&final_key)
        .await
        .unwrap();
    assert_eq!(http("GET", &download, &[], b"").await, (200, red));
}

/// Two uploads racing, their events delivered in any order and concurrently: the later one (by objectId)
/// wins, the earlier object is gone and nothing is left in quarantine.
pub async fn the_later_upload_wins(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    for newest_first in [false, true] {
        let red = fixture("red.png");
        let blue = fixture("blue.png");
        let (older, older_url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
        let (newer, newer_url) = upload_url(api, &token, &profile, "image/png", blue.len()).await;
        assert!(older < newer);
        assert_eq!(upload(&older_url, "image/png", &red).await, 200);
        assert_eq!(upload(&newer_url, "image/png", &blue).await, 200);
        let (older_key, newer_key) = (quarantine(&profile, &older), quarantine(&profile, &newer));
        if newest_first {
            api.app.avatars.process(&newer_key).await.unwrap();
            let late = api.app.avatars.process(&older_key).await.unwrap();
            assert!(matches!(late, Outcome::Superseded), "{late:?}");
        } else {
            let (a, b) = tokio::join!(
                api.app.avatars.process(&older_key),
                api.app.avatars.process(&newer_key)
            );
            a.unwrap();
            b.unwrap();
        }
        assert_eq!(
            stored_avatar(api, &profile).await.unwrap()["objectId"],
            newer
        );
        for key in [
            older_key,
            newer_key,
            objects::avatar_key(crate::api::ORG, &profile, &older),
        ] {
            assert!(!exists(api, &key).await, "{key} is gone");
        }
        assert!(exists(api, &objects::avatar_key(crate::api::ORG, &profile, &newer)).await);
    }
}

/// Removing the avatar outlasts uploads issued before the removal: one whose S3 event comes late does not
/// bring an avatar back; one issued after the removal attaches.
pub async fn a_removal_outlasts_earlier_uploads(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    attached(api, &token, &profile, &fixture("red.png")).await;
    let blue = fixture("blue.png");
    let (late, late_url) = upload_url(api, &token, &profile, "image/png", blue.len()).await;
    assert_eq!(upload(&late_url, "image/png", &blue).await, 200);

    let removed = api
        .patch(&format!("/users/{profile}"))
        .bearer(&token)
        .json(json!({"avatar": null}))
        .send()
        .await;
    assert_eq!(
        (removed.status, &removed.body["avatar"]),
        (200, &Value::Null)
    );
    let late_key = quarantine(&profile, &late);
    let outcome = api.app.avatars.process(&late_key).await.unwrap();
    assert!(matches!(outcome, Outcome::Superseded), "{outcome:?}");
    assert_eq!(stored_avatar(api, &profile).await, None);
    for key in [
        late_key,
        objects::avatar_key(crate::api::ORG, &profile, &late),
    ] {
        assert!(!exists(api, &key).await, "{key} is gone");
    }

    let fresh = attached(api, &token, &profile, &blue).await;
    assert_eq!(
        stored_avatar(api, &profile).await.unwrap()["objectId"],
        fresh
    );
}

/// The avatar served is the bytes that were checked: a presigned PUT replayed with other bytes of the same
/// length before the check is checked itself (and refused when it is no image), one replayed after the
/// attach changes nothing, and the stored object always matches the attached SHA-256.
pub async fn the_checked_bytes_are_the_stored_bytes(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let red = fixture("red.png");
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bytes))
    };
    let served = |profile: String| async move {
        let avatar = stored_avatar(api, &profile).await.unwrap();
        let key = avatar["key"].as_str().unwrap().to_owned();
        let url = api.app.avatars.objects.download_url(&key).await.unwrap();
        let (status, bytes) = http("GET", &url, &[], b"").await;
        assert_eq!(status, 200);
        (avatar, bytes)
    };
    // Replayed before the S3 event is handled, with garbage of the same length: the garbage is what is
    // checked, and refused; nothing is attached.
    let (object, url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    assert_eq!(upload(&url, "image/png", &red).await, 200);
    let garbage = vec![b'x'; red.len()];
    assert_eq!(upload(&url, "image/png", &garbage).await, 200);
    let outcome = api
        .app
        .avatars
        .process(&quarantine(&profile, &object))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
    assert_eq!(stored_avatar(api, &profile).await, None);

    // Attached, then replayed with garbage: the S3 event of the replay attaches nothing new and the
    // served bytes stay the checked ones.
    let (object, url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    assert_eq!(upload(&url, "image/png", &red).await, 200);
    let key = quarantine(&profile, &object);
    api.app.avatars.process(&key).await.unwrap();
    let (avatar, bytes) = served(profile.clone()).await;
    assert_eq!(bytes, red);
    assert_eq!(avatar["sha256"], sha(&red));
    assert_eq!(upload(&url, "image/png", &garbage).await, 200);
    let outcome = api.app.avatars.process(&key).await.unwrap();
    assert!(matches!(outcome, Outcome::AlreadyAttached), "{outcome:?}");
    let (avatar, bytes) = served(profile.clone()).await;
    assert_eq!(
        (bytes, avatar["sha256"].clone()),
        (red.clone(), sha(&red).into())
    );
}

/// A phone photo's metadata is never served: a JPEG with an EXIF GPS block, synced or uploaded through a
/// presigned URL, is stored and served without it (its orientation kept).
pub async fn photos_are_served_without_their_metadata(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let grey = fixture("grey.jpg");
    let secret = b"GPS 52.5200N 13.4050E";
    // APP1 EXIF right after SOI: orientation 6 and an ASCII value standing in for the GPS block.
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x02\x01\x12\0\x03\0\0\0\x01\0\x06\0\0".to_vec();
    tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x02, 0x00, 0x00, 0x00, secret.len() as u8]);
    tiff.extend_from_slice(&38u32.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(secret);
    let data = [&b"Exif\0\0"[..], &tiff].concat();
    let app1 = [
        &[0xFF, 0xE1][..],
        &((data.len() + 2) as u16).to_be_bytes(),
        &data,
    ]
    .concat();
    let photo = [&grey[..2], &app1, &grey[2..]].concat();
    let served = |url: String| async move {
        let (status, bytes) = http("GET", &url, &[], b"").await;
        assert_eq!(status, 200);
        bytes
    };
    let gps = |bytes: &[u8]| bytes.windows(secret.len()).any(|w| w == secret);
    assert!(gps(&photo));

    let synced = api
        .post("/users/me/avatar/sync")
        .bearer(&token)
        .json(json!({"base64": format!("data:image/jpeg;base64,{}", base64(&photo))}))
        .send()
        .await;
    assert_eq!(synced.status, 200, "{}", synced.text);
    let bytes = served(synced.str("avatarUrl")).await;
    assert!(!gps(&bytes), "the synced avatar carries no GPS");
    assert!(
        bytes.windows(2).any(|w| w == [0x01, 0x12]),
        "the orientation is kept"
    );

    let (object, url) = upload_url(api, &token, &profile, "image/jpeg", photo.len()).await;
    assert_eq!(upload(&url, "image/jpeg", &photo).await, 200);
    api.app
        .avatars
        .process(&quarantine(&profile, &object))
        .await
        .unwrap();
    let avatar = stored_avatar(api, &profile).await.unwrap();
    assert_eq!(avatar["objectId"], object.as_str());
    let key = avatar["key"].as_str().unwrap().to_owned();
    let url = api.app.avatars.objects.download_url(&key).await.unwrap();
    assert!(
        !gps(&served(url).await),
        "the uploaded avatar carries no GPS"
    );
}

/// An object nobody issued, or under another profile's prefix, is deleted and attaches nothing.
pub async fn only_issued_uploads_attach(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let (_, other) = user(api, "pat").await;
    let red = fixture("red.png");
    let (object, url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    assert_eq!(upload(&url, "image/png", &red).await, 200);
    // The same bytes put under pat's prefix (as a bucket writer could) are not pat's upload.
    let stray = quarantine(&other, &object);
    let objects = &api.app.avatars.objects;
    let bytes = objects
        .read(&quarantine(&profile, &object), red.len())
        .await
        .unwrap()
        .unwrap();
    objects.put(&stray, bytes, "image/png").await.unwrap();
    let outcome = api.app.avatars.process(&stray).await.unwrap();
    assert!(matches!(outcome, Outcome::NotIssued), "{outcome:?}");
    assert!(!exists(api, &stray).await);
    assert_eq!(stored_avatar(api, &other).await, None);
    // Issued but never uploaded: nothing happens.
    let (pending, _) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    let outcome = api
        .app
        .avatars
        .process(&quarantine(&profile, &pending))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::NotUploaded), "{outcome:?}");
}

/// Uploads `bytes` with a URL for `profile` and lets the S3 event attach it: the objectId.
pub async fn attached(api: &Api, token: &str, profile: &str, bytes: &[u8]) -> String {
    let (object, url) = upload_url(api, token, profile, "image/png", bytes.len()).await;
    assert_eq!(upload(&url, "image/png", bytes).await, 200);
    let outcome = api
        .app
        .avatars
        .process(&quarantine(profile, &object))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Attached(_)), "{outcome:?}");
    object
}

/// Every response that shows the profile gives `{url, objectId}`, the URL a working 15-minute GET.
pub async fn profiles_show_a_fresh_avatar_url(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let red = fixture("red.png");
    let object = attached(api, &token, &profile, &red).await;
    let admin = api.admin_token().await;
    let shown = api
        .get(&format!("/users/{profile}"))
        .bearer(&token)
        .send()
        .await;
    let avatar = shown.body["avatar"].as_object().unwrap().clone();
    assert_eq!(
        avatar.keys().collect::<Vec<_>>(),
        ["objectId", "url"],
        "{}",
        shown.text
    );
    assert_eq!(avatar["objectId"], object.as_str());
    let url = avatar["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    assert_eq!(http("GET", url, &[], b"").await, (200, red));
    let listed = api.get("/users").bearer(&admin).send().await;
    let mine = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == profile.as_str())
        .unwrap();
    assert_eq!(mine["avatar"]["objectId"], object.as_str());
    let renamed = api
        .patch(&format!("/users/{profile}"))
        .bearer(&token)
        .json(json!({"name": "Robin Hood"}))
        .send()
        .await;
    assert_eq!(renamed.body["avatar"]["objectId"], object.as_str());
    // The accounts API shows the same.
    let account = renamed.str("identityId");
    for (uri, at) in [
        (format!("/accounts/{account}/profile"), "/avatar"),
        (
            format!("/accounts/{account}?include=profile"),
            "/profile/avatar",
        ),
    ] {
        let reply = api.get(&uri).bearer(&token).send().await;
        let avatar = reply
            .body
            .pointer(at)
            .unwrap_or_else(|| panic!("{uri}: {}", reply.text));
        assert_eq!(avatar["objectId"], object.as_str(), "{uri}");
        let url = avatar["url"].as_str().unwrap();
        assert_eq!(http("GET", url, &[], b"").await.0, 200, "{uri}");
        assert_eq!(avatar.as_object().unwrap().len(), 2, "{uri}");
    }
}

/// The seed's flow: after the upload the client PATCHes the objectId, attached at once whether or not the
/// S3 event came first; only an objectId issued for that profile is accepted; `null` removes the avatar
/// and its object.
pub async fn patch_attaches_issued_uploads_only(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let (pat, pats_profile) = user(api, "pat").await;
    let red = fixture("red.png");
    let (object, url) = upload_url(api, &token, &profile, "image/png", red.len()).await;
    let patch = |body: Value| {
        api.patch(&format!("/users/{profile}"))
            .bearer(&token)
            .json(body)
    };
    let not_yet = patch(json!({"avatar": {"objectId": object}})).send().await;
    assert_eq!(
        (not_yet.status, not_yet.body["error"]["data"].clone()),
        (
            400,
            json!(["request body/avatar/objectId has not been uploaded"])
        )
    );
    assert_eq!(upload(&url, "image/png", &red).await, 200);
    // The client's `url` is ignored.
    let patched =
        patch(json!({"avatar": {"objectId": object, "url": "https://evil.example/x.png"}}))
            .send()
            .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["avatar"]["objectId"], object.as_str());
    assert!(
        !patched.body["avatar"]["url"]
            .as_str()
            .unwrap()
            .contains("evil")
    );
    let version = profile_version(api, &profile).await;
    // The S3 event after the PATCH, and the PATCH again: nothing more happens.
    api.app
        .avatars
        .process(&quarantine(&profile, &object))
        .await
        .unwrap();
    assert_eq!(
        patch(json!({"avatar": {"objectId": object}}))
            .send()
            .await
            .status,
        200
    );
    assert_eq!(profile_version(api, &profile).await, version);

    let (pats_object, _) = upload_url(api, &pat, &pats_profile, "image/png", red.len()).await;
    for (body, problems) in [
        (
            json!({"avatar": {"objectId": uuid::Uuid::now_v7().to_string()}}),
            json!(["request body/avatar/objectId was not issued for this profile"]),
        ),
        (
            json!({"avatar": {"objectId": pats_object}}),
            json!(["request body/avatar/objectId was not issued for this profile"]),
        ),
        (
            json!({"avatar": {"objectId": "../../avatars/x"}}),
            json!(["request body/avatar/objectId was not issued for this profile"]),
        ),
        (
            json!({"avatar": {"url": "https://cdn.example.com/a.png"}}),
            json!(["request body/avatar must have required property 'objectId'"]),
        ),
        (
            json!({"avatar": {"objectId": 7}}),
            json!(["request body/avatar/objectId must be string"]),
        ),
        (
            json!({"avatar": {"objectId": object, "type": "image/png"}}),
            json!(["request body/avatar must NOT have additional properties"]),
        ),
    ] {
        let reply = patch(body.clone()).send().await;
        assert_eq!(
            (reply.status, reply.message()),
            (400, "Validation Error"),
            "{body}"
        );
        assert_eq!(reply.body["error"]["data"], problems, "{body}");
    }
    assert_eq!(
        stored_avatar(api, &profile).await.unwrap()["objectId"],
        object.as_str()
    );

    let key = objects::avatar_key(crate::api::ORG, &profile, &object);
    assert!(exists(api, &key).await);
    let removed = patch(json!({"avatar": null})).send().await;
    assert_eq!(
        (removed.status, removed.body["avatar"].clone()),
        (200, Value::Null)
    );
    assert!(
        !exists(api, &key).await,
        "the removed avatar's object is gone"
    );

    // Nor can the accounts API write one.
    let account = removed.str("identityId");
    let refused = api
        .patch(&format!("/accounts/{account}/profile"))
        .bearer(&token)
        .json(json!({"avatar": {"objectId": object}}))
        .send()
        .await;
    assert_eq!(
        (refused.status, refused.message()),
        (400, "Validation Error")
    );
    assert_eq!(stored_avatar(api, &profile).await, None);
}

/// Deleting a user deletes their avatar's object.
pub async fn deleting_a_user_deletes_their_avatar(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let object = attached(api, &token, &profile, &fixture("red.png")).await;
    let key = objects::avatar_key(crate::api::ORG, &profile, &object);
    assert!(exists(api, &key).await);
    let deleted = api
        .delete(&format!("/users/{profile}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(!exists(api, &key).await);
}

/// Sync settles who may write before it fetches anything: a guest's URL is refused (403) and never
/// requested.
pub async fn sync_checks_the_caller_before_fetching(api: &Api) {
    // Loopback admitted, so the receiver would be fetched if anything were.
    let api = &api.reconfigured(|c| {
        c.outbound = switchboard::outbound::Policy::from_env(|name| {
            (name == switchboard::outbound::ALLOW_PRIVATE_TARGETS).then(|| "1".to_owned())
        })
    });
    let receiver = crate::receiver::Receiver::start().await;
    let guest = api
        .post("/accounts")
        .bearer(&api.admin_token().await)
        .json(
            json!({"username": "guest", "password": "guest-password", "type": "000",
                     "profile": {"name": "guest"}}),
        )
        .send()
        .await;
    assert_eq!(guest.status, 201, "{}", guest.text);
    let guest = api.sign_in("guest", "guest-password", None).await;
    let reply = api
        .post("/users/me/avatar/sync")
        .bearer(&guest)
        .json(json!({"url": format!("{}/avatar.png", receiver.url)}))
        .send()
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(receiver.received().is_empty(), "nothing was fetched");
}

/// Deleting an account, or a user through the server SDK's API, deletes its avatar's object too.
pub async fn deleting_an_account_deletes_its_avatar(api: &Api) {
    let admin = api.admin_token().await;
    let (token, profile) = user(api, "robin").await;
    let object = attached(api, &token, &profile, &fixture("red.png")).await;
    let key = objects::avatar_key(crate::api::ORG, &profile, &object);
    assert!(exists(api, &key).await);
    let account = stored(api, &profile).await.identity_id;
    let deleted = api
        .delete(&format!("/accounts/{account}"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(!exists(api, &key).await, "the account's avatar is gone");

    // An SDK user (external id) with an avatar, deleted by the server API.
    let sdk = crate::identity::sdk_token("sdk-user", false, crate::api::ORG_API_SECRET, 300);
    let created = api
        .post("/api/v1/server/users/sdk-user")
        .bearer(&sdk)
        .json(json!({"user_info": {"userId": "sdk-user", "fullName": "Sdk User"}}))
        .send()
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let user_token = created.body["data"]["token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let identity = api
        .app
        .identities
        .identity_by_external_id(crate::api::ORG, "sdk-user")
        .await
        .unwrap()
        .unwrap();
    let sdk_profile = identity.profile_id.unwrap();
    let object = attached(api, &user_token, &sdk_profile, &fixture("red.png")).await;
    let key = objects::avatar_key(crate::api::ORG, &sdk_profile, &object);
    assert!(exists(api, &key).await);
    let deleted = api
        .delete("/api/v1/server/users/sdk-user")
        .bearer(&sdk)
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(!exists(api, &key).await, "the SDK user's avatar is gone");
}

/// Antz's sync: a base64 data URI becomes the avatar; the same image again is a no-op (one object, no
/// write); what is not an image, not base64 or over the limit is a 400; URLs to this machine are refused.
pub async fn sync_from_base64_or_url(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let red = fixture("red.png");
    let sync = |body: Value| api.post("/users/me/avatar/sync").bearer(&token).json(body);
    let data = json!({"base64": format!("data:image/png;base64,{}", base64(&red))});
    let first = sync(data.clone()).send().await;
    assert_eq!(first.status, 200, "{}", first.text);
    let url = first.str("avatarUrl");
    assert_eq!(http("GET", &url, &[], b"").await, (200, red.clone()));
    let attached = stored(api, &profile).await;
    let again = sync(data).send().await;
    assert_eq!(again.status, 200, "{}", again.text);
    let after = stored(api, &profile).await;
    assert_eq!(
        (after.version, after.avatar),
        (attached.version, attached.avatar.clone()),
        "a no-op"
    );

    // Inline, an image is at most 4,194,304 bytes (its request must fit in a Lambda invocation).
    let too_big = vec![0u8; users::MAX_INLINE_AVATAR + 1];
    for (body, message) in [
        (
            json!({"base64": format!("data:image/png;base64,{}", base64(b"not an image"))}),
            "The file is not of the declared type image/png",
        ),
        (
            json!({"base64": "data:image/png;base64,%%%not-base64%%%"}),
            "Validation Error",
        ),
        (
            json!({"base64": "image/png;base64,AAAA"}),
            "Validation Error",
        ),
        (
            json!({"base64": format!("data:image/png;base64,{}", base64(&too_big))}),
            "The image is larger than 4194304 bytes",
        ),
        (
            json!({"base64": format!("data:image/svg+xml;base64,{}", base64(b"<svg/>"))}),
            "The image type \"image/svg+xml\" is not accepted; use image/jpeg, image/png, image/gif or image/webp",
        ),
        (
            json!({"url": "https://localhost/a.png"}),
            "The URL's host is not a public internet address",
        ),
        (
            json!({"url": "https://127.0.0.1/a.png"}),
            "The URL's host is not a public internet address",
        ),
        (
            json!({"url": "https://169.254.169.254/latest/meta-data"}),
            "The URL's host is not a public internet address",
        ),
        (
            json!({"url": "https://[::ffff:10.0.0.1]/a.png"}),
            "The URL's host is not a public internet address",
        ),
        (
            json!({"url": "http://example.com/a.png"}),
            "Only https URLs are accepted",
        ),
        (json!({}), "Validation Error"),
    ] {
        let reply = sync(body.clone()).send().await;
        assert_eq!((reply.status, reply.message()), (400, message), "{body}");
    }
    let unchanged = stored(api, &profile).await;
    assert_eq!(
        unchanged.version, attached.version,
        "refusals change nothing"
    );
}

/// One part of a multipart/form-data body: `(field name, file name, content type, bytes)`.
pub type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

const BOUNDARY: &str = "----switchboard-test-boundary";

/// A multipart/form-data body of `parts`, closed or (`closed: false`) cut before its final boundary.
pub fn form(parts: &[Part], closed: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, content_type, bytes) in parts {
        body.extend(
            format!("--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"{name}\"").bytes(),
        );
        if let Some(file_name) = file_name {
            body.extend(format!("; filename=\"{file_name}\"").bytes());
        }
        body.extend(b"\r\n");
        if let Some(content_type) = content_type {
            body.extend(format!("content-type: {content_type}\r\n").bytes());
        }
        body.extend(b"\r\n");
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    if closed {
        body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    }
    body
}

/// The file part of a PNG.
pub fn png(bytes: &[u8]) -> Part<'_> {
    ("avatar", Some("robin.png"), Some("image/png"), bytes)
}

pub fn multipart() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Antz's upload: the one file part of a multipart/form-data body becomes the avatar as sync's bytes do (the
/// same image again keeps its object, no write); every refusal is a 400 that changes nothing; a body over
/// API Gateway's real ceiling (4,194,304 bytes) is a 413.
pub async fn upload_multipart(api: &Api) {
    let (token, profile) = user(api, "robin").await;
    let red = fixture("red.png");
    let put = |content_type: &str, body: Vec<u8>| {
        api.put("/users/me/avatar")
            .bearer(&token)
            .bytes(content_type, body)
    };
    let first = put(&multipart(), form(&[png(&red)], true)).send().await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        http("GET", &first.str("avatarUrl"), &[], b"").await,
        (200, red.clone())
    );
    let shown = api
        .get(&format!("/users/{profile}"))
        .bearer(&token)
        .send()
        .await;
    let url = shown.body["avatar"]["url"].as_str().expect("an avatar url");
    assert_eq!(http("GET", url, &[], b"").await, (200, red.clone()));
    let attached = stored(api, &profile).await;
    // Other (text) parts are ignored.
    let note = ("note", None, None, b"hello".as_slice());
    let again = put(&multipart(), form(&[note, png(&red)], true))
        .send()
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let after = stored(api, &profile).await;
    assert_eq!(
        (after.version, after.avatar),
        (attached.version, attached.avatar.clone()),
        "the same image: same objectId, no write"
    );

    let validation = "Validation Error";
    for (content_type, body, message) in [
        (
            "application/json".to_owned(),
            br#"{"avatar": "robin.png"}"#.to_vec(),
            validation,
        ),
        (
            "multipart/form-data".to_owned(),
            form(&[png(&red)], true),
            validation,
        ),
        (multipart(), form(&[note], true), validation),
        (multipart(), form(&[png(&red), png(&red)], true), validation),
        (multipart(), form(&[png(&red)], false), validation),
        (
            multipart(),
            form(&[png(b"not an image".as_slice())], true),
            "The file is not of the declared type image/png",
        ),
        (
            multipart(),
            form(
                &[(
                    "avatar",
                    Some("a.txt"),
                    Some("text/plain"),
                    b"hello".as_slice(),
                )],
                true,
            ),
            "The image type \"text/plain\" is not accepted; use image/jpeg, image/png, image/gif or image/webp",
        ),
        (
            multipart(),
            form(
                &[(
                    "avatar",
                    Some("a.svg"),
                    Some("image/svg+xml"),
                    b"<svg/>".as_slice(),
                )],
                true,
            ),
            "The image type \"image/svg+xml\" is not accepted; use image/jpeg, image/png, image/gif or image/webp",
        ),
        (
            multipart(),
            form(&[("avatar", Some("robin.png"), None, &red[..])], true),
            "The image type \"application/octet-stream\" is not accepted; use image/jpeg, image/png, image/gif or image/webp",
        ),
    ] {
        let reply = put(&content_type, body).send().await;
        assert_eq!(
            (reply.status, reply.message()),
            (400, message),
            "{content_type}: {}",
            reply.text
        );
    }
    // Over SWITCHBOARD_AVATAR_MAX_SIZE.
    let small = api.reconfigured(|c| c.avatar_max_size = red.len() - 1);
    let blue = fixture("blue.png");
    let reply = small
        .put("/users/me/avatar")
        .bearer(&token)
        .bytes(&multipart(), form(&[png(&blue)], true))
        .send()
        .await;
    let limit = format!("The image is larger than {} bytes", red.len() - 1);
    assert_eq!((reply.status, reply.message()), (400, limit.as_str()));

    // API Gateway's real ceiling: a body of 4,194,304 bytes is read (and refused as no image), one more byte
    // is a 413 without being read.
    let ceiling = 4_194_304;
    let padding = ceiling - form(&[png(&[])], true).len();
    let at_ceiling = form(&[png(&vec![0; padding])], true);
    assert_eq!(at_ceiling.len(), ceiling);
    let reply = put(&multipart(), at_ceiling).send().await;
    assert_eq!(
        (reply.status, reply.message()),
        (400, "The file is not of the declared type image/png")
    );
    let over = form(&[png(&vec![0; padding + 1])], true);
    let reply = put(&multipart(), over).send().await;
    assert_eq!(
        (reply.status, reply.message()),
        (413, "The request body is larger than 4194304 bytes")
    );
    let unchanged = stored(api, &profile).await;
    assert_eq!(
        (unchanged.version, unchanged.avatar),
        (attached.version, attached.avatar),
        "refusals change nothing"
    );
}
