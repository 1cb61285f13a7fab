//! The S3 ObjectCreated sample events in `events/triggers/avatar-processor/` run through the avatar
//! processor's handler, on each storage backend with a bucket in s3s-fs: as they are (an object nobody
//! issued: nothing attached, no error), and naming a real upload, delivered twice (one attach).

use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use serde_json::Value;
use switchboard_tests::api::Api;
use switchboard_tests::avatar::{
    fixture, profile_version, quarantine, stored_avatar, upload, upload_url, user,
};

fn sample_events() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/triggers/avatar-processor");
    let mut events: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.display().to_string(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!events.is_empty());
    events
}

async fn sample_events_run_through_the_handler(api: Api) {
    let avatars = Arc::new(api.app.avatars.clone());
    let (token, profile) = user(&api, "robin").await;
    for (name, raw) in sample_events() {
        let event: S3Event =
            serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        avatar_processor::handle(avatars.clone(), event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        let red = fixture("red.png");
        let (object, url) = upload_url(&api, &token, &profile, "image/png", red.len()).await;
        assert_eq!(upload(&url, "image/png", &red).await, 200);
        let mut real = raw.clone();
        for record in real["Records"].as_array_mut().unwrap() {
            record["s3"]["bucket"]["name"] = api.app.avatars.objects.bucket().into();
            record["s3"]["object"]["key"] = quarantine(&profile, &object).into();
        }
        let mut versions = Vec::new();
        for _ in 0..2 {
            let event: S3Event = serde_json::from_value(real.clone()).unwrap();
            avatar_processor::handle(avatars.clone(), event)
                .await
                .unwrap();
            assert_eq!(
                stored_avatar(&api, &profile).await.unwrap()["objectId"],
                object,
                "{name}"
            );
            versions.push(profile_version(&api, &profile).await);
        }
        assert_eq!(
            versions[0], versions[1],
            "{name}: the same event twice attaches once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded() {
    sample_events_run_through_the_handler(Api::embedded().await.with_bucket().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb() {
    sample_events_run_through_the_handler(Api::dynamodb().await.with_bucket().await).await;
}
