//! Device registration (`POST /users/me/devices`, antz's `devicesApi.register`): which platform and
//! provider pairs exist, and what each provider's token looks like, checked before anything is stored or
//! sent to SNS.

use aws_lc_rs::agreement::{ECDH_P256, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::Error;
use crate::validate::{Kind, Schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Ios,
    Android,
    Web,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Apns,
    Fcm,
    Expo,
    WebPush,
}

impl Provider {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::Fcm => "fcm",
            Self::Expo => "expo",
            Self::WebPush => "web-push",
        }
    }

    /// The platforms this provider delivers to: APNs to Apple devices, FCM to all three, Expo to the
    /// native apps it builds, Web Push to browsers.
    pub fn serves(self, platform: Platform) -> bool {
        use Platform::*;
        match self {
            Self::Apns => platform == Ios,
            Self::Fcm => true,
            Self::Expo => matches!(platform, Ios | Android),
            Self::WebPush => platform == Web,
        }
    }
}

/// Where a device's notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// APNs, FCM or Expo: the OS-issued token (APNs tokens in lower case).
    Token { provider: Provider, token: String },
    /// A browser's push subscription; the keys re-encoded as unpadded base64url.
    WebPush {
        endpoint: String,
        p256dh: String,
        auth: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Lower-case hyphenated.
    pub device_id: String,
    pub platform: Platform,
    pub target: Target,
}

impl Registration {
    pub fn provider(&self) -> Provider {
        match &self.target {
            Target::Token { provider, .. } => *provider,
            Target::WebPush { .. } => Provider::WebPush,
        }
    }
}

const BODY: Schema = Schema {
    fields: &[
        ("deviceId", Kind::String, true),
        ("platform", Kind::String, true),
        ("provider", Kind::String, true),
        ("token", Kind::String, false),
        ("endpoint", Kind::String, false),
        ("p256dh", Kind::String, false),
        ("auth", Kind::String, false),
    ],
    open: false,
};

const TOKEN_FIELDS: &[&str] = &["token"];
const WEB_PUSH_FIELDS: &[&str] = &["endpoint", "p256dh", "auth"];
/// Longer tokens than any provider issues are refused before they reach a store or SNS.
const MAX_TOKEN: usize = 4096;
const MAX_ENDPOINT: usize = 2048;

/// The push services browsers subscribe at (Chrome and Edge's FCM, Firefox's autopush, Safari's, Windows'
/// WNS): a Web Push endpoint must be on one of these hosts or under them.
pub const KNOWN_PUSH_SERVICES: &[&str] = &[
    "fcm.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
];
/// The setting that replaces [`KNOWN_PUSH_SERVICES`]: comma-separated hosts.
pub const WEB_PUSH_HOSTS: &str = "SWITCHBOARD_WEB_PUSH_HOSTS";

/// Where a Web Push subscription may point: https on a known push service's host, so a registration
/// cannot aim the server's posts at an arbitrary site. `SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1` (tests and
/// local development only) lifts it: any host, http too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRule {
    allow_http: bool,
    /// `None`: any host.
    hosts: Option<Vec<String>>,
}

impl Default for EndpointRule {
    fn default() -> Self {
        Self {
            allow_http: false,
            hosts: Some(KNOWN_PUSH_SERVICES.iter().map(|h| h.to_string()).collect()),
        }
    }
}

impl EndpointRule {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        if crate::outbound::Policy::from_env(&env).allow_http {
            return Self {
                allow_http: true,
                hosts: None,
            };
        }
        match env(WEB_PUSH_HOSTS).filter(|v| !v.trim().is_empty()) {
            Some(list) => Self {
                allow_http: false,
                hosts: Some(
                    list.split(',')
                        .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect(),
                ),
            },
            None => Self::default(),
        }
    }

    fn admits(&self, url: &url::Url) -> bool {
        let scheme = url.scheme() == "https" || (self.allow_http && url.scheme() == "http");
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let known = match &self.hosts {
            None => !host.is_empty(),
            Some(hosts) => hosts
                .iter()
                .any(|h| host == *h || host.ends_with(&format!(".{h}"))),
        };
        scheme && known
    }
}

/// Validates a registration body, reporting every problem in the user service's 400; Web Push endpoints
/// by the production [`EndpointRule`].
pub fn registration(body: Option<Value>) -> Result<Registration, Error> {
    registration_for(body, &EndpointRule::default())
}

/// As [`registration`], with Web Push endpoints held to `endpoints`.
pub fn registration_for(
    body: Option<Value>,
    endpoints: &EndpointRule,
) -> Result<Registration, Error> {
    let body = BODY.check(body)?;
    let mut problems = Vec::new();
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();

    let device_id = parse_device_id(text("deviceId"));
    if device_id.is_none() {
        problems.push("request body/deviceId must match format \"uuid\"".to_owned());
    }
    let platform = enum_value::<Platform>(text("platform"));
    let provider = enum_value::<Provider>(text("provider"));
    for (name, ok) in [
        ("platform", platform.is_some()),
        ("provider", provider.is_some()),
    ] {
        if !ok {
            problems.push(format!(
                "request body/{name} must be equal to one of the allowed values"
            ));
        }
    }
    let target = match (platform, provider) {
        (Some(platform), Some(provider)) if !provider.serves(platform) => {
            problems.push(format!(
                "request body/provider '{}' does not deliver to platform '{}'",
                text("provider"),
                text("platform")
            ));
            None
        }
        (_, Some(provider)) => target(provider, &body, endpoints, &mut problems),
        _ => None,
    };
    match (device_id, platform, target) {
        (Some(device_id), Some(platform), Some(target)) if problems.is_empty() => {
            Ok(Registration {
                device_id,
                platform,
                target,
            })
        }
        _ => Err(Error::validation(problems)),
    }
}

fn enum_value<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    serde_json::from_value(Value::String(text.to_owned())).ok()
}

/// A hyphenated UUID (the form `crypto.randomUUID()` gives), in lower case.
fn parse_device_id(text: &str) -> Option<String> {
    (text.len() == 36)
        .then(|| Uuid::try_parse(text).ok())
        .flatten()
        .map(|id| id.hyphenated().to_string())
}

fn target(
    provider: Provider,
    body: &Map<String, Value>,
    endpoints: &EndpointRule,
    problems: &mut Vec<String>,
) -> Option<Target> {
    let (needed, foreign) = match provider {
        Provider::WebPush => (WEB_PUSH_FIELDS, TOKEN_FIELDS),
        _ => (TOKEN_FIELDS, WEB_PUSH_FIELDS),
    };
    let before = problems.len();
    for name in needed {
        if !body.contains_key(*name) {
            problems.push(format!("request body must have required property '{name}'"));
        }
    }
    for name in foreign {
        if body.contains_key(*name) {
            problems.push(format!(
                "request body must NOT have property '{name}' with this provider"
            ));
        }
    }
    if problems.len() > before {
        return None;
    }
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    match provider {
        Provider::WebPush => {
            let endpoint = web_push_endpoint(text("endpoint"), endpoints);
            let p256dh = web_push_key(text("p256dh"), 65).filter(|key| is_p256_point(key));
            let auth = web_push_key(text("auth"), 16);
            if endpoint.is_none() {
                problems.push(
                    "request body/endpoint must be an https URL of a known push service".to_owned(),
                );
            }
            if p256dh.is_none() {
                problems.push(
                    "request body/p256dh must be base64url of an uncompressed P-256 public key (65 bytes)"
                        .to_owned(),
                );
            }
            if auth.is_none() {
                problems.push("request body/auth must be base64url of 16 bytes".to_owned());
            }
            Some(Target::WebPush {
                endpoint: endpoint?,
                p256dh: URL_SAFE_NO_PAD.encode(p256dh?),
                auth: URL_SAFE_NO_PAD.encode(auth?),
            })
        }
        provider => match token(provider, text("token")) {
            Some(token) => Some(Target::Token { provider, token }),
            None => {
                problems.push(format!(
                    "request body/token must be {}",
                    match provider {
                        Provider::Apns => "64 hexadecimal characters (an APNs device token)",
                        Provider::Fcm => "an FCM registration token",
                        _ => "an Expo push token (ExponentPushToken[...])",
                    }
                ));
                None
            }
        },
    }
}

/// The provider's token shape; the normalised token.
fn token(provider: Provider, token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    match provider {
        // 32 bytes in hex, as APNs hands them out and SNS takes them.
        Provider::Apns => (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| token.to_ascii_lowercase()),
        // `<instance id>:APA91b…` (or a legacy `APA91b…`): base64url characters and a colon, well over
        // 100 characters.
        Provider::Fcm => (token.len() >= 100
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':'))
        .then(|| token.to_owned()),
        // Expo's own check: `ExponentPushToken[…]` or `ExpoPushToken[…]`.
        Provider::Expo => {
            let inner = token
                .strip_prefix("ExponentPushToken[")
                .or_else(|| token.strip_prefix("ExpoPushToken["))?
                .strip_suffix(']')?;
            (!inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'[' && b != b']'))
            .then(|| token.to_owned())
        }
        Provider::WebPush => None,
    }
}

fn web_push_endpoint(text: &str, endpoints: &EndpointRule) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    // Kept as the push service gave it: it is the subscription's identity.
    (text.len() <= MAX_ENDPOINT
        && endpoints.admits(&url)
        && url.username().is_empty()
        && url.password().is_none())
    .then(|| text.to_owned())
}

/// A subscription key as browsers give it: base64url per the Push API, though `btoa` (antz's example)
/// gives standard base64, so both alphabets are read, padded or not.
fn web_push_key(text: &str, len: usize) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let engine = if text.contains(['+', '/']) {
        &STANDARD_NO_PAD
    } else {
        &URL_SAFE_NO_PAD
    };
    engine.decode(text).ok().filter(|bytes| bytes.len() == len)
}

/// An uncompressed SEC1 point (0x04, x, y) that lies on P-256, as RFC 8291's ECDH needs.
fn is_p256_point(key: &[u8]) -> bool {
    key.first() == Some(&0x04)
        && ParsedPublicKey::try_from(&UnparsedPublicKey::new(&ECDH_P256, key)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEVICE: &str = "0b7e4c1e-8f2a-4d7b-9c3e-2a1f5d6e7c8b";
    const APNS: &str = "740F4707BEBCF74F9B7C25D48E3358945F6AA01DA5DDB387462C7EAF61BB78AD";
    // A public key `openssl ecparam -name prime256v1 -genkey` made.
    const P256_KEY: &str =
        "BJSVIENxhSrV5scMTKqQxypFN_wPTKRLJdcm_qfGOUDDRiAi4yyDx_ObtCXm3sUvwGDD-9rvCd2EAsqiSHqcUm8";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    fn fcm_token() -> String {
        format!("dGhpcyBpcyBub3QgYSByZWFs:APA91b{}", "x".repeat(134))
    }

    fn token_body(platform: &str, provider: &str, token: &str) -> Value {
        json!({"deviceId": DEVICE, "platform": platform, "provider": provider, "token": token})
    }

    fn web_body(endpoint: &str, p256dh: &str, auth: &str) -> Value {
        json!({"deviceId": DEVICE, "platform": "web", "provider": "web-push",
               "endpoint": endpoint, "p256dh": p256dh, "auth": auth})
    }

    #[test]
    fn accepted_registrations_are_normalised() {
        let expo = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]";
        let fcm = fcm_token();
        // (body, platform, target)
        let rows = vec![
            (
                token_body("ios", "apns", APNS),
                Platform::Ios,
                Target::Token {
                    provider: Provider::Apns,
                    token: APNS.to_ascii_lowercase(),
                },
            ),
            (
                token_body("android", "fcm", &fcm),
                Platform::Android,
                Target::Token {
                    provider: Provider::Fcm,
                    token: fcm.clone(),
                },
            ),
            (
                token_body("ios", "fcm", &fcm),
                Platform::Ios,
                Target::Token {
                    provider: Provider::Fcm,
                    token: fcm.clone(),
                },
            ),
            (
                token_body("web", "fcm", &fcm),
                Platform::Web,
                Target::Token {
                    provider: Provider::Fcm,
                    token: fcm.clone(),
                },
            ),
            (
                token_body("android", "expo", expo),
                Platform::Android,
                Target::Token {
                    provider: Provider::Expo,
                    token: expo.into(),
                },
            ),
            (
                token_body("ios", "expo", "ExpoPushToken[abc-123_DEF]"),
                Platform::Ios,
                Target::Token {
                    provider: Provider::Expo,
                    token: "ExpoPushToken[abc-123_DEF]".into(),
                },
            ),
            (
                web_body(
                    "https://fcm.googleapis.com/fcm/send/abc:def",
                    P256_KEY,
                    AUTH,
                ),
                Platform::Web,
                Target::WebPush {
                    endpoint: "https://fcm.googleapis.com/fcm/send/abc:def".into(),
                    p256dh: P256_KEY.into(),
                    auth: AUTH.into(),
                },
            ),
            // Standard, padded base64 (what `btoa` gives) reads the same.
            (
                web_body(
                    "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
                    &format!("{}=", P256_KEY.replace('-', "+").replace('_', "/")),
                    "BTBZMqHH6r4Tts7J/aSIgg==",
                ),
                Platform::Web,
                Target::WebPush {
                    endpoint: "https://updates.push.services.mozilla.com/wpush/v2/gAAAA".into(),
                    p256dh: P256_KEY.into(),
                    auth: AUTH.into(),
                },
            ),
        ];
        for (body, platform, target) in rows {
            let got = registration(Some(body.clone())).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            assert_eq!(
                got,
                Registration {
                    device_id: DEVICE.into(),
                    platform,
                    target
                },
                "{body}"
            );
        }
        let upper = json!({"deviceId": DEVICE.to_uppercase(), "platform": "ios", "provider": "apns", "token": APNS});
        assert_eq!(registration(Some(upper)).unwrap().device_id, DEVICE);
        assert_eq!(
            registration(Some(web_body(
                "https://fcm.googleapis.com/fcm/send/x",
                P256_KEY,
                AUTH
            )))
            .unwrap()
            .provider(),
            Provider::WebPush
        );
    }

    #[test]
    fn refused_registrations_name_every_problem() {
        let fcm = fcm_token();
        let off_curve = {
            // The key with its last byte changed is not on the curve.
            let mut bytes = URL_SAFE_NO_PAD.decode(P256_KEY).unwrap();
            bytes[64] ^= 1;
            URL_SAFE_NO_PAD.encode(bytes)
        };
        let compressed = {
            let bytes = URL_SAFE_NO_PAD.decode(P256_KEY).unwrap();
            let mut c = vec![0x02 | (bytes[64] & 1)];
            c.extend_from_slice(&bytes[1..33]);
            URL_SAFE_NO_PAD.encode(c)
        };
        let rows: Vec<(Value, Vec<String>)> = vec![
            (json!({}), vec![
                "request body must have required property 'deviceId'".into(),
                "request body must have required property 'platform'".into(),
                "request body must have required property 'provider'".into(),
            ]),
            (json!({"deviceId": "device-1", "platform": "ios", "provider": "apns", "token": APNS}),
                vec!["request body/deviceId must match format \"uuid\"".into()]),
            (json!({"deviceId": DEVICE.replace('-', ""), "platform": "ios", "provider": "apns", "token": APNS}),
                vec!["request body/deviceId must match format \"uuid\"".into()]),
            (token_body("windows", "apns", APNS),
                vec!["request body/platform must be equal to one of the allowed values".into()]),
            (token_body("ios", "pushy", APNS),
                vec!["request body/provider must be equal to one of the allowed values".into()]),
            (token_body("android", "apns", APNS),
                vec!["request body/provider 'apns' does not deliver to platform 'android'".into()]),
            (token_body("web", "expo", "ExponentPushToken[x]"),
                vec!["request body/provider 'expo' does not deliver to platform 'web'".into()]),
            (web_body("https://fcm.googleapis.com/fcm/send/x", P256_KEY, AUTH).as_object().map(|m| { let mut m = m.clone(); m["platform"] = json!("ios"); Value::Object(m) }).unwrap(),
                vec!["request body/provider 'web-push' does not deliver to platform 'ios'".into()]),
            (token_body("ios", "apns", &APNS[1..]),
                vec!["request body/token must be 64 hexadecimal characters (an APNs device token)".into()]),
            (token_body("ios", "apns", &format!("{}zz", &APNS[2..])),
                vec!["request body/token must be 64 hexadecimal characters (an APNs device token)".into()]),
            (token_body("android", "fcm", APNS),
                vec!["request body/token must be an FCM registration token".into()]),
            (token_body("android", "fcm", &format!("{fcm} x")),
                vec!["request body/token must be an FCM registration token".into()]),
            (token_body("android", "fcm", &"a".repeat(MAX_TOKEN + 1)),
                vec!["request body/token must be an FCM registration token".into()]),
            (token_body("android", "expo", "ExponentPushToken[]"),
                vec!["request body/token must be an Expo push token (ExponentPushToken[...])".into()]),
            (token_body("android", "expo", "ExponentPushToken[abc"),
                vec!["request body/token must be an Expo push token (ExponentPushToken[...])".into()]),
            (token_body("android", "expo", &fcm),
                vec!["request body/token must be an Expo push token (ExponentPushToken[...])".into()]),
            (json!({"deviceId": DEVICE, "platform": "ios", "provider": "apns"}),
                vec!["request body must have required property 'token'".into()]),
            (json!({"deviceId": DEVICE, "platform": "ios", "provider": "apns", "token": APNS, "auth": AUTH}),
                vec!["request body must NOT have property 'auth' with this provider".into()]),
            (json!({"deviceId": DEVICE, "platform": "web", "provider": "web-push", "token": APNS}),
                vec![
                    "request body must have required property 'endpoint'".into(),
                    "request body must have required property 'p256dh'".into(),
                    "request body must have required property 'auth'".into(),
                    "request body must NOT have property 'token' with this provider".into(),
                ]),
            (json!({"deviceId": DEVICE, "platform": "ios", "provider": "apns", "token": APNS, "appVersion": "1"}),
                vec!["request body must NOT have additional properties".into()]),
            (web_body("http://fcm.googleapis.com/x", P256_KEY, AUTH),
                vec!["request body/endpoint must be an https URL of a known push service".into()]),
            (web_body("https://user:pw@fcm.googleapis.com/x", P256_KEY, AUTH),
                vec!["request body/endpoint must be an https URL of a known push service".into()]),
            (web_body("push.example/x", P256_KEY, AUTH),
                vec!["request body/endpoint must be an https URL of a known push service".into()]),
            (web_body("https://fcm.googleapis.com/fcm/send/x", &off_curve, AUTH),
                vec!["request body/p256dh must be base64url of an uncompressed P-256 public key (65 bytes)".into()]),
            (web_body("https://fcm.googleapis.com/fcm/send/x", &compressed, AUTH),
                vec!["request body/p256dh must be base64url of an uncompressed P-256 public key (65 bytes)".into()]),
            (web_body("https://fcm.googleapis.com/fcm/send/x", "not base64!", "BTBZMqHH6r4Tts7J_aSI"),
                vec![
                    "request body/p256dh must be base64url of an uncompressed P-256 public key (65 bytes)".into(),
                    "request body/auth must be base64url of 16 bytes".into(),
                ]),
            (json!({"deviceId": 7, "platform": "ios", "provider": "apns", "token": APNS}),
                vec!["request body/deviceId must be string".into()]),
        ];
        for (body, expected) in rows {
            let err = registration(Some(body.clone())).unwrap_err();
            assert_eq!(err, Error::validation(expected), "{body}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn a_provider_that_cannot_reach_the_platform_is_a_validation_error() {
        // Rendered in the user service's envelope by switchboard-api (its tests cover the envelope).
        let err = registration(Some(token_body("android", "apns", APNS))).unwrap_err();
        assert_eq!(
            err,
            Error::validation(vec![
                "request body/provider 'apns' does not deliver to platform 'android'".into()
            ])
        );
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn web_push_endpoints_must_be_on_a_known_push_service() {
        let rule = EndpointRule::default();
        let endpoint = |url: &str, rule: &EndpointRule| {
            registration_for(Some(web_body(url, P256_KEY, AUTH)), rule).map(|r| r.target)
        };
        for known in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://web.push.apple.com/QO2Fz",
            "https://wns2-par02p.notify.windows.com/w/?token=x",
        ] {
            assert!(endpoint(known, &rule).is_ok(), "{known}");
        }
        for unknown in [
            "https://evil.example/hook",
            "https://fcm.googleapis.com.evil.example/x",
            "https://notfcm.googleapis.com/x",
            "http://fcm.googleapis.com/fcm/send/abc",
        ] {
            assert_eq!(
                endpoint(unknown, &rule).unwrap_err(),
                Error::validation(vec![
                    "request body/endpoint must be an https URL of a known push service".into()
                ]),
                "{unknown}"
            );
        }
        // Configurable, and lifted (http and any host) only by the tests' and local override.
        let own = EndpointRule::from_env(|name| {
            (name == WEB_PUSH_HOSTS).then(|| "push.example.org, .corp.example".to_owned())
        });
        assert!(endpoint("https://a.corp.example/x", &own).is_ok());
        assert!(endpoint("https://fcm.googleapis.com/x", &own).is_err());
        let open = EndpointRule::from_env(|name| {
            (name == crate::outbound::ALLOW_PRIVATE_TARGETS).then(|| "1".to_owned())
        });
        assert!(endpoint("http://127.0.0.1:9/x", &open).is_ok());
    }

    #[test]
    fn the_pairs_that_exist() {
        use Platform::*;
        use Provider::*;
        let served: Vec<(Platform, Provider)> = [Ios, Android, Web]
            .into_iter()
            .flat_map(|p| [Apns, Fcm, Expo, WebPush].into_iter().map(move |v| (p, v)))
            .filter(|(p, v)| v.serves(*p))
            .collect();
        assert_eq!(
            served,
            vec![
                (Ios, Apns),
                (Ios, Fcm),
                (Ios, Expo),
                (Android, Fcm),
                (Android, Expo),
                (Web, Fcm),
                (Web, WebPush)
            ]
        );
    }
}
