//! The SNS `Publish` message for a platform endpoint (`MessageStructure: json`): a `default` text and one
//! key for the platform application's kind, whose value is the provider's payload as a JSON string.

use serde_json::{Map, Value, json};

use super::rules::Push;

/// The kind of SNS platform application an endpoint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsPlatform {
    Apns,
    ApnsSandbox,
    /// Firebase Cloud Messaging (SNS still calls it GCM), sent in the FCM HTTP v1 shape.
    Gcm,
}

impl SnsPlatform {
    /// From a platform application ARN, `arn:aws:sns:<region>:<account>:app/<PLATFORM>/<name>` (or one of
    /// its endpoints, `…:endpoint/<PLATFORM>/<name>/<id>`). Other platforms are not used here.
    pub fn from_arn(arn: &str) -> Option<Self> {
        // partition:service:region:account:resource
        let fields: Vec<&str> = arn.strip_prefix("arn:")?.splitn(5, ':').collect();
        let [_, "sns", _, _, resource] = fields.as_slice() else {
            return None;
        };
        let mut parts = resource.split('/');
        if !matches!(parts.next(), Some("app" | "endpoint")) {
            return None;
        }
        let platform = match parts.next()? {
            "APNS" => Self::Apns,
            "APNS_SANDBOX" => Self::ApnsSandbox,
            "GCM" => Self::Gcm,
            _ => return None,
        };
        parts
            .next()
            .is_some_and(|name| !name.is_empty())
            .then_some(platform)
    }

    /// The message's key for this platform.
    pub fn key(self) -> &'static str {
        match self {
            Self::Apns => "APNS",
            Self::ApnsSandbox => "APNS_SANDBOX",
            Self::Gcm => "GCM",
        }
    }
}

/// The `Message` text to publish with `MessageStructure: json`.
pub fn message(platform: SnsPlatform, push: &Push) -> String {
    let payload = match platform {
        SnsPlatform::Apns | SnsPlatform::ApnsSandbox => apns(push),
        SnsPlatform::Gcm => fcm_v1(push),
    };
    json!({ "default": push.body, platform.key(): payload.to_string() }).to_string()
}

/// Apple's payload: `aps` with the alert, sound and badge; custom data beside it under `data`.
fn apns(push: &Push) -> Value {
    let mut aps = Map::new();
    aps.insert(
        "alert".into(),
        json!({ "title": push.title, "body": push.body }),
    );
    if push.sound {
        aps.insert("sound".into(), json!("default"));
    }
    if let Some(badge) = push.badge {
        aps.insert("badge".into(), json!(badge));
    }
    let mut payload = Map::new();
    payload.insert("aps".into(), Value::Object(aps));
    if let Some(data) = &push.data {
        payload.insert("data".into(), Value::Object(data.clone()));
    }
    Value::Object(payload)
}

/// FCM HTTP v1 under SNS's `fcmV1Message` key. FCM data values must be strings, so other JSON values are
/// sent as their JSON text; the sound and badge go in the Android and APNs overrides.
fn fcm_v1(push: &Push) -> Value {
    let mut message = Map::new();
    message.insert(
        "notification".into(),
        json!({ "title": push.title, "body": push.body }),
    );
    if let Some(data) = &push.data {
        let data: Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(text))
            })
            .collect();
        message.insert("data".into(), Value::Object(data));
    }
    let mut android = Map::new();
    let mut aps = Map::new();
    if push.sound {
        android.insert("sound".into(), json!("default"));
        aps.insert("sound".into(), json!("default"));
    }
    if let Some(badge) = push.badge {
        android.insert("notification_count".into(), json!(badge));
        aps.insert("badge".into(), json!(badge));
    }
    if !android.is_empty() {
        message.insert("android".into(), json!({ "notification": android }));
        message.insert("apns".into(), json!({ "payload": { "aps": aps } }));
    }
    json!({ "fcmV1Message": { "validate_only": false, "message": message } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_from_arn() {
        let rows = [
            (
                "arn:aws:sns:us-east-1:123456789012:app/APNS/Switchboard",
                Some(SnsPlatform::Apns),
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/Switchboard-dev",
                Some(SnsPlatform::ApnsSandbox),
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:app/GCM/Switchboard",
                Some(SnsPlatform::Gcm),
            ),
            (
                "arn:aws-cn:sns:cn-north-1:123456789012:app/GCM/Switchboard",
                Some(SnsPlatform::Gcm),
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:endpoint/APNS_SANDBOX/Switchboard-dev/5e3e9847-3183-3f18-a7e8-671c3a57d4b3",
                Some(SnsPlatform::ApnsSandbox),
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:app/ADM/Switchboard",
                None,
            ),
            ("arn:aws:sns:us-east-1:123456789012:app/APNS/", None),
            ("arn:aws:sns:us-east-1:123456789012:my-topic", None),
            (
                "arn:aws:sqs:us-east-1:123456789012:app/GCM/Switchboard",
                None,
            ),
            ("APNS_SANDBOX", None),
            ("", None),
        ];
        for (arn, expected) in rows {
            assert_eq!(SnsPlatform::from_arn(arn), expected, "{arn}");
        }
    }

    fn push(sound: bool, badge: Option<u32>, data: Option<Value>) -> Push {
        Push {
            title: "Ada".into(),
            body: "Lunch at noon?".into(),
            sound,
            badge,
            data: data.map(|d| d.as_object().unwrap().clone()),
        }
    }

    /// The published message, with the platform's string payload parsed back.
    fn published(platform: SnsPlatform, push: &Push) -> (Value, Value) {
        let message: Value = serde_json::from_str(&message(platform, push)).unwrap();
        let object = message.as_object().unwrap();
        assert_eq!(object.len(), 2, "{message}");
        let payload = object[platform.key()]
            .as_str()
            .expect("a JSON string, as SNS requires");
        (message.clone(), serde_json::from_str(payload).unwrap())
    }

    #[test]
    fn payload_shapes() {
        let data = json!({"conversationId": "c1", "seq": 7, "flags": {"urgent": true}});
        // (platform, push, expected provider payload)
        let rows = vec![
            (
                SnsPlatform::Apns,
                push(true, Some(3), Some(data.clone())),
                json!({"aps": {"alert": {"title": "Ada", "body": "Lunch at noon?"}, "sound": "default", "badge": 3},
                       "data": data}),
            ),
            (
                SnsPlatform::ApnsSandbox,
                push(false, None, None),
                json!({"aps": {"alert": {"title": "Ada", "body": "Lunch at noon?"}}}),
            ),
            (
                SnsPlatform::Gcm,
                push(true, Some(3), Some(data.clone())),
                json!({"fcmV1Message": {"validate_only": false, "message": {
                    "notification": {"title": "Ada", "body": "Lunch at noon?"},
                    "data": {"conversationId": "c1", "seq": "7", "flags": "{\"urgent\":true}"},
                    "android": {"notification": {"sound": "default", "notification_count": 3}},
                    "apns": {"payload": {"aps": {"sound": "default", "badge": 3}}}
                }}}),
            ),
            (
                SnsPlatform::Gcm,
                push(false, None, None),
                json!({"fcmV1Message": {"validate_only": false, "message": {
                    "notification": {"title": "Ada", "body": "Lunch at noon?"}
                }}}),
            ),
        ];
        for (platform, push, expected) in rows {
            let (message, payload) = published(platform, &push);
            assert_eq!(message["default"], json!("Lunch at noon?"));
            assert_eq!(payload, expected, "{platform:?}");
        }
    }
}
