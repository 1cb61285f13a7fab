//! The avatar records: an upload issued for a profile, and the avatar a profile carries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Key, Record, versioned};

/// How long an issued upload may still be attached: as long as the bucket keeps the quarantine copy.
pub const UPLOAD_TTL_SECONDS: i64 = 24 * 3600;

/// An upload URL issued for a profile. Only objects issued so are ever attached (by the S3 event or the
/// client's PATCH); attaching one deletes this record in the same transaction, so it attaches once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvatarUpload {
    pub profile_id: String,
    pub object_id: String,
    pub organization_id: String,
    pub content_type: String,
    pub content_length: u64,
    pub expires_at: i64,
    #[serde(skip)]
    pub version: u64,
}

impl AvatarUpload {
    /// Beside the profile's own item: `PROFILE#<profileId>` / `AVATAR#<objectId>`.
    pub fn key_of(profile: &str, object: &str) -> Key {
        Key::new(format!("PROFILE#{profile}"), format!("AVATAR#{object}"))
    }
}

impl Record for AvatarUpload {
    fn key(&self) -> Key {
        Self::key_of(&self.profile_id, &self.object_id)
    }
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
    versioned!();
}

/// The avatar stored on a profile (`Profile::avatar`); only Switchboard writes it, from bytes it checked.
/// Responses show `{url, objectId}`, the URL minted at read time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Avatar {
    /// A UUIDv7 minted when the upload was issued: later uploads sort after earlier ones.
    pub object_id: String,
    pub key: String,
    pub content_type: String,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

impl Avatar {
    /// The avatar a stored profile value holds; a free-form value written before avatars were checked is none.
    pub fn of(value: Option<&Value>) -> Option<Self> {
        value.and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}
