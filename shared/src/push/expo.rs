//! Expo's push API (`POST <base>/--/api/v2/push/send`) for apps built with Expo: one message per device,
//! the access token (when the project requires one) as a bearer token. Expo answers 200 with a ticket per
//! message; `DeviceNotRegistered` in a ticket means the token is gone.

use std::sync::Arc;

use bytes::Bytes;
use hyper::HeaderMap;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use super::endpoints::SendError;
use super::rules::Push as Message;
use super::web_push::classify;
use crate::outbound::Outbound;

pub const EXPO_URL: &str = "SWITCHBOARD_EXPO_URL";
pub const EXPO_ACCESS_TOKEN: &str = "SWITCHBOARD_EXPO_ACCESS_TOKEN";
const DEFAULT_URL: &str = "https://exp.host";
const SEND_PATH: &str = "/--/api/v2/push/send";
const ANSWER_LIMIT: usize = 64 * 1024;

pub struct Expo {
    url: String,
    token: Option<String>,
    outbound: Arc<Outbound>,
}

impl Expo {
    /// `SWITCHBOARD_EXPO_URL` (default `https://exp.host`) and `SWITCHBOARD_EXPO_ACCESS_TOKEN` (optional).
    pub fn from_env(env: impl Fn(&str) -> Option<String>, outbound: Arc<Outbound>) -> Self {
        let setting = |name| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            url: setting(EXPO_URL)
                .unwrap_or_else(|| DEFAULT_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            token: setting(EXPO_ACCESS_TOKEN),
            outbound,
        }
    }

    pub async fn send(&self, token: &str, message: &Message) -> Result<(), SendError> {
        let mut body = json!({ "to": token, "title": message.title, "body": message.body });
        if message.sound {
            body["sound"] = json!("default");
        }
        if let Some(badge) = message.badge {
            body["badge"] = json!(badge);
        }
        if let Some(data) = &message.data {
            body["data"] = Value::Object(data.clone());
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(secret) = &self.token
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {secret}"))
        {
            headers.insert(AUTHORIZATION, value);
        }
        let answered = self
            .outbound
            .post_for_answer(
                &format!("{}{SEND_PATH}", self.url),
                &headers,
                Bytes::from(json!([body]).to_string()),
                ANSWER_LIMIT,
            )
            .await;
        let answer = match answered {
            Ok((200, answer)) => answer,
            other => return classify("Expo", other.map(|(status, _)| status)),
        };
        // `{"data": [{"status": "ok", "id"}]}` or `{"data": [{"status": "error", "message", "details":
        // {"error": "DeviceNotRegistered"}}]}`.
        let ticket = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v["data"].get(0).cloned())
            .unwrap_or(Value::Null);
        match ticket["status"].as_str() {
            Some("ok") => Ok(()),
            _ => match ticket["details"]["error"].as_str() {
                Some("DeviceNotRegistered") => {
                    Err(SendError::Gone("Expo DeviceNotRegistered".into()))
                }
                Some(error @ ("MessageRateExceeded" | "ExpoError")) => {
                    Err(SendError::Retryable(format!("Expo {error}")))
                }
                Some(error) => Err(SendError::Permanent(format!("Expo {error}"))),
                None => Err(SendError::Permanent("Expo: unexpected answer".into())),
            },
        }
    }
}
