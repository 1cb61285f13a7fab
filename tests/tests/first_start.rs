//! The first local start without any variable: default organization and admin with generated secrets,
//! printed once and kept (owner-only) in the data directory; nothing happens on the next start.

use std::sync::Arc;

use serde_json::Value;
use switchboard::App;
use switchboard::identity::SessionContext;
use switchboard::store::Store;
use switchboard_local::first_start::{credentials_file, first_start};
use switchboard_tests::api::config;

async fn creates_a_usable_admin_once(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::with_store(config(dir.path()), store);
    let message = first_start(&app, dir.path())
        .await
        .unwrap()
        .expect("created");
    let file = credentials_file(dir.path());
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let password = kept["adminPassword"].as_str().unwrap();
    let key = kept["adminApiKey"].as_str().unwrap();
    assert!(
        message.contains(password) && message.contains(key),
        "{message}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ids = &app.identities;
    let signed_in = ids
        .sign_in_with_password("default", "admin", password, SessionContext::default())
        .await
        .unwrap();
    assert_eq!(signed_in.identity.type_id, ids.types.admin);
    assert_eq!(
        ids.identity_for_api_key(key).await.unwrap().unwrap().id,
        signed_in.identity.id
    );
    let org = ids.organization("default").await.unwrap().unwrap();
    assert_eq!(
        Some(org.api_key.as_str()),
        kept["organizationApiKey"].as_str()
    );
    // The next start prints nothing and keeps the file as it was.
    assert_eq!(first_start(&app, dir.path()).await.unwrap(), None);
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(&file).unwrap()).unwrap(),
        kept
    );
}

#[tokio::test]
async fn first_start_on_the_embedded_store() {
    let (_guard, store) = switchboard_tests::embedded_store();
    creates_a_usable_admin_once(store).await;
}

#[tokio::test]
async fn first_start_on_dynamodb() {
    creates_a_usable_admin_once(switchboard_tests::dynamo_store().await).await;
}
