//! Seed 003's "Get Avatar Upload URL": `GET /user-profiles/{profileId}/avatar-upload-url?contentType=…&
//! contentLength=…` answers `{objectId, url}`, a presigned S3 PUT (15 minutes) of exactly that type and
//! length to the profile's quarantine. Presigning is local: the only calls are the token check, the profile
//! read and the write recording the upload as issued.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use switchboard::Result;
use switchboard::avatar::image::ImageType;
use switchboard::avatar::{Avatars, MAX_UPLOAD_BYTES};
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::identity::Identities;
use switchboard::request;

pub struct AvatarUploads {
    pub identities: Identities,
    pub avatars: Avatars,
}

const PROFILE_NOT_FOUND: &str = "User profile not found";

pub async fn handle(uploads: Arc<AvatarUploads>, request: Request) -> Response<Body> {
    let owned = request::segments(&request);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    let result = match (request.method(), segments.as_slice()) {
        (&Method::GET, ["user-profiles", id, "avatar-upload-url"]) => {
            upload_url(&uploads, &request, id).await
        }
        _ => Err(Error::NotFound("Not Found".into())),
    };
    result.unwrap_or_else(|e| http::error_as(Family::Users, e, "Failed to get avatar upload URL"))
}

async fn upload_url(
    uploads: &AvatarUploads,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let caller = uploads.identities.principal(request).await?;
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
            Err(Error::invalid("Validation Error", problems))
        }
    }
}
