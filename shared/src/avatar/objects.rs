//! The avatar bucket: object keys, presigned URLs (made locally, no S3 call) and the few S3 calls the
//! processing makes. Uploads land under the quarantine prefix, which nothing serves and a lifecycle rule
//! empties after a day; checked images are copied under the avatar prefix.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::presigning::PresigningConfig;

use crate::error::Error;

/// Where uploads land before they are checked (template.yaml's notification and lifecycle rule filter on it).
pub const QUARANTINE_PREFIX: &str = "uploads/";
/// Where checked avatars live.
pub const AVATAR_PREFIX: &str = "avatars/";
/// The bucket of a local run when `SWITCHBOARD_BUCKET` names none.
pub const LOCAL_BUCKET: &str = "switchboard-avatars";
/// How long a presigned URL, upload or download, stays valid.
pub const URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The quarantine key of an upload: `uploads/<org>/<profileId>/<objectId>`.
pub fn quarantine_key(org: &str, profile: &str, object: &str) -> String {
    format!("{QUARANTINE_PREFIX}{org}/{profile}/{object}")
}

/// The key of a checked avatar: `avatars/<org>/<profileId>/<objectId>`.
pub fn avatar_key(org: &str, profile: &str, object: &str) -> String {
    format!("{AVATAR_PREFIX}{org}/{profile}/{object}")
}

/// The organization, profile and object ids of a quarantine key; `None` for any other key.
pub fn parse_quarantine_key(key: &str) -> Option<(&str, &str, &str)> {
    let mut parts = key.strip_prefix(QUARANTINE_PREFIX)?.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(profile), Some(object), None)
            if ![org, profile, object].iter().any(|p| p.is_empty()) =>
        {
            Some((org, profile, object))
        }
        _ => None,
    }
}

/// The S3 client for the avatar bucket. Against an emulator (`AWS_ENDPOINT_URL_S3`) URLs are path-style,
/// since `<bucket>.127.0.0.1` resolves nowhere. Checksums only where S3 requires them, so a presigned PUT
/// signs exactly the content type and length and a browser can send it as is.
pub fn client(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A client with fixed credentials for an S3-compatible endpoint (the local server's, the tests' s3s-fs).
pub fn endpoint_client(endpoint: &str, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new(access_key, secret_key, None, None, "switchboard"),
        ))
        .build();
    client(&sdk, true)
}

#[derive(Clone)]
pub struct AvatarObjects {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl AvatarObjects {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A presigned PUT for exactly this content type and length, valid [`URL_LIFETIME`] from `start`.
    pub async fn upload_url(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        start: SystemTime,
    ) -> Result<String, Error> {
        let length = i64::try_from(content_length).map_err(|_| internal("content length"))?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning(start)?)
            .await
            .map_err(|e| internal(format!("presigning an upload: {e}")))?;
        Ok(request.uri().to_owned())
    }

    /// A presigned GET of `key`, valid [`URL_LIFETIME`].
    pub async fn download_url(&self, key: &str) -> Result<String, Error> {
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(SystemTime::now())?)
            .await
            .map_err(|e| internal(format!("presigning a download: {e}")))?;
        Ok(request.uri().to_owned())
    }

    /// Reads at most `limit + 1` bytes of `key` (a longer object is refused by the image check, never cut).
    /// `None` when there is no such object.
    pub async fn read(&self, key: &str, limit: usize) -> Result<Option<Vec<u8>>, Error> {
        let response = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{limit}"))
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(unavailable("reading an upload", e)),
        };
        let mut body = response.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| unavailable("reading an upload", e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > limit {
                bytes.truncate(limit + 1);
                break;
            }
        }
        Ok(Some(bytes))
    }

    /// Writes `bytes` at `key` (avatars the server received itself).
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), Error> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable("storing an avatar", e))?;
        Ok(())
    }

    /// Deletes `key`; deleting what is not there succeeds, as in S3.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| unavailable("deleting an avatar", e))?;
        Ok(())
    }
}

fn presigning(start: SystemTime) -> Result<PresigningConfig, Error> {
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(URL_LIFETIME)
        .build()
        .map_err(|e| internal(format!("presigning: {e}")))
}

fn internal(cause: impl std::fmt::Display) -> Error {
    Error::Internal(cause.to_string())
}

fn unavailable(doing: &str, e: impl std::fmt::Debug) -> Error {
    Error::Unavailable(format!("{doing}: {e:?}"))
}
