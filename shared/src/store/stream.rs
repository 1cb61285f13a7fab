//! DynamoDB Streams records as Lambda hands them over (JSON), decoded the way the DynamoDB adapter writes
//! items: the one reader of stream images, shared by the stream consumers (`event-dispatch`,
//! `push-dispatch`, `mail-send`), so none knows the adapter's attribute names. The local server, which has no
//! stream, hands them [`keys_only`] records.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use super::dynamodb::to_item;
use super::table::{ATTR_PK, ATTR_SK};
use super::{Item, Key, StoreError};

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

/// One stream record: the change, the item's key, and the item after it when the stream carries images.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub key: Key,
    pub new: Option<Item>,
}

/// A KEYS_ONLY stream event (`{"Records": [...]}`) of `changes` (event name and key), as the local server
/// hands its changes to the stream consumers.
pub fn keys_only<'a>(changes: impl IntoIterator<Item = (&'static str, &'a Key)>) -> Value {
    let records: Vec<Value> = changes
        .into_iter()
        .enumerate()
        .map(|(sequence, (name, key))| {
            json!({
                "eventID": format!("{sequence}"),
                "eventName": name,
                "eventSource": "aws:dynamodb",
                "awsRegion": "local",
                "dynamodb": {
                    "Keys": { ATTR_PK: { "S": key.pk }, ATTR_SK: { "S": key.sk } },
                    "SequenceNumber": format!("{sequence}"),
                    "SizeBytes": 0,
                    "StreamViewType": "KEYS_ONLY",
                },
            })
        })
        .collect();
    json!({ "Records": records })
}

/// Decodes one record of a DynamoDB stream event (`Records[i]`).
pub fn decode(record: &Value) -> Result<Change, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("stream record: {what}"));
    let kind = match record["eventName"].as_str() {
        Some("INSERT") => ChangeKind::Insert,
        Some("MODIFY") => ChangeKind::Modify,
        Some("REMOVE") => ChangeKind::Remove,
        _ => return Err(corrupt("no eventName")),
    };
    let stream = &record["dynamodb"];
    let text = |name: &str| stream["Keys"][name]["S"].as_str().map(str::to_owned);
    let (Some(pk), Some(sk)) = (text(ATTR_PK), text(ATTR_SK)) else {
        return Err(corrupt("no key"));
    };
    // A KEYS_ONLY stream carries no image (serialised events may show it as `{}`).
    let new = match stream["NewImage"]
        .as_object()
        .filter(|image| !image.is_empty())
    {
        Some(image) => Some(to_item(attributes(image))?),
        None => None,
    };
    Ok(Change {
        kind,
        key: Key { pk, sk },
        new,
    })
}

/// The image's string and number attributes: the kinds the adapter writes.
fn attributes(image: &serde_json::Map<String, Value>) -> HashMap<String, AttributeValue> {
    image
        .iter()
        .filter_map(|(name, value)| {
            let attribute = match (value["S"].as_str(), value["N"].as_str()) {
                (Some(s), _) => AttributeValue::S(s.to_owned()),
                (None, Some(n)) => AttributeValue::N(n.to_owned()),
                _ => return None,
            };
            Some((name.clone(), attribute))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_insert_decodes_to_the_item_the_adapter_wrote() {
        let record = json!({
            "eventName": "INSERT",
            "dynamodb": {
                "Keys": {"pk": {"S": "EVENT#1"}, "sk": {"S": "EVENT"}},
                "NewImage": {
                    "pk": {"S": "EVENT#1"}, "sk": {"S": "EVENT"},
                    "v": {"N": "1"}, "data": {"S": "{\"a\":1}"}, "ttl": {"N": "99"},
                },
            },
        });
        let change = decode(&record).unwrap();
        assert_eq!(change.kind, ChangeKind::Insert);
        assert_eq!(change.key, Key::new("EVENT#1", "EVENT"));
        let item = change.new.unwrap();
        assert_eq!((item.version, item.expires_at), (1, Some(99)));
        assert_eq!(item.body, json!({"a": 1}));
    }

    #[test]
    fn a_keys_only_removal_has_no_image_and_garbage_is_refused() {
        let record = json!({
            "eventName": "REMOVE",
            "dynamodb": {"Keys": {"pk": {"S": "IDENT#a"}, "sk": {"S": "IDENT"}}},
        });
        let change = decode(&record).unwrap();
        assert_eq!((change.kind, change.new), (ChangeKind::Remove, None));
        let mut empty_image = record.clone();
        empty_image["dynamodb"]["NewImage"] = json!({});
        assert_eq!(decode(&empty_image).unwrap().new, None);
        assert!(decode(&json!({"eventName": "INSERT"})).is_err());
        assert!(decode(&json!({})).is_err());
    }
}
