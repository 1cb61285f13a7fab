//! Pagination cursors: the last item's keys, bound to the query that produced them and signed, so a client
//! can neither read another partition nor craft a start key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Index, Item, Key, Query, StoreError};

#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(..)")
    }
}

/// Where the next page starts: after this item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Position {
    pub last: Key,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index: Option<Key>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Which query the position belongs to: index, partition and prefix.
    q: (bool, String, String, bool),
    at: Position,
}

impl CursorCodec {
    /// `secret` is the deployment's token secret; a label keeps cursor MACs apart from every other use of it.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"switchboard/cursor/v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    fn binding(query: &Query) -> (bool, String, String, bool) {
        (
            query.index == Index::Gsi1,
            query.partition.clone(),
            query.prefix.clone(),
            query.descending,
        )
    }

    pub(crate) fn encode(&self, query: &Query, item: &Item) -> String {
        self.encode_at(
            query,
            Position {
                last: item.key.clone(),
                index: (query.index == Index::Gsi1)
                    .then(|| item.index.clone())
                    .flatten(),
            },
        )
    }

    /// A cursor at a position the store reached without returning its item (a page cut short).
    pub(crate) fn encode_at(&self, query: &Query, at: Position) -> String {
        let payload = Payload {
            q: Self::binding(query),
            at,
        };
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    pub(crate) fn decode(&self, query: &Query) -> Result<Option<Position>, StoreError> {
        let Some(cursor) = query.cursor.as_deref() else {
            return Ok(None);
        };
        let (body, tag) = cursor.split_once('.').ok_or(StoreError::InvalidCursor)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| StoreError::InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StoreError::InvalidCursor)?;
        let mut mac = self.mac();
        mac.update(&body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&tag)
            .map_err(|_| StoreError::InvalidCursor)?;
        let payload: Payload =
            serde_json::from_slice(&body).map_err(|_| StoreError::InvalidCursor)?;
        if payload.q != Self::binding(query)
            || (query.index == Index::Gsi1) != payload.at.index.is_some()
        {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Some(payload.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Item {
        Item::new(Key::new("P", "a#1"), json!({}))
    }

    #[test]
    fn round_trips_for_the_same_query() {
        let codec = CursorCodec::new(b"secret");
        let q = Query::new("P").prefix("a#");
        let c = codec.encode(&q, &item());
        let pos = codec.decode(&q.clone().after(Some(c))).unwrap().unwrap();
        assert_eq!(pos.last, Key::new("P", "a#1"));
    }

    #[test]
    fn refuses_another_query_a_forged_mac_or_another_key() {
        let codec = CursorCodec::new(b"secret");
        let q = Query::new("P").prefix("a#");
        let c = codec.encode(&q, &item());
        let other = Query::new("Q").prefix("a#").after(Some(c.clone()));
        assert!(matches!(
            codec.decode(&other),
            Err(StoreError::InvalidCursor)
        ));
        let forged = format!("{}x", c);
        assert!(matches!(
            codec.decode(&q.clone().after(Some(forged))),
            Err(StoreError::InvalidCursor)
        ));
        let foreign = CursorCodec::new(b"other");
        assert!(matches!(
            foreign.decode(&q.clone().after(Some(c))),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            codec.decode(&q.after(Some("garbage".into()))),
            Err(StoreError::InvalidCursor)
        ));
    }
}
