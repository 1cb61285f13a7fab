//! The one definition of the table. `template.yaml` declares the same table for AWS; a test in `tests/`
//! compares the two so they cannot drift.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::StoreError;

pub const ATTR_PK: &str = "pk";
pub const ATTR_SK: &str = "sk";
pub const ATTR_GSI1_PK: &str = "gsi1pk";
pub const ATTR_GSI1_SK: &str = "gsi1sk";
pub const ATTR_TTL: &str = "ttl";
pub const GSI1: &str = "gsi1";

/// Key attributes (all strings), the primary key and each index's key, as `(hash, range)`.
pub const KEY_ATTRIBUTES: [&str; 4] = [ATTR_PK, ATTR_SK, ATTR_GSI1_PK, ATTR_GSI1_SK];
pub const PRIMARY_KEY: (&str, &str) = (ATTR_PK, ATTR_SK);
pub const INDEXES: [(&str, (&str, &str)); 1] = [(GSI1, (ATTR_GSI1_PK, ATTR_GSI1_SK))];

fn key_schema((hash, range): (&str, &str)) -> Result<Vec<KeySchemaElement>, StoreError> {
    [(hash, KeyType::Hash), (range, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))
        })
        .collect()
}

/// Creates the table (on-demand, with TTL) unless it exists: used by tests and local runs against an emulator.
pub async fn ensure_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(e.to_string());
    if client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    let mut create = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(PRIMARY_KEY)?));
    for attr in KEY_ATTRIBUTES {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(invalid)?,
        );
    }
    for (index, keys) in INDEXES {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(key_schema(keys)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(invalid)?,
        );
    }
    let failed = |e: String| StoreError::Unavailable(format!("creating table {name}: {e}"));
    match create.send().await {
        Ok(_) => {}
        // Another process created it first: fine, it is the same definition.
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(failed(DisplayErrorContext(e).to_string())),
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(ATTR_TTL)
                .enabled(true)
                .build()
                .map_err(invalid)?,
        )
        .send()
        .await
        .map_err(|e| failed(DisplayErrorContext(e).to_string()))?;
    Ok(())
}
