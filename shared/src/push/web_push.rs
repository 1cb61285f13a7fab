//! Web Push (RFC 8030) to browser subscriptions: the payload encrypted for the subscription (RFC 8291,
//! aes128gcm) and signed with the server's VAPID key (RFC 8292), both by `web-push-native`, posted through
//! the outbound URL guard (a subscription endpoint is a URL a user gave).

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hyper::HeaderMap;
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};
use web_push_native::{Auth, WebPushBuilder, p256};

use super::endpoints::SendError;
use super::records::Device;
use crate::config::{ConfigError, write_private};
use crate::outbound::{Outbound, OutboundError, Policy};

pub const VAPID_PRIVATE_KEY: &str = "SWITCHBOARD_VAPID_PRIVATE_KEY";
pub const VAPID_SUBJECT: &str = "SWITCHBOARD_VAPID_SUBJECT";
/// The contact a local server signs with when none is configured.
const LOCAL_SUBJECT: &str = "mailto:push@switchboard.local";
/// How long a push service keeps an undelivered message.
const TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
const ANSWER_LIMIT: usize = 64 * 1024;

/// The VAPID key pair and contact, and the guarded client to post with.
pub struct WebPush {
    key: ES256KeyPair,
    subject: String,
    outbound: Arc<Outbound>,
    /// Subscriptions may be `http` (the outbound guard's override: tests and local development).
    pub allow_http: bool,
}

impl WebPush {
    /// From `SWITCHBOARD_VAPID_PRIVATE_KEY` (base64url of the 32-byte P-256 private key) and
    /// `SWITCHBOARD_VAPID_SUBJECT` (a `mailto:` or `https:` contact). Without a key: with a data directory
    /// (the local server) one is generated there once, else Web Push is off (`None`).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        data_dir: Option<&Path>,
        outbound: Arc<Outbound>,
    ) -> Result<Option<Self>, ConfigError> {
        let setting = |name| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let invalid = |reason: &str| ConfigError::Invalid {
            name: VAPID_PRIVATE_KEY,
            reason: reason.to_owned(),
        };
        let encoded = match (setting(VAPID_PRIVATE_KEY), data_dir) {
            (Some(key), _) => key,
            (None, Some(dir)) => local_key(dir).map_err(|e| invalid(&e))?,
            (None, None) => return Ok(None),
        };
        let key = URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .ok()
            .and_then(|bytes| ES256KeyPair::from_bytes(&bytes).ok())
            .ok_or_else(|| invalid("must be base64url of a 32-byte P-256 private key"))?;
        let subject = match (setting(VAPID_SUBJECT), data_dir) {
            (Some(subject), _) => subject,
            (None, Some(_)) => LOCAL_SUBJECT.to_owned(),
            (None, None) => return Err(ConfigError::Missing(VAPID_SUBJECT)),
        };
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: VAPID_SUBJECT,
                reason: "must be a mailto: or https: contact".into(),
            });
        }
        Ok(Some(Self {
            key,
            subject,
            outbound,
            allow_http: Policy::from_env(&env).allow_http,
        }))
    }

    /// The application server key browsers subscribe with: the uncompressed public point, base64url.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_key().public_key().to_bytes_uncompressed())
    }

    /// Encrypts `payload` for the device's subscription and posts it. 404/410 mean the subscription is
    /// gone; 429 and 5xx are worth a retry.
    pub async fn send(&self, device: &Device, payload: &[u8]) -> Result<(), SendError> {
        let (Some(endpoint), Some(p256dh), Some(auth)) =
            (&device.endpoint, &device.p256dh, &device.auth)
        else {
            return Err(SendError::Permanent("incomplete subscription".into()));
        };
        let decode = |text: &str| URL_SAFE_NO_PAD.decode(text).ok();
        let (Some(ua_public), Some(ua_auth)) = (
            decode(p256dh).and_then(|k| p256::PublicKey::from_sec1_bytes(&k).ok()),
            decode(auth).filter(|a| a.len() == 16),
        ) else {
            return Err(SendError::Permanent("invalid subscription keys".into()));
        };
        let uri = endpoint
            .parse()
            .map_err(|_| SendError::Permanent("invalid subscription endpoint".into()))?;
        let request = WebPushBuilder::new(uri, ua_public, Auth::clone_from_slice(&ua_auth))
            .with_valid_duration(TTL)
            .with_vapid(&self.key, &self.subject)
            .build(payload)
            .map_err(|e| SendError::Permanent(format!("web push encryption: {e}")))?;
        let (parts, body) = request.into_parts();
        let mut headers = HeaderMap::new();
        headers.extend(parts.headers);
        let answered = self
            .outbound
            .post_for_answer(endpoint, &headers, Bytes::from(body), ANSWER_LIMIT)
            .await;
        classify("Web Push", answered.map(|(status, _)| status))
    }
}

/// A push service's answer: 2xx delivered, 404/410 gone, 429/5xx and network trouble retryable.
pub(super) fn classify(
    service: &str,
    answered: Result<u16, OutboundError>,
) -> Result<(), SendError> {
    match answered {
        Ok(200..=299) => Ok(()),
        Ok(status @ (404 | 410)) => Err(SendError::Gone(format!("{service} {status}"))),
        Ok(status @ (429 | 500..=599)) => Err(SendError::Retryable(format!("{service} {status}"))),
        Ok(status) => Err(SendError::Permanent(format!("{service} {status}"))),
        Err(
            e @ (OutboundError::Timeout
            | OutboundError::Unreachable
            | OutboundError::Unresolvable
            | OutboundError::Protocol
            | OutboundError::Tls),
        ) => Err(SendError::Retryable(format!("{service}: {e}"))),
        Err(e) => Err(SendError::Permanent(format!("{service}: {e}"))),
    }
}

/// `<dir>/secrets/SWITCHBOARD_VAPID_PRIVATE_KEY`, generated on first use (as the local token secrets).
fn local_key(dir: &Path) -> Result<String, String> {
    let path = dir.join("secrets").join(VAPID_PRIVATE_KEY);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(|e| e.to_string())?;
    let key = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
    match write_private(&path, &key) {
        Ok(()) => Ok(key),
        // Another process wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(&path)
            .map(|k| k.trim().to_owned())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}
