//! Mail that reaches people (docs/mail.md): a plain-text message and the transport that carries it. In AWS
//! that is Amazon SES (the v2 API), called only by `mail-send`; locally each message is written as an `.eml`
//! file a developer opens. What to send, and when, is the identity module's (`identity::mail`): mail leaves
//! through an outbox item, never on a request's path.

use std::path::PathBuf;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};

use crate::config::ConfigError;
use crate::error::Error;
use crate::time::now_rfc3339;

/// The sender (`SWITCHBOARD_MAIL_FROM`): an address SES has verified, e.g. `App <no-reply@example.com>`.
pub const MAIL_FROM: &str = "SWITCHBOARD_MAIL_FROM";
/// The reset link, with `{token}` where the token goes (`SWITCHBOARD_PASSWORD_RESET_URL`).
pub const PASSWORD_RESET_URL: &str = "SWITCHBOARD_PASSWORD_RESET_URL";
/// How long a reset token lasts (`SWITCHBOARD_PASSWORD_RESET_SECONDS`, default 30 minutes).
pub const PASSWORD_RESET_SECONDS: &str = "SWITCHBOARD_PASSWORD_RESET_SECONDS";
pub const DEFAULT_PASSWORD_RESET_SECONDS: i64 = 30 * 60;
/// The local server's sender when none is configured.
pub const LOCAL_FROM: &str = "Switchboard <no-reply@localhost>";

/// What the mail says and who it is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `None` in a Lambda function not given one: only `mail-send` needs it.
    pub from: Option<String>,
    /// The reset link's template; without it the mail carries the token itself.
    pub password_reset_url: Option<String>,
    pub password_reset_seconds: i64,
}

impl MailSettings {
    pub fn from_env(
        env: &impl Fn(&str) -> Option<String>,
        default_from: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let password_reset_url = get(PASSWORD_RESET_URL);
        if let Some(url) = &password_reset_url
            && (!url.contains("{token}") || url::Url::parse(url).is_err())
        {
            return Err(ConfigError::Invalid {
                name: PASSWORD_RESET_URL,
                reason: "must be an absolute URL with {token} in it".into(),
            });
        }
        let password_reset_seconds = match get(PASSWORD_RESET_SECONDS) {
            None => DEFAULT_PASSWORD_RESET_SECONDS,
            Some(value) => {
                value
                    .parse()
                    .ok()
                    .filter(|s: &i64| *s > 0)
                    .ok_or(ConfigError::Invalid {
                        name: PASSWORD_RESET_SECONDS,
                        reason: "must be a positive integer".into(),
                    })?
            }
        };
        Ok(Self {
            from: get(MAIL_FROM).or_else(|| default_from.map(str::to_owned)),
            password_reset_url,
            password_reset_seconds,
        })
    }

    /// The link (or, without a configured one, the bare token) a reset mail carries.
    pub fn reset_link(&self, token: &str) -> String {
        match &self.password_reset_url {
            Some(template) => template.replace("{token}", token),
            None => token.to_owned(),
        }
    }
}

/// One plain-text message to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Amazon SES (v2 `SendEmail`).
    Ses {
        client: aws_sdk_sesv2::Client,
        from: String,
    },
    /// One `.eml` file per message in `dir` (the local server's `.switchboard/mail/`).
    Files { dir: PathBuf, from: String },
}

impl Transport {
    /// Sends `message`; an `Err` is worth retrying (the outbox item stays unsent).
    pub async fn send(&self, message: &Message) -> Result<(), Error> {
        match self {
            Self::Ses { client, from } => {
                let text = |data: &str| Content::builder().data(data).charset("UTF-8").build();
                let content = SesMessage::builder()
                    .subject(text(&message.subject).map_err(internal)?)
                    .body(
                        Body::builder()
                            .text(text(&message.text).map_err(internal)?)
                            .build(),
                    )
                    .build();
                client
                    .send_email()
                    .from_email_address(from)
                    .destination(Destination::builder().to_addresses(&message.to).build())
                    .content(EmailContent::builder().simple(content).build())
                    .send()
                    .await
                    .map_err(|e| {
                        Error::Unavailable(format!(
                            "SES SendEmail: {}",
                            aws_sdk_sesv2::error::DisplayErrorContext(e)
                        ))
                    })?;
                Ok(())
            }
            Self::Files { dir, from } => {
                let id = uuid::Uuid::now_v7();
                let path = dir.join(format!("{id}.eml"));
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, eml(from, message, &id.to_string())).await
                };
                write
                    .await
                    .map_err(|e| Error::Internal(format!("writing {}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), subject = %message.subject, "mail written");
                Ok(())
            }
        }
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

/// The message as an RFC 5322 file any mail client opens: UTF-8 text, the subject encoded per RFC 2047.
pub fn eml(from: &str, message: &Message, id: &str) -> String {
    use base64::Engine;
    let subject = if message.subject.is_ascii() {
        message.subject.clone()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(&message.subject)
        )
    };
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    let body = message.text.replace("\r\n", "\n").replace('\n', "\r\n");
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}@switchboard.local>\r\n\
         X-Switchboard-Created: {created}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        to = message.to,
        created = now_rfc3339(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn settings() {
        let local = MailSettings::from_env(&env(&[]), Some(LOCAL_FROM)).unwrap();
        assert_eq!(local.from.as_deref(), Some(LOCAL_FROM));
        assert_eq!(local.password_reset_seconds, 1800);
        assert_eq!(local.reset_link("t0k"), "t0k");
        let set = MailSettings::from_env(
            &env(&[
                (
                    PASSWORD_RESET_URL,
                    "https://app.example.com/reset?token={token}",
                ),
                (PASSWORD_RESET_SECONDS, "600"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(set.from, None);
        assert_eq!(
            set.reset_link("t0k"),
            "https://app.example.com/reset?token=t0k"
        );
        assert_eq!(set.password_reset_seconds, 600);
        for (name, value) in [
            (PASSWORD_RESET_URL, "https://app.example.com/reset"),
            (PASSWORD_RESET_URL, "/reset?token={token}"),
            (PASSWORD_RESET_SECONDS, "0"),
        ] {
            assert!(MailSettings::from_env(&env(&[(name, value)]), None).is_err());
        }
    }

    #[test]
    fn eml_is_a_mail_file() {
        let message = Message {
            to: "robin@example.com".into(),
            subject: "Réinitialiser".into(),
            text: "line one\nline two".into(),
        };
        let file = eml(LOCAL_FROM, &message, "abc");
        assert!(
            file.starts_with("From: Switchboard <no-reply@localhost>\r\nTo: robin@example.com\r\n")
        );
        assert!(file.contains("Subject: =?UTF-8?B?UsOpaW5pdGlhbGlzZXI=?=\r\n"));
        assert!(file.ends_with("\r\n\r\nline one\r\nline two\r\n"));
    }
}
