//! Seed 003's "Get Avatar Upload URL": `GET /user-profiles/{profileId}/avatar-upload-url?contentType=…&
//! contentLength=…` answers `{objectId, url}`, a presigned S3 PUT (15 minutes) of exactly that type and
//! length to the profile's quarantine. Presigning is local: the only calls are the token check, the profile
//! read and the write recording the upload as issued.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::json;
use switchboard::Result;
use switchboard::app::Profiles;
use switchboard::avatar::MAX_UPLOAD_BYTES;
use switchboard::avatar::image::ImageType;
use switchboard::avatar::objects::AvatarObjects;
use switchboard::config::Config;
use switchboard::error::Error;
use switchboard::store::Store;
use switchboard_api::http::{self, Family};
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// The identities (who may upload to which profile), and the avatars.
pub type State = Profiles;

pub fn state(config: &Config, store: Arc<dyn Store>, objects: AvatarObjects) -> State {
    Profiles::new(config, store, objects)
}

const PROFILE_NOT_FOUND: &str = "User profile not found";

pub static ROUTES: Routes<State> = Routes {
    family: Family::Users,
    routes: &[route!(
        "GET /user-profiles/{profileId}/avatar-upload-url",
        upload_url(profileId)
    )
    .failure("Failed to get avatar upload URL")],
};

async fn upload_url(uploads: &State, request: &Request, id: &str) -> Result<Response<Body>> {
    let caller = caller::principal(&uploads.identities, request).await?;
    let (kind, length) = parameters(request)?;
    let profile = uploads
        .identities
        .profile_for(&caller, id, true, PROFILE_NOT_FOUND)
        .await?;
    let (object_id, url) = uploads.avatars.issue_upload(&profile, kind, length).await?;
    Ok(http::json(
        200,
        &json!({ "objectId": object_id, "url": url }),
    ))
}

/// `contentType` (an accepted image type; SVG is not) and `contentLength` (1..10,000,000), every problem
/// listed at once in seed 003's `Validation Error`.
fn parameters(request: &Request) -> Result<(ImageType, u64)> {
    let mut problems = Vec::new();
    let mut kind = None;
    let mut length = None;
    for (key, value) in request::query_params(request) {
        match key.as_str() {
            "contentType" => match ImageType::from_content_type(&value) {
                Some(k) if k.content_type() == value => kind = Some(k),
                _ => problems.push(
                    "request query/contentType must be equal to one of the allowed values".into(),
                ),
            },
            "contentLength" => match value.parse::<u64>() {
                Ok(n) if (1..=MAX_UPLOAD_BYTES).contains(&n) => length = Some(n),
                Ok(_) => problems.push(format!(
                    "request query/contentLength must be >= 1 and <= {MAX_UPLOAD_BYTES}"
                )),
                Err(_) => problems.push("request query/contentLength must be integer".into()),
            },
            _ => problems.push("request query must NOT have additional properties".into()),
        }
    }
    match (kind, length) {
        (Some(kind), Some(length)) if problems.is_empty() => Ok((kind, length)),
        _ => {
            for (name, found) in [
                ("contentType", kind.is_some()),
                ("contentLength", length.is_some()),
            ] {
                if !found && !problems.iter().any(|p| p.contains(name)) {
                    problems.push(format!(
                        "request query must have required property '{name}'"
                    ));
                }
            }
            problems.dedup();
            Err(Error::validation(problems))
        }
    }
}
