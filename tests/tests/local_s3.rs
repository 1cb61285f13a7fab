//! The local server's own S3 endpoint (s3s + s3s-fs in process) with the README walkthrough over real HTTP:
//! get an upload URL, `curl -T` a picture to it, see it on the profile, open the avatar's URL. The endpoint
//! verifies SigV4 like S3, and an upload to it runs the avatar processor in process.

use serde_json::Value;
use switchboard_tests::api::Api;
use switchboard_tests::avatar::{fixture, http, upload};
use switchboard_tests::wire::{send, serve};

async fn walkthrough(api: Api) {
    let dir = tempfile::tempdir().unwrap();
    let (app, s3) = switchboard_local::s3::start(&api.app, 0, dir.path())
        .await
        .unwrap();
    let api = api.with_app(app);
    let addr = serve(&api).await;
    let (_, profile) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let red = fixture("red.png");

    let issued = send(
        addr,
        "GET",
        &format!(
            "/user-profiles/{profile}/avatar-upload-url?contentType=image/png&contentLength={}",
            red.len()
        ),
        &auth,
        None,
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let url = issued.str("url");
    assert!(
        url.starts_with(&format!("http://{s3}/switchboard-avatars/uploads/")),
        "{url}"
    );
    // The endpoint holds the URL to its terms, as S3 does.
    assert_eq!(upload(&url, "image/jpeg", &red).await, 403);
    assert_eq!(upload(&url, "image/png", &red).await, 200);

    let shown = send(addr, "GET", &format!("/users/{profile}"), &auth, None).await;
    assert_eq!(
        shown.body["avatar"]["objectId"],
        Value::from(issued.str("objectId")),
        "{}",
        shown.text
    );
    let avatar_url = shown.body["avatar"]["url"].as_str().unwrap();
    assert_eq!(http("GET", avatar_url, &[], b"").await, (200, red.clone()));

    // Bytes that are not the declared image are refused in process: the avatar stays.
    let junk = [&red[..33], &[0x42; 40][..]].concat();
    let second = send(
        addr,
        "GET",
        &format!(
            "/user-profiles/{profile}/avatar-upload-url?contentType=image/png&contentLength={}",
            junk.len()
        ),
        &auth,
        None,
    )
    .await;
    assert_eq!(upload(&second.str("url"), "image/png", &junk).await, 200);
    let after = send(addr, "GET", &format!("/users/{profile}"), &auth, None).await;
    assert_eq!(
        after.body["avatar"]["objectId"],
        shown.body["avatar"]["objectId"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded() {
    walkthrough(Api::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb() {
    walkthrough(Api::dynamodb().await).await;
}

/// The endpoint serves this machine only, with credentials of its own data directory: two directories, two
/// secret keys, and a URL signed for one is refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loopback_only_with_a_key_per_data_directory() {
    let api = Api::embedded().await;
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (app_one, s3_one) = switchboard_local::s3::start(&api.app, 0, one.path())
        .await
        .unwrap();
    let (_, s3_two) = switchboard_local::s3::start(&api.app, 0, two.path())
        .await
        .unwrap();
    assert!(s3_one.ip().is_loopback() && s3_two.ip().is_loopback());
    let key = |dir: &tempfile::TempDir| {
        std::fs::read_to_string(dir.path().join("secrets/s3-secret-key")).unwrap()
    };
    assert_ne!(key(&one), key(&two));
    // A URL signed with the first directory's key, sent to the second endpoint, fails its SigV4 check.
    let url = app_one
        .avatars
        .objects
        .download_url("avatars/x")
        .await
        .unwrap();
    let elsewhere = url.replace(&s3_one.to_string(), &s3_two.to_string());
    assert_eq!(http("GET", &elsewhere, &[], b"").await.0, 403);
    // The same directory keeps its key across restarts.
    let before = key(&one);
    switchboard_local::s3::start(&api.app, 0, one.path())
        .await
        .unwrap();
    assert_eq!(key(&one), before);
}
