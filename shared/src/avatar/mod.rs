//! Avatars: the domain rules that the avatar functions share. [`image`] decides whether uploaded bytes are
//! really the image they claim to be; [`objects`] is the bucket; [`Avatars`] issues uploads and settles
//! them (check, copy, attach, clean up), for the S3 event and the client's PATCH alike.

pub mod image;
pub mod metadata;
pub mod objects;
pub mod records;

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::error::Error;
use crate::identity::Profile;
use crate::optimistic;
use crate::store::{Condition, Record, Store, StoreError, Write};
use crate::time::{now_rfc3339, unix_now};
use crate::webhooks::{Event, EventName};
use image::{ImageError, ImageType};
use objects::{AvatarObjects, avatar_key, parse_quarantine_key, quarantine_key};
use records::{Avatar, AvatarUpload, UPLOAD_TTL_SECONDS};

/// The 409 of a record other requests keep changing.
const PROFILE_BUSY: &str = "The profile is being changed by other requests; try again";

/// The largest upload a URL is issued for (the seed's 10 MB).
pub const MAX_UPLOAD_BYTES: u64 = 10_000_000;
pub use crate::config::DEFAULT_AVATAR_MAX_SIZE as DEFAULT_MAX_SIZE;

/// The types antz accepts for uploads and syncs.
const SERVER_TYPES: [ImageType; 4] = [
    ImageType::Jpeg,
    ImageType::Png,
    ImageType::Gif,
    ImageType::Webp,
];

/// Optimistic-locking retries of an attach before it gives up with 409.
const MAX_RETRIES: usize = 16;

/// What settling an upload did.
#[derive(Debug)]
pub enum Outcome {
    /// The profile now shows it.
    Attached(Box<Profile>),
    /// It already did (the same event again, or the PATCH after the event).
    AlreadyAttached,
    /// A newer upload (by objectId) is attached: this one was dropped.
    Superseded,
    /// The bytes are not the declared image: deleted, profile untouched.
    Refused(ImageError),
    /// Not issued for that profile, or already settled.
    NotIssued,
    /// Issued, but nothing was uploaded (yet).
    NotUploaded,
    /// The profile was deleted meanwhile.
    ProfileGone,
}

#[derive(Clone)]
pub struct Avatars {
    store: Arc<dyn Store>,
    pub objects: AvatarObjects,
}

impl Avatars {
    pub fn new(store: Arc<dyn Store>, objects: AvatarObjects) -> Self {
        Self { store, objects }
    }

    /// Records an upload for `profile` and presigns its PUT: `(objectId, url)`.
    pub async fn issue_upload(
        &self,
        profile: &Profile,
        kind: ImageType,
        content_length: u64,
    ) -> Result<(String, String), Error> {
        let object_id = uuid::Uuid::now_v7().to_string();
        let upload = AvatarUpload {
            profile_id: profile.id.clone(),
            object_id: object_id.clone(),
            organization_id: profile.organization_id.clone(),
            content_type: kind.content_type().to_owned(),
            content_length,
            expires_at: unix_now() + UPLOAD_TTL_SECONDS,
            version: 0,
        };
        self.store.create(upload.to_item()?).await?;
        let key = quarantine_key(&profile.organization_id, &profile.id, &object_id);
        let url = self
            .objects
            .upload_url(&key, kind.content_type(), content_length, SystemTime::now())
            .await?;
        Ok((object_id, url))
    }

    /// Settles the upload an S3 ObjectCreated event names. Anything that was not issued (or was settled
    /// already) is deleted from quarantine.
    pub async fn process(&self, key: &str) -> Result<Outcome, Error> {
        let Some((org, profile, object)) = parse_quarantine_key(key) else {
            tracing::warn!(key, "an object outside the quarantine layout: left alone");
            return Ok(Outcome::NotIssued);
        };
        let outcome = self.settle(org, profile, object).await?;
        if matches!(outcome, Outcome::NotIssued) {
            self.objects.delete(key).await?;
        }
        Ok(outcome)
    }

    /// Checks the quarantined upload `object` of `profile_id`, stores the bytes it checked at its avatar key
    /// and attaches it, unless a newer one is attached; then deletes what it replaced and the quarantine
    /// copy. The bytes stored are the ones read and checked, never a server-side copy of the quarantined
    /// object: a presigned PUT replayed meanwhile (it stays valid 15 minutes) cannot slip unchecked bytes in.
    pub async fn settle(
        &self,
        org: &str,
        profile_id: &str,
        object_id: &str,
    ) -> Result<Outcome, Error> {
        let upload_key = AvatarUpload::key_of(profile_id, object_id);
        let Some(upload) = self
            .store
            .load::<AvatarUpload>(&upload_key)
            .await?
            .filter(|u| u.organization_id == org)
        else {
            return self.attached_already(profile_id, object_id).await;
        };
        let quarantine = quarantine_key(org, profile_id, object_id);
        let limit = usize::try_from(upload.content_length).unwrap_or(usize::MAX);
        let Some(bytes) = self.objects.read(&quarantine, limit).await? else {
            return Ok(Outcome::NotUploaded);
        };
        // What is checked, hashed and stored has no metadata (a photo's GPS position is never served).
        let bytes = match ImageType::from_content_type(&upload.content_type) {
            Some(kind) => metadata::strip(kind, &bytes),
            None => bytes,
        };
        let checked = match image::check(&upload.content_type, &bytes, limit) {
            Ok(checked) => checked,
            Err(refusal) => {
                tracing::warn!(profile_id, object_id, %refusal, "avatar upload refused");
                self.forget(Some(&upload_key)).await?;
                self.objects.delete(&quarantine).await?;
                return Ok(Outcome::Refused(refusal));
            }
        };
        let key = avatar_key(org, profile_id, object_id);
        let content_type = checked.image_type.content_type();
        self.objects.put(&key, bytes, content_type).await?;
        let avatar = Avatar {
            object_id: object_id.to_owned(),
            key: key.clone(),
            content_type: content_type.to_owned(),
            sha256: checked.sha256_hex(),
            width: checked.width,
            height: checked.height,
        };
        let (outcome, replaced) = self.attach(profile_id, Some(&upload_key), avatar).await?;
        if let Some(old) = replaced {
            self.objects.delete(&old).await?;
        }
        if matches!(outcome, Outcome::Superseded | Outcome::ProfileGone) {
            self.objects.delete(&key).await?;
        }
        self.objects.delete(&quarantine).await?;
        Ok(outcome)
    }

    /// The version-checked attach: the profile takes `avatar` and the upload record goes in one transaction,
    /// unless the profile shows this or a newer objectId. Answers the outcome and the key it replaced.
    async fn attach(
        &self,
        profile_id: &str,
        upload_key: Option<&crate::store::Key>,
        avatar: Avatar,
    ) -> Result<(Outcome, Option<String>), Error> {
        optimistic!(MAX_RETRIES, PROFILE_BUSY, {
            let Some(mut profile) = self
                .store
                .load::<Profile>(&Profile::key_of(profile_id))
                .await?
            else {
                self.forget(upload_key).await?;
                return Ok((Outcome::ProfileGone, None));
            };
            let current = Avatar::of(profile.avatar.as_ref());
            if let Some(current) = &current
                && current.object_id == avatar.object_id
            {
                self.forget(upload_key).await?;
                return Ok((Outcome::AlreadyAttached, None));
            }
            // Object ids are UUIDv7s minted when the upload was issued: one issued before the attached
            // avatar, or before the last removal, is stale.
            let newest = current
                .as_ref()
                .map(|c| c.object_id.as_str())
                .max(profile.avatar_removed.as_deref());
            if newest.is_some_and(|newest| newest > avatar.object_id.as_str()) {
                self.forget(upload_key).await?;
                return Ok((Outcome::Superseded, None));
            }
            let expected = profile.version;
            profile.avatar = Some(json!(avatar));
            profile.updated_at = now_rfc3339();
            let mut writes = vec![Write::Put(profile.to_item()?, Condition::Version(expected))];
            writes.extend(upload_key.map(|k| Write::Delete(k.clone(), Condition::Exists)));
            writes.push(updated_event(&profile, &avatar).write()?);
            self.store.transact(writes).await?;
            profile.version = expected + 1;
            Ok((Outcome::Attached(Box::new(profile)), current.map(|c| c.key)))
        })
    }

    /// With no upload record left: was `object_id` attached already (an event delivered again)?
    async fn attached_already(&self, profile_id: &str, object_id: &str) -> Result<Outcome, Error> {
        let profile = self
            .store
            .load::<Profile>(&Profile::key_of(profile_id))
            .await?;
        let current = profile.and_then(|p| Avatar::of(p.avatar.as_ref()));
        Ok(match current {
            Some(avatar) if avatar.object_id == object_id => Outcome::AlreadyAttached,
            _ => Outcome::NotIssued,
        })
    }

    /// Removes the upload record, if any (already gone is fine: another delivery settled it).
    async fn forget(&self, key: Option<&crate::store::Key>) -> Result<(), Error> {
        let Some(key) = key else {
            return Ok(());
        };
        match self.store.delete(key, Condition::Exists).await {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Antz's upload and sync: `bytes` the server received itself become `profile`'s avatar, unless they are
    /// the current one (same SHA-256: no new object, no write). JPEG, PNG, GIF and WebP, at most `limit`
    /// bytes. Answers the avatar's download URL.
    pub async fn replace(
        &self,
        profile: &Profile,
        declared: &str,
        bytes: &[u8],
        limit: usize,
    ) -> Result<String, Error> {
        let kind = ImageType::from_content_type(declared)
            .filter(|k| SERVER_TYPES.contains(k))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "The image type {declared:?} is not accepted; use image/jpeg, image/png, image/gif or image/webp"
                ))
            })?;
        let bytes = metadata::strip(kind, bytes);
        let checked = image::check(kind.content_type(), &bytes, limit)?;
        if let Some(current) = Avatar::of(profile.avatar.as_ref())
            && current.sha256 == checked.sha256_hex()
        {
            return self.objects.download_url(&current.key).await;
        }
        let object_id = uuid::Uuid::now_v7().to_string();
        let key = avatar_key(&profile.organization_id, &profile.id, &object_id);
        self.objects.put(&key, bytes, kind.content_type()).await?;
        let avatar = Avatar {
            object_id,
            key: key.clone(),
            content_type: kind.content_type().to_owned(),
            sha256: checked.sha256_hex(),
            width: checked.width,
            height: checked.height,
        };
        let (outcome, replaced) = self.attach(&profile.id, None, avatar).await?;
        if let Some(old) = replaced {
            self.objects.delete(&old).await?;
        }
        match outcome {
            Outcome::Attached(_) => self.objects.download_url(&key).await,
            _ => {
                self.objects.delete(&key).await?;
                Err(Error::Conflict(
                    "The avatar was changed by another request; try again".into(),
                ))
            }
        }
    }

    /// `PATCH … {"avatar": {"objectId"}}`: attaches that upload of `profile` now if its S3 event has not
    /// yet (the same settling as the event's, so the two agree). Every reason it cannot is a 400.
    pub async fn attach_requested(&self, profile: &Profile, object_id: &str) -> Result<(), Error> {
        let invalid = |problem: &str| {
            Error::validation(vec![format!("request body/avatar/objectId {problem}")])
        };
        if uuid::Uuid::parse_str(object_id).is_err() {
            return Err(invalid("was not issued for this profile"));
        }
        match self
            .settle(&profile.organization_id, &profile.id, object_id)
            .await?
        {
            Outcome::Attached(_) | Outcome::AlreadyAttached => Ok(()),
            Outcome::NotIssued => Err(invalid("was not issued for this profile")),
            Outcome::NotUploaded => Err(invalid("has not been uploaded")),
            Outcome::Superseded => Err(invalid("is older than the profile's avatar")),
            Outcome::Refused(refusal) => Err(refusal.into()),
            Outcome::ProfileGone => Err(Error::NotFound("User profile not found".into())),
        }
    }

    /// Replaces the stored `avatar` of a profile view (`Profile::user_view`, `account_view`) with what
    /// responses show.
    pub async fn show(&self, view: &mut Value) -> Result<(), Error> {
        if let Some(avatar) = view.get_mut("avatar") {
            *avatar = self.view(Some(&*avatar)).await?;
        }
        Ok(())
    }

    /// Deletes the object of a stored avatar that was removed or whose profile was deleted.
    pub async fn delete_stored(&self, stored: Option<&Value>) -> Result<(), Error> {
        match Avatar::of(stored) {
            Some(avatar) => self.objects.delete(&avatar.key).await,
            None => Ok(()),
        }
    }

    /// A profile's `avatar` as responses show it: `{url, objectId}` with a fresh 15-minute GET, or `null`.
    pub async fn view(&self, stored: Option<&Value>) -> Result<Value, Error> {
        match Avatar::of(stored) {
            Some(avatar) => Ok(json!({
                "url": self.objects.download_url(&avatar.key).await?,
                "objectId": avatar.object_id,
            })),
            None => Ok(Value::Null),
        }
    }
}

/// `avatar.updated` (docs/events.md), written in the attach's own transaction: the outbox.
fn updated_event(profile: &Profile, avatar: &Avatar) -> Event {
    Event::new(
        EventName::AvatarUpdated,
        &profile.organization_id,
        json!({
            "profileId": profile.id,
            "objectId": avatar.object_id,
            "sha256": avatar.sha256,
            "contentType": avatar.content_type,
            "width": avatar.width,
            "height": avatar.height,
            "updatedAt": profile.updated_at,
        }),
    )
}
