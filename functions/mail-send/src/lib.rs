//! The mail sender (docs/mail.md): DynamoDB Streams hands it the mail items as they are inserted (the event
//! source mapping's filter lets nothing else through), and it sends each through Amazon SES, once. The only
//! function allowed to send mail.

use std::sync::Arc;

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::Value;
use switchboard::Error;
use switchboard::config::Config;
use switchboard::identity::Identities;
use switchboard::identity::mail::{KEY_PREFIX, Outcome};
use switchboard::mail::Transport;
use switchboard::store::Store;
use switchboard::store::stream::{self, ChangeKind};

/// The identities (which know what each mail says) and where messages go.
pub struct Mailroom {
    pub identities: Identities,
    pub transport: Transport,
}

pub type State = Mailroom;

pub fn state(config: &Config, store: Arc<dyn Store>, transport: Transport) -> State {
    Mailroom {
        identities: Identities::new(store, config),
        transport,
    }
}

/// A stream batch: each mail inserted is sent; one that fails is reported alone, for a retry.
pub async fn handle(
    state: Arc<State>,
    event: Value,
) -> Result<DynamoDbEventResponse, lambda_http::Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in event["Records"].as_array().into_iter().flatten() {
        if let Err(e) = send(&state, record).await {
            tracing::warn!(error = %e, "mail not sent");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record["dynamodb"]["SequenceNumber"]
                .as_str()
                .map(str::to_owned);
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// The id of the mail a stream record inserted (its key is enough: the sender reads the item as it is now).
pub fn mail_id(record: &Value) -> Result<String, Error> {
    let change = stream::decode(record)?;
    match change.key.pk.strip_prefix(KEY_PREFIX) {
        Some(id) if change.kind == ChangeKind::Insert => Ok(id.to_owned()),
        _ => Err(Error::bad_request("stream record: not a mail insert")),
    }
}

async fn send(state: &State, record: &Value) -> Result<Outcome, Error> {
    let id = mail_id(record)?;
    let outcome = state.identities.send_mail(&id, &state.transport).await?;
    tracing::info!(mail = %id, ?outcome, "mail");
    Ok(outcome)
}
