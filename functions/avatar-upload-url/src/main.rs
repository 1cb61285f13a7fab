use std::sync::Arc;

use avatar_upload_url::AvatarUploads;
use switchboard::avatar::Avatars;
use switchboard::identity::Identities;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let objects =
        switchboard::app::avatar_objects(&config, switchboard::lambda::aws_config().await);
    let uploads = Arc::new(AvatarUploads {
        identities: Identities::new(store.clone(), &config),
        avatars: Avatars::new(store, objects),
    });
    switchboard::lambda::serve(uploads, avatar_upload_url::handle).await
}
