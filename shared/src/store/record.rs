//! The generic record: a typed struct stored as one item, with the version it was read at. Identity, CRM,
//! push and webhook records all implement it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Item, Key, StoreError};

/// A record stored as one item: it knows its key, index and expiry, and carries the version it was read at.
pub trait Record: Serialize + DeserializeOwned {
    fn key(&self) -> Key;
    fn index(&self) -> Option<Key> {
        None
    }
    fn expires_at(&self) -> Option<i64> {
        None
    }
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);

    fn to_item(&self) -> Result<Item, StoreError> {
        let body = serde_json::to_value(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(Item {
            key: self.key(),
            version: self.version(),
            expires_at: self.expires_at(),
            index: self.index(),
            body,
        })
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let mut record: Self = item.decode()?;
        record.set_version(item.version);
        Ok(record)
    }
}

/// `version`/`set_version` of a [`Record`] whose struct has a `version` field.
macro_rules! versioned {
    () => {
        fn version(&self) -> u64 {
            self.version
        }
        fn set_version(&mut self, version: u64) {
            self.version = version;
        }
    };
}
pub(crate) use versioned;
