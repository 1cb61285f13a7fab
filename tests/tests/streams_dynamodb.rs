//! DynamoDB Local implements Streams (it has no event source mappings): the test table gets a stream, its
//! records are read with the Streams API, the template's filter pattern is applied to them here, and what
//! passes goes to `event-dispatch` in Lambda's event shape. So the filter and the handler are proven on
//! records the real service produced: exactly the event inserts pass (not the changes they tell, nor an
//! event marked dispatched), and each is queued for its subscription once.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{Map, Value, json};
use switchboard::store::dynamodb::DynamoStore;
use switchboard::store::table::ensure_table;
use switchboard_tests::api::Api;
use switchboard_tests::triggers::{queue, queue_state, receive, sqs};
use switchboard_tests::webhooks::local_targets;
use switchboard_tests::{DYNAMODB_URL, cursor_codec, dynamodb_client, service_url};

/// DynamoDB JSON (`{"S": "…"}`), as Lambda hands stream images over.
fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::M(m) => json!({"M": image(m)}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute).collect::<Vec<_>>()}),
        other => panic!("unexpected attribute {other:?}"),
    }
}

fn image(attributes: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<_, _>>(),
    )
}

/// Every record of the table's stream so far, in Lambda's shape.
async fn stream_records(table: &str) -> Vec<Value> {
    let dynamodb = dynamodb_client().await;
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .expect("the table has a stream");
    let config = aws_sdk_dynamodbstreams::Config::from(&aws_config::SdkConfig::builder().build())
        .to_builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .endpoint_url(service_url(DYNAMODB_URL))
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "switchboardtest",
            "switchboardtestsecret",
            None,
            None,
            "tests",
        ))
        .build();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap()
        .shards
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator.take() {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .unwrap();
            let got = page.records.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            for record in got {
                let data = record.dynamodb.unwrap();
                records.push(json!({
                    "eventID": record.event_id,
                    "eventName": record.event_name.map(|n| n.as_str().to_owned()),
                    "eventSource": "aws:dynamodb",
                    "dynamodb": {
                        "Keys": image(data.keys.as_ref().unwrap()),
                        "NewImage": data.new_image.as_ref().map(image),
                        "SequenceNumber": data.sequence_number,
                        "StreamViewType": "NEW_IMAGE",
                    },
                }));
            }
            iterator = page.next_shard_iterator;
        }
    }
    records
}

/// The event source mapping's filter pattern, from template.yaml.
fn template_filter() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let filters = &template["Resources"]["EventDispatchFunction"]["Properties"]["Events"]["EventItems"]
        ["Properties"]["FilterCriteria"]["Filters"];
    let pattern = filters[0]["Pattern"].as_str().expect("one filter pattern");
    serde_json::from_str(pattern).unwrap()
}

/// Lambda's event filtering, for what the pattern uses: nested objects, and arrays of exact values or
/// `{"prefix": …}`.
fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(k, p)| matches(p, &value[k])),
        Value::Array(allowed) => allowed.iter().any(|a| match a {
            Value::Object(rule) if rule.contains_key("prefix") => value
                .as_str()
                .zip(rule["prefix"].as_str())
                .is_some_and(|(v, p)| v.starts_with(p)),
            exact => exact == value,
        }),
        other => panic!("unsupported pattern {other}"),
    }
}

#[tokio::test]
async fn the_filter_passes_event_inserts_only_and_the_dispatcher_queues_them_once() {
    let client = dynamodb_client().await;
    let table = format!("switchboard-test-{}", uuid::Uuid::new_v4());
    ensure_table(&client, &table).await.unwrap();
    client
        .update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let store = Arc::new(DynamoStore::new(client, table.clone(), cursor_codec()));
    let api = local_targets(&Api::over(store).await);
    let admin = api.admin_token().await;
    api.post("/webhooks")
        .bearer(&admin)
        .json(json!({"url": "http://127.0.0.1:9/hook", "events": ["account.created"]}))
        .send()
        .await;
    let (_, profile) = api.sign_up("robin", "robin-password").await;
    api.patch(&format!("/users/{profile}"))
        .bearer(&admin)
        .json(json!({"name": "Robin Hood"}))
        .send()
        .await;

    let filter = template_filter();
    let records = stream_records(&table).await;
    let passed: Vec<Value> = records
        .iter()
        .filter(|r| matches(&filter, r))
        .cloned()
        .collect();
    assert!(
        records.len() > passed.len(),
        "other writes are filtered out"
    );
    let events: Vec<String> = passed
        .iter()
        .map(|r| {
            let data = r["dynamodb"]["NewImage"]["data"]["S"].as_str().unwrap();
            serde_json::from_str::<Value>(data).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The bootstrap admin's sign-up, robin's, and robin's rename.
    assert_eq!(
        events,
        ["account.created", "account.created", "profile.updated"]
    );

    let sqs = sqs();
    let queue_url = queue(&sqs).await;
    let state = queue_state(&api, &sqs, &queue_url);
    let trigger = serde_json::from_value(json!({"Records": passed})).unwrap();
    let response = event_dispatch::handle(state.clone(), trigger)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let queued = receive(&sqs, &queue_url).await;
    // Robin's sign-up is queued; the admin's came before the subscription, which does not list the
    // rename either.
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(
        queued
            .iter()
            .any(|m| m["body"].as_str().unwrap().contains("deliveryId"))
    );

    // Marking them dispatched was a MODIFY of the same keys: the filter lets none of it through again.
    let again: Vec<Value> = stream_records(&table)
        .await
        .into_iter()
        .filter(|r| matches(&filter, r))
        .collect();
    assert_eq!(again.len(), passed.len(), "no new record passes");
}
