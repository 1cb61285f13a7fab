//! The S3 ObjectCreated handler of the avatar quarantine (`uploads/`): each record's upload is checked,
//! copied to its avatar key and attached to its profile, or refused and deleted (`Avatars::process`).
//! S3 delivers at least once and out of order; settling is idempotent and the newest objectId wins, so a
//! failed invocation is simply retried whole.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use switchboard::avatar::Avatars;

pub async fn handle(avatars: Arc<Avatars>, event: S3Event) -> Result<(), lambda_http::Error> {
    for record in event.records {
        let Some(key) = record.s3.object.key.as_deref().map(object_key) else {
            continue;
        };
        match avatars.process(&key).await {
            Ok(outcome) => tracing::info!(key, ?outcome, "avatar upload settled"),
            Err(e) => {
                tracing::error!(key, cause = %e, "avatar upload not settled; the invocation is retried");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Event keys are URL-encoded, with `+` for a space.
fn object_key(encoded: &str) -> String {
    percent_encoding::percent_decode_str(&encoded.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
