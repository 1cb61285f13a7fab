//! The DynamoDB adapter: single table, every condition enforced by DynamoDB itself.
//!
//! Item attributes: `pk`, `sk`, `v` (version), `ttl` (expiry, the table's TTL attribute), `gsi1pk`/`gsi1sk`
//! (index key) and `data` (the body as JSON text: any JSON a client sends is storable, whereas a native
//! map refuses empty keys and numbers beyond DynamoDB's range).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::cursor::Position;
use super::table::{ATTR_GSI1_PK, ATTR_GSI1_SK, ATTR_PK, ATTR_SK, ATTR_TTL, GSI1};
use super::{
    Backoff, Condition, CursorCodec, Index, Item, Key, Page, Query, Store, StoreError, Write,
    queryable, storable, validate_transaction,
};
use crate::time::unix_now;

const ATTR_VERSION: &str = "v";
const ATTR_DATA: &str = "data";
/// The id of the write that last put the item: an SDK retry of a write that already committed finds its own
/// id and succeeds instead of failing its condition.
const ATTR_REQUEST: &str = "rid";
/// BatchGetItem reads at most 100 keys per call.
const BATCH_GET_LIMIT: usize = 100;
/// Calls one BatchGetItem chunk may take while DynamoDB leaves keys unprocessed.
const BATCH_GET_ATTEMPTS: usize = 5;
/// Query calls one page may take while the expiry filter thins the responses.
pub const QUERY_ROUND_TRIPS: usize = 4;

type Attributes = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    cursors: CursorCodec,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([(ATTR_PK.into(), s(&key.pk)), (ATTR_SK.into(), s(&key.sk))])
}

/// Error codes that mean "too much, too fast" or "not now": a later attempt may succeed.
const TRANSIENT_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];
/// Cancellation reasons of a transaction that are throttling, not a verdict on its conditions.
const TRANSIENT_CANCELLATIONS: [&str; 2] = ["ProvisionedThroughputExceeded", "ThrottlingError"];

/// An SDK failure the domain did not match: unreachable, timed out or throttled is [`StoreError::Unavailable`]
/// (503), anything else [`StoreError::Failed`] (500).
fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => e.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        _ => false,
    };
    let text = DisplayErrorContext(e).to_string();
    if transient {
        StoreError::Unavailable(text)
    } else {
        StoreError::Failed(text)
    }
}

/// A condition or update expression with its placeholders.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: Attributes,
}

impl Expression {
    fn new(now: i64) -> Self {
        let mut e = Self::default();
        e.names.insert("#pk".into(), ATTR_PK.into());
        e.names.insert("#ttl".into(), ATTR_TTL.into());
        e.values.insert(":now".into(), n(now));
        e
    }

    /// The DynamoDB form of a [`Condition`]; an item past its expiry counts as absent.
    fn condition(&mut self, condition: Condition) -> String {
        match condition {
            Condition::Absent => "attribute_not_exists(#pk) OR #ttl <= :now".into(),
            Condition::Exists => {
                "attribute_exists(#pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)".into()
            }
            Condition::Version(v) => {
                self.names.insert("#v".into(), ATTR_VERSION.into());
                self.values.insert(":expected".into(), n(v));
                "attribute_exists(#pk) AND #v = :expected AND (attribute_not_exists(#ttl) OR #ttl > :now)"
                    .into()
            }
        }
    }

    /// `SET`/`REMOVE` that turns whatever is stored into `item`, with the version the condition implies,
    /// stamped with the id of this write (`request`).
    fn put(
        &mut self,
        item: &Item,
        condition: Condition,
        request: &str,
    ) -> Result<String, StoreError> {
        self.names.insert("#v".into(), ATTR_VERSION.into());
        self.names.insert("#data".into(), ATTR_DATA.into());
        self.names.insert("#rid".into(), ATTR_REQUEST.into());
        self.values.insert(":rid".into(), s(request));
        self.values.insert(
            ":data".into(),
            AttributeValue::S(
                serde_json::to_string(&item.body)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            ),
        );
        let mut set = vec!["#data = :data".to_owned(), "#rid = :rid".to_owned()];
        match condition {
            Condition::Absent => {
                self.values.insert(":one".into(), n(1));
                set.push("#v = :one".into());
            }
            Condition::Version(v) => {
                self.values.insert(":next".into(), n(v + 1));
                set.push("#v = :next".into());
            }
            Condition::Exists => {
                self.values.insert(":one".into(), n(1));
                set.push("#v = #v + :one".into());
            }
        }
        let mut remove = Vec::new();
        match item.expires_at {
            Some(t) => {
                self.values.insert(":ttl".into(), n(t));
                set.push("#ttl = :ttl".into());
            }
            None => remove.push("#ttl"),
        }
        self.names.insert("#gpk".into(), ATTR_GSI1_PK.into());
        self.names.insert("#gsk".into(), ATTR_GSI1_SK.into());
        match &item.index {
            Some(ix) => {
                self.values.insert(":gpk".into(), s(&ix.pk));
                self.values.insert(":gsk".into(), s(&ix.sk));
                set.push("#gpk = :gpk".into());
                set.push("#gsk = :gsk".into());
            }
            None => remove.extend(["#gpk", "#gsk"]),
        }
        let mut expr = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Ok(expr)
    }
}

pub(super) fn to_item(mut attrs: Attributes) -> Result<Item, StoreError> {
    let text = |attrs: &mut Attributes, name: &str| match attrs.remove(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    };
    let number = |attrs: &mut Attributes, name: &str| match attrs.remove(name) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    let (Some(pk), Some(sk)) = (text(&mut attrs, ATTR_PK), text(&mut attrs, ATTR_SK)) else {
        return Err(StoreError::Corrupt("item without pk/sk".into()));
    };
    let corrupt = |what: &str| StoreError::Corrupt(format!("{pk}/{sk}: {what}"));
    let version = number(&mut attrs, ATTR_VERSION).ok_or_else(|| corrupt("no version"))? as u64;
    let expires_at = number(&mut attrs, ATTR_TTL);
    let index = match (
        text(&mut attrs, ATTR_GSI1_PK),
        text(&mut attrs, ATTR_GSI1_SK),
    ) {
        (Some(pk), Some(sk)) => Some(Key { pk, sk }),
        _ => None,
    };
    let body = match attrs.remove(ATTR_DATA) {
        Some(data) => match data {
            AttributeValue::S(text) => {
                serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?
            }
            _ => return Err(corrupt("data is not JSON text")),
        },
        None => return Err(corrupt("no data")),
    };
    Ok(Item {
        key: Key { pk, sk },
        version,
        expires_at,
        index,
        body,
    })
}

/// Why a transaction failed: a condition (nothing written), a conflict with another transaction (nothing
/// written, a retry may succeed), throttling (503), or [`unavailable`]'s verdict.
/// `checks` says which of the transaction's writes are [`Write::Check`]s (by index).
fn transaction_error(
    e: SdkError<TransactWriteItemsError, HttpResponse>,
    checks: &[bool],
) -> StoreError {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            let codes = || c.cancellation_reasons().iter().filter_map(|r| r.code());
            let failed_check = c
                .cancellation_reasons()
                .iter()
                .enumerate()
                .position(|(at, r)| {
                    checks.get(at) == Some(&true) && r.code() == Some("ConditionalCheckFailed")
                });
            if let Some(at) = failed_check {
                StoreError::CheckFailed(at)
            } else if codes().any(|code| code == "ConditionalCheckFailed") {
                StoreError::ConditionFailed
            } else if codes().any(|code| code == "TransactionConflict") {
                StoreError::Conflict
            } else if codes().any(|code| TRANSIENT_CANCELLATIONS.contains(&code)) {
                StoreError::Unavailable(DisplayErrorContext(e).to_string())
            } else {
                unavailable(e)
            }
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => StoreError::Conflict,
        _ => unavailable(e),
    }
}

/// Where a query stopped (its `LastEvaluatedKey`), as a cursor position.
fn to_position(mut attrs: Attributes) -> Result<Position, StoreError> {
    let mut text = |name: &str| match attrs.remove(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    };
    let last = match (text(ATTR_PK), text(ATTR_SK)) {
        (Some(pk), Some(sk)) => Key { pk, sk },
        _ => return Err(StoreError::Corrupt("start key without pk/sk".into())),
    };
    let index = match (text(ATTR_GSI1_PK), text(ATTR_GSI1_SK)) {
        (Some(pk), Some(sk)) => Some(Key { pk, sk }),
        _ => None,
    };
    Ok(Position { last, index })
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, cursors: CursorCodec) -> Self {
        Self {
            client,
            table: table.into(),
            cursors,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn transact_item(
        &self,
        write: &Write,
        now: i64,
        request: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(e.to_string());
        let mut expr = Expression::new(now);
        let item = match write {
            Write::Put(item, cond) => {
                let condition = expr.condition(*cond);
                let update = expr.put(item, *cond, request)?;
                TransactWriteItem::builder().update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attributes(&item.key)))
                        .update_expression(update)
                        .condition_expression(condition)
                        .set_expression_attribute_names(Some(expr.names))
                        .set_expression_attribute_values(Some(expr.values))
                        .build()
                        .map_err(invalid)?,
                )
            }
            Write::Delete(key, cond) => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(expr.condition(*cond))
                    .set_expression_attribute_names(Some(expr.names))
                    .set_expression_attribute_values(Some(expr.values))
                    .build()
                    .map_err(invalid)?,
            ),
            Write::Check(key, cond) => TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(expr.condition(*cond))
                    .set_expression_attribute_names(Some(expr.names))
                    .set_expression_attribute_values(Some(expr.values))
                    .build()
                    .map_err(invalid)?,
            ),
        };
        Ok(item.build())
    }

    /// One write on its own needs no transaction: a conditional UpdateItem/DeleteItem costs half as much.
    /// UpdateItem has no idempotency token, so a put stamps its own id on the item and, when its condition
    /// fails, reads the item DynamoDB returns: its own id there means an earlier attempt of this very call
    /// committed (the SDK retried after a lost response), which is a success.
    async fn write_one(&self, write: Write) -> Result<(), StoreError> {
        let mut expr = Expression::new(unix_now());
        let request = uuid::Uuid::new_v4().to_string();
        match write {
            Write::Put(item, cond) => {
                let condition = expr.condition(cond);
                let update = expr.put(&item, cond, &request)?;
                let written = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(&item.key)))
                    .update_expression(update)
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(expr.names))
                    .set_expression_attribute_values(Some(expr.values))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match written {
                    Ok(_) => {}
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                            let mine = failed
                                .item()
                                .and_then(|old| old.get(ATTR_REQUEST))
                                .is_some_and(|rid| *rid == s(&request));
                            if !mine {
                                return Err(StoreError::ConditionFailed);
                            }
                        }
                        Some(UpdateItemError::TransactionConflictException(_)) => {
                            return Err(StoreError::Conflict);
                        }
                        _ => return Err(unavailable(e)),
                    },
                }
            }
            Write::Delete(key, cond) => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(&key)))
                    .condition_expression(expr.condition(cond))
                    .set_expression_attribute_names(Some(expr.names))
                    .set_expression_attribute_values(Some(expr.values))
                    .send()
                    .await
                    .map_err(|e| match e.as_service_error() {
                        Some(DeleteItemError::ConditionalCheckFailedException(_)) => {
                            StoreError::ConditionFailed
                        }
                        Some(DeleteItemError::TransactionConflictException(_)) => {
                            StoreError::Conflict
                        }
                        _ => unavailable(e),
                    })?;
            }
            check @ Write::Check(..) => return self.transact_many(vec![check]).await,
        }
        Ok(())
    }

    /// The token makes an SDK retry of a transaction that already committed a success, not a failed
    /// condition (DynamoDB remembers it for ten minutes).
    async fn transact_many(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let now = unix_now();
        let request = uuid::Uuid::new_v4().to_string();
        let items = writes
            .iter()
            .map(|w| self.transact_item(w, now, &request))
            .collect::<Result<Vec<_>, _>>()?;
        let checks: Vec<bool> = writes
            .iter()
            .map(|w| matches!(w, Write::Check(..)))
            .collect();
        self.client
            .transact_write_items()
            .client_request_token(request)
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(e, &checks))?;
        Ok(())
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        if !storable(key) {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let now = unix_now();
        match out.item {
            Some(attrs) => Ok(Some(to_item(attrs)?).filter(|i| i.is_live(now))),
            None => Ok(None),
        }
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut unique: Vec<&Key> = keys.iter().filter(|k| storable(k)).collect();
        unique.sort();
        unique.dedup();
        let now = unix_now();
        let mut found = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|k| key_attributes(k)).collect()))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            // DynamoDB may hand back part of a batch as unprocessed under load: ask again for the rest,
            // a bounded number of times with jittered waits, then give up as unavailable.
            let mut retry = Backoff::new(BATCH_GET_ATTEMPTS);
            let mut pending = Some(request);
            while let Some(request) = pending.take() {
                if !retry.attempt().await {
                    return Err(StoreError::Unavailable(format!(
                        "BatchGetItem left keys unprocessed after {BATCH_GET_ATTEMPTS} attempts"
                    )));
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for attrs in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let item = to_item(attrs)?;
                    if item.is_live(now) {
                        found.push(item);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|rest| !rest.keys.is_empty());
            }
        }
        Ok(found)
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        if !queryable(query) {
            return Ok(Page::default());
        }
        let position = self.cursors.decode(query)?;
        let (pk_attr, sk_attr, index_name) = match query.index {
            Index::Primary => (ATTR_PK, ATTR_SK, None),
            Index::Gsi1 => (ATTR_GSI1_PK, ATTR_GSI1_SK, Some(GSI1)),
        };
        let mut start = position.map(|at| {
            let mut key = key_attributes(&at.last);
            if let Some(ix) = at.index {
                key.insert(ATTR_GSI1_PK.into(), s(&ix.pk));
                key.insert(ATTR_GSI1_SK.into(), s(&ix.sk));
            }
            key
        });
        let mut names = HashMap::from([
            ("#p".to_owned(), pk_attr.to_owned()),
            ("#ttl".to_owned(), ATTR_TTL.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":p".to_owned(), s(&query.partition)),
            (":now".to_owned(), n(unix_now())),
        ]);
        let mut key_condition = "#p = :p".to_owned();
        if !query.prefix.is_empty() {
            names.insert("#s".into(), sk_attr.into());
            values.insert(":prefix".into(), s(&query.prefix));
            key_condition.push_str(" AND begins_with(#s, :prefix)");
        }
        let want = query.page_size() as usize;
        let mut page = Vec::with_capacity(want + 1);
        // Read one item past the page to learn whether a cursor is needed; the expiry filter may thin a
        // response, so keep reading until the page is full or the partition ends, but for a bounded number
        // of round trips: a partition of mostly expired items then yields a short page and a cursor.
        let mut resume = None;
        for _ in 0..QUERY_ROUND_TRIPS {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index_name.map(str::to_owned))
                .key_condition_expression(&key_condition)
                .filter_expression("attribute_not_exists(#ttl) OR #ttl > :now")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!query.descending)
                .consistent_read(query.index == Index::Primary)
                .limit((want + 1 - page.len()) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for attrs in out.items.unwrap_or_default() {
                page.push(to_item(attrs)?);
            }
            match out.last_evaluated_key {
                Some(next) if page.len() <= want => {
                    resume = Some(next.clone());
                    start = Some(next);
                }
                _ => {
                    resume = None;
                    break;
                }
            }
        }
        let cursor = if page.len() > want {
            page.truncate(want);
            page.last().map(|last| self.cursors.encode(query, last))
        } else {
            resume
                .map(to_position)
                .transpose()?
                .map(|at| self.cursors.encode_at(query, at))
        };
        Ok(Page {
            items: page,
            cursor,
        })
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        match <[Write; 1]>::try_from(writes) {
            Ok([write]) => self.write_one(write).await,
            Err(writes) => self.transact_many(writes).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn service(code: &str, status: u16) -> StoreError {
        let error = GetItemError::generic(ErrorMetadata::builder().code(code).build());
        unavailable(SdkError::service_error(error, response(status)))
    }

    fn cancelled(reasons: &[&str]) -> StoreError {
        let error = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(
                reasons
                    .iter()
                    .map(|code| CancellationReason::builder().code(*code).build())
                    .collect(),
            ))
            .build();
        // The first write is a check.
        transaction_error(
            SdkError::service_error(
                TransactWriteItemsError::TransactionCanceledException(error),
                response(400),
            ),
            &[true, false],
        )
    }

    #[test]
    fn throttled_unreachable_or_slow_is_unavailable_the_rest_failed() {
        for code in TRANSIENT_CODES {
            assert!(
                matches!(service(code, 400), StoreError::Unavailable(_)),
                "{code}"
            );
        }
        for code in ["ResourceNotFoundException", "ValidationException"] {
            assert!(
                matches!(service(code, 400), StoreError::Failed(_)),
                "{code}"
            );
        }
        let timeout = SdkError::<GetItemError, HttpResponse>::timeout_error("operation timed out");
        assert!(matches!(unavailable(timeout), StoreError::Unavailable(_)));
    }

    #[test]
    fn a_cancelled_transaction_says_why() {
        assert!(matches!(
            cancelled(&["None", "ConditionalCheckFailed"]),
            StoreError::ConditionFailed
        ));
        assert!(matches!(
            cancelled(&["ConditionalCheckFailed", "ConditionalCheckFailed"]),
            StoreError::CheckFailed(0)
        ));
        assert!(matches!(
            cancelled(&["TransactionConflict", "None"]),
            StoreError::Conflict
        ));
        for throttled in TRANSIENT_CANCELLATIONS {
            assert!(
                matches!(cancelled(&["None", throttled]), StoreError::Unavailable(_)),
                "{throttled}"
            );
        }
        assert!(matches!(
            cancelled(&["ValidationError"]),
            StoreError::Failed(_)
        ));
    }
}
