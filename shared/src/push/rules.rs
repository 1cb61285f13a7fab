//! Whether a notification reaches a user now, and in what form: the master switch, the category's switch,
//! quiet hours in the user's zone, then the privacy and sound adjustments.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::preferences::{QuietHours, UserPreferences, parse_clock, time_zone};

/// The title and body a message-like notification shows when `messagePreview` is off (antz's words).
pub const HIDDEN_PREVIEW: &str = "New message";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    Message,
    Mention,
    Reaction,
    GroupInvite,
    Call,
    System,
}

impl Category {
    /// Whether the body is message text that privacy mode hides.
    fn carries_message_text(self) -> bool {
        matches!(self, Self::Message | Self::Mention | Self::Reaction)
    }
}

/// What a sender asks to deliver (the body of the notification routes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub title: String,
    pub body: String,
    pub category: Category,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge: Option<u32>,
}

/// The preference that suppressed a notification, named as the field the user sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Rule {
    NotificationsEnabled,
    NotifyOnMention,
    NotifyOnReaction,
    NotifyOnGroupInvite,
    QuietHours,
}

/// What goes to every active device, after the user's adjustments.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    pub title: String,
    pub body: String,
    /// The platform's default sound is requested.
    pub sound: bool,
    pub badge: Option<u32>,
    pub data: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Deliver(Push),
    Suppressed(Rule),
}

/// Decides for `preferences` (`None`: no record yet, so the defaults) at instant `now`.
pub fn decide(
    preferences: Option<&UserPreferences>,
    notification: &Notification,
    now: Timestamp,
) -> Decision {
    let defaults = UserPreferences::default();
    let p = preferences.unwrap_or(&defaults);
    if !p.notifications_enabled {
        return Decision::Suppressed(Rule::NotificationsEnabled);
    }
    // Messages, calls and system notices follow the master switch alone.
    let category_switch = match notification.category {
        Category::Mention => Some((p.notify_on_mention, Rule::NotifyOnMention)),
        Category::Reaction => Some((p.notify_on_reaction, Rule::NotifyOnReaction)),
        Category::GroupInvite => Some((p.notify_on_group_invite, Rule::NotifyOnGroupInvite)),
        Category::Message | Category::Call | Category::System => None,
    };
    if let Some((false, rule)) = category_switch {
        return Decision::Suppressed(rule);
    }
    if p.quiet_hours
        .as_ref()
        .is_some_and(|q| in_quiet_hours(q, now))
    {
        return Decision::Suppressed(Rule::QuietHours);
    }
    // Privacy mode shows none of the message: not its text, not its title (often the sender), not its
    // data (often the conversation and a snippet); lock screens and push services see "New message".
    if !p.message_preview && notification.category.carries_message_text() {
        return Decision::Deliver(Push {
            title: HIDDEN_PREVIEW.to_owned(),
            body: HIDDEN_PREVIEW.to_owned(),
            sound: p.sound_enabled,
            badge: notification.badge,
            data: None,
        });
    }
    Decision::Deliver(Push {
        title: notification.title.clone(),
        body: notification.body.clone(),
        sound: p.sound_enabled,
        badge: notification.badge,
        data: notification.data.clone(),
    })
}

/// Whether `now` falls in the window, read on the wall clock of the user's zone (so a DST change moves
/// the window with the clock). A stored window that no longer parses (validated on write, so only a
/// corrupt record) silences nothing.
pub fn in_quiet_hours(quiet: &QuietHours, now: Timestamp) -> bool {
    if !quiet.enabled {
        return false;
    }
    let (Some(start), Some(end), Some((tz, _))) = (
        parse_clock(&quiet.start),
        parse_clock(&quiet.end),
        time_zone(&quiet.timezone),
    ) else {
        return false;
    };
    let local = now.to_zoned(tz).time();
    if start < end {
        start <= local && local < end
    } else if start > end {
        // Crosses midnight.
        local >= start || local < end
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(category: Category) -> Notification {
        Notification {
            title: "Ada".into(),
            body: "Lunch at noon?".into(),
            category,
            data: Some(json!({"conversationId": "c1"}).as_object().unwrap().clone()),
            badge: Some(3),
        }
    }

    fn quiet(start: &str, end: &str, timezone: &str) -> Option<QuietHours> {
        Some(QuietHours {
            enabled: true,
            start: start.into(),
            end: end.into(),
            timezone: timezone.into(),
        })
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().unwrap()
    }

    /// Expected outcome of a row: delivered with (body, sound), or suppressed by a rule.
    #[derive(Debug)]
    enum Want {
        Sent(&'static str, bool),
        Quiet(Rule),
    }
    use Want::{Quiet, Sent};

    const SHOWN: &str = "Lunch at noon?";

    #[test]
    fn preview_off_hides_title_body_and_data_of_message_text_only() {
        let notification = |category| Notification {
            title: "Ada".into(),
            body: SHOWN.into(),
            category,
            data: serde_json::from_value(serde_json::json!({"conversationId": "c1"})).ok(),
            badge: Some(2),
        };
        let private = UserPreferences {
            message_preview: false,
            ..UserPreferences::default()
        };
        let noon = at("2026-06-15T12:00:00Z");
        for category in [Category::Message, Category::Mention, Category::Reaction] {
            let Decision::Deliver(push) = decide(Some(&private), &notification(category), noon)
            else {
                panic!("{category:?} is delivered");
            };
            assert_eq!(
                (
                    push.title.as_str(),
                    push.body.as_str(),
                    push.data,
                    push.badge
                ),
                (HIDDEN_PREVIEW, HIDDEN_PREVIEW, None, Some(2)),
                "{category:?}"
            );
        }
        let Decision::Deliver(push) = decide(Some(&private), &notification(Category::System), noon)
        else {
            panic!("a system notice is delivered");
        };
        assert_eq!((push.title.as_str(), push.body.as_str()), ("Ada", SHOWN));
        assert!(push.data.is_some());
    }

    #[test]
    fn rules_table() {
        let d = UserPreferences::default;
        let off = |f: fn(&mut UserPreferences)| {
            let mut p = d();
            f(&mut p);
            p
        };
        let with_quiet = |start: &str, end: &str, zone: &str| UserPreferences {
            quiet_hours: quiet(start, end, zone),
            ..d()
        };
        let noon = "2026-06-15T12:00:00Z";
        // (name, preferences (None = no record), category, instant, expected)
        let rows: Vec<(&str, Option<UserPreferences>, Category, &str, Want)> = vec![
            (
                "no record: defaults deliver",
                None,
                Category::Message,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "defaults deliver a reaction",
                Some(d()),
                Category::Reaction,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "master off silences messages",
                Some(off(|p| p.notifications_enabled = false)),
                Category::Message,
                noon,
                Quiet(Rule::NotificationsEnabled),
            ),
            (
                "master off silences calls",
                Some(off(|p| p.notifications_enabled = false)),
                Category::Call,
                noon,
                Quiet(Rule::NotificationsEnabled),
            ),
            (
                "master off wins over category",
                Some(off(|p| {
                    p.notifications_enabled = false;
                    p.notify_on_mention = false
                })),
                Category::Mention,
                noon,
                Quiet(Rule::NotificationsEnabled),
            ),
            (
                "mention switch",
                Some(off(|p| p.notify_on_mention = false)),
                Category::Mention,
                noon,
                Quiet(Rule::NotifyOnMention),
            ),
            (
                "reaction switch",
                Some(off(|p| p.notify_on_reaction = false)),
                Category::Reaction,
                noon,
                Quiet(Rule::NotifyOnReaction),
            ),
            (
                "group invite switch",
                Some(off(|p| p.notify_on_group_invite = false)),
                Category::GroupInvite,
                noon,
                Quiet(Rule::NotifyOnGroupInvite),
            ),
            (
                "messages ignore the category switches",
                Some(off(|p| {
                    p.notify_on_mention = false;
                    p.notify_on_reaction = false;
                    p.notify_on_group_invite = false
                })),
                Category::Message,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "calls ignore the category switches",
                Some(off(|p| {
                    p.notify_on_mention = false;
                    p.notify_on_reaction = false;
                    p.notify_on_group_invite = false
                })),
                Category::Call,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "preview off hides a message body",
                Some(off(|p| p.message_preview = false)),
                Category::Message,
                noon,
                Sent(HIDDEN_PREVIEW, true),
            ),
            (
                "preview off hides a mention body",
                Some(off(|p| p.message_preview = false)),
                Category::Mention,
                noon,
                Sent(HIDDEN_PREVIEW, true),
            ),
            (
                "preview off keeps a system notice",
                Some(off(|p| p.message_preview = false)),
                Category::System,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "sound off",
                Some(off(|p| p.sound_enabled = false)),
                Category::Message,
                noon,
                Sent(SHOWN, false),
            ),
            (
                "quiet hours disabled",
                Some(UserPreferences {
                    quiet_hours: Some(QuietHours {
                        enabled: false,
                        ..quiet("00:00", "23:59", "UTC").unwrap()
                    }),
                    ..d()
                }),
                Category::Message,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "same-day window, inside",
                Some(with_quiet("09:00", "17:00", "UTC")),
                Category::Message,
                noon,
                Quiet(Rule::QuietHours),
            ),
            (
                "same-day window, at its end",
                Some(with_quiet("09:00", "12:00", "UTC")),
                Category::Message,
                noon,
                Sent(SHOWN, true),
            ),
            (
                "same-day window, at its start",
                Some(with_quiet("12:00", "13:00", "UTC")),
                Category::Message,
                noon,
                Quiet(Rule::QuietHours),
            ),
            (
                "start == end is off",
                Some(with_quiet("12:00", "12:00", "UTC")),
                Category::Message,
                noon,
                Sent(SHOWN, true),
            ),
            // Asia/Kolkata is UTC+05:30 all year: 23:00-07:00 IST is 17:30Z-01:30Z.
            (
                "Kolkata window crossing midnight, late evening",
                Some(with_quiet("23:00", "07:00", "Asia/Kolkata")),
                Category::Message,
                "2026-06-15T17:45:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "Kolkata, before the window",
                Some(with_quiet("23:00", "07:00", "Asia/Kolkata")),
                Category::Message,
                "2026-06-15T17:15:00Z",
                Sent(SHOWN, true),
            ),
            (
                "Kolkata, early morning",
                Some(with_quiet("23:00", "07:00", "Asia/Kolkata")),
                Category::Message,
                "2026-06-15T01:15:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "Kolkata, after the window",
                Some(with_quiet("23:00", "07:00", "Asia/Kolkata")),
                Category::Message,
                "2026-06-15T01:30:00Z",
                Sent(SHOWN, true),
            ),
            (
                "Kolkata has no DST in March",
                Some(with_quiet("23:00", "07:00", "Asia/Kolkata")),
                Category::Message,
                "2026-03-08T01:29:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "quiet hours silence calls too",
                Some(with_quiet("23:00", "07:00", "Asia/Kolkata")),
                Category::Call,
                "2026-06-15T20:00:00Z",
                Quiet(Rule::QuietHours),
            ),
            // New York springs forward on 2026-03-08 at 02:00 EST -> 03:00 EDT.
            (
                "NY 22-07, 06:30 EDT after spring forward",
                Some(with_quiet("22:00", "07:00", "America/New_York")),
                Category::Message,
                "2026-03-08T10:30:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "NY 22-07, 07:30 EDT (06:30 had the clock not moved)",
                Some(with_quiet("22:00", "07:00", "America/New_York")),
                Category::Message,
                "2026-03-08T11:30:00Z",
                Sent(SHOWN, true),
            ),
            (
                "NY 22-07, 21:59 EST the evening before",
                Some(with_quiet("22:00", "07:00", "America/New_York")),
                Category::Message,
                "2026-03-08T02:59:00Z",
                Sent(SHOWN, true),
            ),
            (
                "NY 22-07, 22:00 EST the evening before",
                Some(with_quiet("22:00", "07:00", "America/New_York")),
                Category::Message,
                "2026-03-08T03:00:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "NY 02-03 window is skipped: 01:59 EST",
                Some(with_quiet("02:00", "03:00", "America/New_York")),
                Category::Message,
                "2026-03-08T06:59:00Z",
                Sent(SHOWN, true),
            ),
            (
                "NY 02-03 window is skipped: 03:00 EDT one minute later",
                Some(with_quiet("02:00", "03:00", "America/New_York")),
                Category::Message,
                "2026-03-08T07:00:00Z",
                Sent(SHOWN, true),
            ),
            // New York falls back on 2026-11-01 at 02:00 EDT -> 01:00 EST.
            (
                "NY 22-07, 06:30 EST after fall back",
                Some(with_quiet("22:00", "07:00", "America/New_York")),
                Category::Message,
                "2026-11-01T11:30:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "NY 22-07, 07:00 EST",
                Some(with_quiet("22:00", "07:00", "America/New_York")),
                Category::Message,
                "2026-11-01T12:00:00Z",
                Sent(SHOWN, true),
            ),
            (
                "NY 01-02 window, first 01:30 (EDT)",
                Some(with_quiet("01:00", "02:00", "America/New_York")),
                Category::Message,
                "2026-11-01T05:30:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "NY 01-02 window, repeated 01:30 (EST)",
                Some(with_quiet("01:00", "02:00", "America/New_York")),
                Category::Message,
                "2026-11-01T06:30:00Z",
                Quiet(Rule::QuietHours),
            ),
            (
                "NY 01-02 window, 02:00 EST",
                Some(with_quiet("01:00", "02:00", "America/New_York")),
                Category::Message,
                "2026-11-01T07:00:00Z",
                Sent(SHOWN, true),
            ),
            (
                "category switch before quiet hours",
                Some(UserPreferences {
                    notify_on_reaction: false,
                    ..with_quiet("09:00", "17:00", "UTC")
                }),
                Category::Reaction,
                noon,
                Quiet(Rule::NotifyOnReaction),
            ),
        ];
        assert!(rows.len() >= 20);
        for (name, prefs, category, instant, want) in rows {
            let n = notification(category);
            let got = decide(prefs.as_ref(), &n, at(instant));
            match (want, got) {
                (Sent(body, sound), Decision::Deliver(push)) => {
                    // A hidden preview hides the title and data with the body.
                    let hidden = body == HIDDEN_PREVIEW;
                    assert_eq!(
                        push,
                        Push {
                            title: if hidden { body.into() } else { n.title.clone() },
                            body: body.into(),
                            sound,
                            badge: n.badge,
                            data: if hidden { None } else { n.data.clone() },
                        },
                        "{name}"
                    );
                }
                (Quiet(rule), Decision::Suppressed(got)) => assert_eq!(got, rule, "{name}"),
                (want, got) => panic!("{name}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn names_are_the_wire_names() {
        assert_eq!(
            serde_json::to_value(Rule::NotifyOnGroupInvite).unwrap(),
            json!("notifyOnGroupInvite")
        );
        let n: Notification =
            serde_json::from_value(json!({"title": "t", "body": "b", "category": "groupInvite"}))
                .unwrap();
        assert_eq!(n.category, Category::GroupInvite);
        assert!(
            serde_json::from_value::<Notification>(
                json!({"title": "t", "body": "b", "category": "promo"})
            )
            .is_err()
        );
    }
}
