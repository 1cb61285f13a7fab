//! Web Push (RFC 8030) to browser subscriptions: the payload encrypted for the subscription (RFC 8291,
//! aes128gcm, by `web-push-native`) and the request signed with the server's VAPID key (RFC 8292, an ES256
//! JWT by `jsonwebtoken` over AWS-LC, which the binary links anyway), posted through the outbound URL guard
//! (a subscription endpoint is a URL a user gave).

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::agreement::{self, ECDH_P256};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use web_push_native::{Auth, WebPushBuilder, p256};

use super::endpoints::SendError;
use super::records::Device;
use crate::config::{ConfigError, write_private};
use crate::outbound::{Outbound, OutboundError};
use crate::push::devices::EndpointRule;

pub const VAPID_PRIVATE_KEY: &str = "SWITCHBOARD_VAPID_PRIVATE_KEY";
pub const VAPID_SUBJECT: &str = "SWITCHBOARD_VAPID_SUBJECT";
/// The contact a local server signs with when none is configured.
const LOCAL_SUBJECT: &str = "mailto:push@switchboard.local";
/// How long a push service keeps an undelivered message.
const TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// How long a VAPID signature is good for (RFC 8292 allows at most 24 hours).
const VAPID_VALIDITY: std::time::Duration = std::time::Duration::from_secs(12 * 3600);
const ANSWER_LIMIT: usize = 64 * 1024;

/// The VAPID key pair and contact, and the guarded client to post with.
pub struct WebPush {
    key: VapidKey,
    subject: String,
    outbound: Arc<Outbound>,
    /// Where subscriptions may point (known push services; anywhere under the outbound guard's override).
    pub endpoints: EndpointRule,
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
            .and_then(|bytes| VapidKey::from_scalar(&bytes))
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
            endpoints: EndpointRule::from_env(&env),
        }))
    }

    /// The application server key browsers subscribe with: the uncompressed public point, base64url.
    pub fn public_key(&self) -> String {
        self.key.public.clone()
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
        let invalid_endpoint = || SendError::Permanent("invalid subscription endpoint".into());
        let (Ok(uri), Ok(origin)) = (endpoint.parse(), url::Url::parse(endpoint)) else {
            return Err(invalid_endpoint());
        };
        let request = WebPushBuilder::new(uri, ua_public, Auth::clone_from_slice(&ua_auth))
            .with_valid_duration(TTL)
            .build(payload)
            .map_err(|e| SendError::Permanent(format!("web push encryption: {e}")))?;
        let (parts, body) = request.into_parts();
        let mut headers = HeaderMap::new();
        headers.extend(parts.headers);
        let authorization = self
            .key
            .authorization(&origin.origin().ascii_serialization(), &self.subject)
            .ok_or_else(invalid_endpoint)?;
        headers.insert(AUTHORIZATION, authorization);
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
    let key = VapidKey::generate()
        .map(|scalar| URL_SAFE_NO_PAD.encode(scalar))
        .ok_or("cannot generate a VAPID key")?;
    match write_private(&path, &key) {
        Ok(()) => Ok(key),
        // Another process wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(&path)
            .map(|k| k.trim().to_owned())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The VAPID key pair: ES256 over P-256, as browsers verify it.
struct VapidKey {
    signing: EncodingKey,
    /// The uncompressed public point, base64url: the `k` of every signature and the key browsers subscribe with.
    public: String,
}

#[derive(serde::Serialize)]
struct VapidClaims<'a> {
    aud: &'a str,
    exp: u64,
    sub: &'a str,
}

impl VapidKey {
    /// From the 32-byte private scalar (the form configuration and the local data directory keep).
    fn from_scalar(scalar: &[u8]) -> Option<Self> {
        let public = agreement::PrivateKey::from_private_key(&ECDH_P256, scalar)
            .ok()?
            .compute_public_key()
            .ok()?;
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            scalar,
            public.as_ref(),
        )
        .ok()?;
        Some(Self {
            signing: EncodingKey::from_ec_der(pair.to_pkcs8v1().ok()?.as_ref()),
            public: URL_SAFE_NO_PAD.encode(public.as_ref()),
        })
    }

    /// A new private scalar.
    fn generate() -> Option<Vec<u8>> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).ok()?;
        let scalar = pair.private_key().as_be_bytes().ok()?;
        Some(scalar.as_ref().to_vec())
    }

    /// `vapid t=<JWT>, k=<public key>` for a push service at `origin` (the JWT's audience).
    fn authorization(&self, origin: &str, subject: &str) -> Option<HeaderValue> {
        let exp = jsonwebtoken::get_current_timestamp() + VAPID_VALIDITY.as_secs();
        let claims = VapidClaims {
            aud: origin,
            exp,
            sub: subject,
        };
        let jwt =
            jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.signing).ok()?;
        HeaderValue::try_from(format!("vapid t={jwt}, k={}", self.public)).ok()
    }
}
