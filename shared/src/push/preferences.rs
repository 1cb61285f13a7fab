//! antz's `UserPreferences`: fields, defaults, and the partial update (`PATCH /users/me/preferences`).

use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::validate::{Kind, Schema};

/// A user's notification preferences. A missing field in a stored record reads as its default, so a
/// preference added later needs no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserPreferences {
    /// Master switch: false disables all push.
    pub notifications_enabled: bool,
    pub sound_enabled: bool,
    /// false = the body of a message notification is "New message" only (privacy mode).
    pub message_preview: bool,
    pub notify_on_mention: bool,
    pub notify_on_reaction: bool,
    pub notify_on_group_invite: bool,
    /// Absent = off, as antz's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

impl Default for UserPreferences {
    fn default() -> Self {
        Self {
            notifications_enabled: true,
            sound_enabled: true,
            message_preview: true,
            notify_on_mention: true,
            notify_on_reaction: true,
            notify_on_group_invite: true,
            quiet_hours: None,
        }
    }
}

/// No push during `[start, end)` local time in `timezone`; a window with `start > end` crosses midnight,
/// `start == end` is no window at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub enabled: bool,
    /// `HH:MM`, 24-hour.
    pub start: String,
    pub end: String,
    /// An IANA zone name as the bundled database spells it.
    pub timezone: String,
}

/// `HH:MM` with two digits each, 00:00 to 23:59.
pub fn parse_clock(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// The zone named `name` in jiff's bundled IANA database (no tzdata needed on Lambda), with its canonical
/// spelling.
pub fn time_zone(name: &str) -> Option<(TimeZone, String)> {
    let tz = TimeZone::get(name).ok()?;
    let canonical = tz.iana_name().unwrap_or(name).to_owned();
    Some((tz, canonical))
}

const PATCH: Schema = Schema {
    fields: &[
        ("notificationsEnabled", Kind::Boolean, false),
        ("soundEnabled", Kind::Boolean, false),
        ("messagePreview", Kind::Boolean, false),
        ("notifyOnMention", Kind::Boolean, false),
        ("notifyOnReaction", Kind::Boolean, false),
        ("notifyOnGroupInvite", Kind::Boolean, false),
        // null turns quiet hours off (removes the window).
        ("quietHours", Kind::NullableObject, false),
    ],
    open: false,
};

const fn quiet_schema(required: bool) -> Schema<'static> {
    Schema {
        fields: if required {
            &[
                ("enabled", Kind::Boolean, true),
                ("start", Kind::String, true),
                ("end", Kind::String, true),
                ("timezone", Kind::String, true),
            ]
        } else {
            &[
                ("enabled", Kind::Boolean, false),
                ("start", Kind::String, false),
                ("end", Kind::String, false),
                ("timezone", Kind::String, false),
            ]
        },
        open: false,
    }
}

impl UserPreferences {
    /// Applies a PATCH body: only the fields given change; unknown fields are refused; `quietHours` merges
    /// over the current window (a first window needs all four fields). Every problem is reported at once in
    /// the user service's 400, and nothing changes unless the whole body is valid.
    pub fn patched(&self, body: Option<Value>) -> Result<Self, Error> {
        let body = PATCH.check(body)?;
        let mut next = self.clone();
        let mut problems = Vec::new();
        for (name, value) in &body {
            let switch = match name.as_str() {
                "notificationsEnabled" => &mut next.notifications_enabled,
                "soundEnabled" => &mut next.sound_enabled,
                "messagePreview" => &mut next.message_preview,
                "notifyOnMention" => &mut next.notify_on_mention,
                "notifyOnReaction" => &mut next.notify_on_reaction,
                "notifyOnGroupInvite" => &mut next.notify_on_group_invite,
                // The schema admits no other field: this is `quietHours`, an object or null.
                _ => {
                    next.quiet_hours = value.as_object().and_then(|patch| {
                        merge_quiet_hours(self.quiet_hours.as_ref(), patch, &mut problems)
                    });
                    continue;
                }
            };
            // The schema checked that a switch is a boolean.
            *switch = value.as_bool().unwrap_or(*switch);
        }
        if problems.is_empty() {
            Ok(next)
        } else {
            Err(Error::validation(problems))
        }
    }
}

fn merge_quiet_hours(
    current: Option<&QuietHours>,
    patch: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> Option<QuietHours> {
    let checked = quiet_schema(current.is_none()).check(Some(Value::Object(patch.clone())));
    let patch = match checked {
        Ok(patch) => patch,
        Err(Error::BadRequest { details, .. }) => {
            problems.extend(
                details
                    .into_iter()
                    .map(|p| p.replacen("request body", "request body/quietHours", 1)),
            );
            return None;
        }
        Err(other) => {
            problems.push(other.to_string());
            return None;
        }
    };
    let text = |name: &str, fallback: Option<&String>| {
        patch
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| fallback.cloned())
            .unwrap_or_default()
    };
    let enabled = patch
        .get("enabled")
        .and_then(Value::as_bool)
        .or(current.map(|q| q.enabled))
        .unwrap_or(false);
    let start = text("start", current.map(|q| &q.start));
    let end = text("end", current.map(|q| &q.end));
    let zone = text("timezone", current.map(|q| &q.timezone));
    for (name, value) in [("start", &start), ("end", &end)] {
        if parse_clock(value).is_none() {
            problems.push(format!(
                "request body/quietHours/{name} must match format \"HH:MM\""
            ));
        }
    }
    let timezone = match time_zone(&zone) {
        Some((_, canonical)) => canonical,
        None => {
            problems
                .push("request body/quietHours/timezone must be an IANA time zone name".to_owned());
            zone
        }
    };
    Some(QuietHours {
        enabled,
        start,
        end,
        timezone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_antz_defaults_and_missing_fields_read_as_defaults() {
        let d = UserPreferences::default();
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"notificationsEnabled": true, "soundEnabled": true, "messagePreview": true,
                   "notifyOnMention": true, "notifyOnReaction": true, "notifyOnGroupInvite": true})
        );
        let stored: UserPreferences =
            serde_json::from_value(json!({"notifyOnReaction": false})).unwrap();
        assert_eq!(
            stored,
            UserPreferences {
                notify_on_reaction: false,
                ..UserPreferences::default()
            }
        );
    }

    fn quiet(enabled: bool, start: &str, end: &str, timezone: &str) -> Option<QuietHours> {
        Some(QuietHours {
            enabled,
            start: start.into(),
            end: end.into(),
            timezone: timezone.into(),
        })
    }

    #[test]
    fn patch_changes_only_what_is_given() {
        let base = UserPreferences::default();
        let with_quiet = UserPreferences {
            quiet_hours: quiet(true, "23:00", "07:00", "Asia/Kolkata"),
            ..UserPreferences::default()
        };
        // (current, body, expected)
        let rows: Vec<(&UserPreferences, Value, UserPreferences)> = vec![
            (&base, json!({}), base.clone()),
            (
                &base,
                json!({"notifyOnReaction": false}),
                UserPreferences {
                    notify_on_reaction: false,
                    ..base.clone()
                },
            ),
            (
                &base,
                json!({"messagePreview": false, "soundEnabled": false}),
                UserPreferences {
                    message_preview: false,
                    sound_enabled: false,
                    ..base.clone()
                },
            ),
            (
                &base,
                json!({"notificationsEnabled": false}),
                UserPreferences {
                    notifications_enabled: false,
                    ..base.clone()
                },
            ),
            (
                &base,
                json!({"quietHours": {"enabled": true, "start": "23:00", "end": "07:00", "timezone": "Asia/Kolkata"}}),
                with_quiet.clone(),
            ),
            // Merges over the current window.
            (
                &with_quiet,
                json!({"quietHours": {"enabled": false}}),
                UserPreferences {
                    quiet_hours: quiet(false, "23:00", "07:00", "Asia/Kolkata"),
                    ..base.clone()
                },
            ),
            (
                &with_quiet,
                json!({"quietHours": {"end": "06:30", "timezone": "America/New_York"}}),
                UserPreferences {
                    quiet_hours: quiet(true, "23:00", "06:30", "America/New_York"),
                    ..base.clone()
                },
            ),
            // null removes the window.
            (&with_quiet, json!({"quietHours": null}), base.clone()),
            // The zone is stored as the database spells it.
            (
                &base,
                json!({"quietHours": {"enabled": true, "start": "22:00", "end": "08:00", "timezone": "asia/kolkata"}}),
                UserPreferences {
                    quiet_hours: quiet(true, "22:00", "08:00", "Asia/Kolkata"),
                    ..base.clone()
                },
            ),
        ];
        for (current, body, expected) in rows {
            assert_eq!(
                current.patched(Some(body.clone())).unwrap(),
                expected,
                "{body}"
            );
        }
        assert_eq!(base.patched(None).unwrap(), base);
    }

    #[test]
    fn patch_refuses_bad_bodies_with_every_problem() {
        let base = UserPreferences::default();
        let rows: Vec<(Value, Vec<&str>)> = vec![
            (
                json!({"pushEnabled": true}),
                vec!["request body must NOT have additional properties"],
            ),
            (
                json!({"soundEnabled": "yes", "notifyOnMention": null}),
                vec![
                    "request body/soundEnabled must be boolean",
                    "request body/notifyOnMention must be boolean",
                ],
            ),
            (json!([]), vec!["request body must be object"]),
            (
                json!({"quietHours": {"enabled": true}}),
                vec![
                    "request body/quietHours must have required property 'start'",
                    "request body/quietHours must have required property 'end'",
                    "request body/quietHours must have required property 'timezone'",
                ],
            ),
            (
                json!({"quietHours": {"enabled": true, "start": "7:00", "end": "24:00", "timezone": "Mars/Olympus"}}),
                vec![
                    "request body/quietHours/start must match format \"HH:MM\"",
                    "request body/quietHours/end must match format \"HH:MM\"",
                    "request body/quietHours/timezone must be an IANA time zone name",
                ],
            ),
            (
                json!({"quietHours": {"enabled": true, "start": "22:00", "end": "07:60", "timezone": "+05:30"}}),
                vec![
                    "request body/quietHours/end must match format \"HH:MM\"",
                    "request body/quietHours/timezone must be an IANA time zone name",
                ],
            ),
            (
                json!({"quietHours": {"enabled": true, "start": "22:00", "end": "07:00", "timezone": "UTC", "days": [1]}}),
                vec!["request body/quietHours must NOT have additional properties"],
            ),
            (
                json!({"quietHours": true}),
                vec!["request body/quietHours must be object,null"],
            ),
        ];
        for (body, expected) in rows {
            let err = base.patched(Some(body.clone())).unwrap_err();
            let expected = Error::validation(expected.into_iter().map(String::from).collect());
            assert_eq!(err, expected, "{body}");
            assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn clock_is_strict() {
        for (text, ok) in [
            ("00:00", true),
            ("23:59", true),
            ("07:05", true),
            ("24:00", false),
            ("7:05", false),
            ("07:5", false),
            ("0705", false),
            ("07:05:00", false),
            ("+1:05", false),
            ("", false),
        ] {
            assert_eq!(parse_clock(text).is_some(), ok, "{text}");
        }
    }
}
