//! The IAM actions each route needs, recorded at the SDK: every DynamoDB call made while serving a route
//! is turned into the action(s) and resource IAM checks for it (a transaction needs the action of each
//! of its parts). `round_trips.rs` compares them with each function's policy in `template.yaml`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, delete_item::DeleteItemInput, get_item::GetItemInput,
    put_item::PutItemInput, query::QueryInput, transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    /// The route key (`GET /contact`) being served; set by [`crate::api::Call::send`].
    pub static ROUTE: String;
}

/// `(action, resource)`: the resource is `table` or `index/<name>`.
pub type Grant = (String, String);

#[derive(Debug, Default, Clone)]
pub struct ActionRecorder(pub Arc<Mutex<BTreeMap<String, BTreeSet<Grant>>>>);

fn grants(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Vec<Grant> {
    let table = |action: &str| (format!("dynamodb:{action}"), "table".to_owned());
    if input.downcast_ref::<GetItemInput>().is_some() {
        vec![table("GetItem")]
    } else if input.downcast_ref::<BatchGetItemInput>().is_some() {
        vec![table("BatchGetItem")]
    } else if input.downcast_ref::<UpdateItemInput>().is_some() {
        vec![table("UpdateItem")]
    } else if input.downcast_ref::<DeleteItemInput>().is_some() {
        vec![table("DeleteItem")]
    } else if input.downcast_ref::<PutItemInput>().is_some() {
        vec![table("PutItem")]
    } else if let Some(query) = input.downcast_ref::<QueryInput>() {
        let resource = match query.index_name() {
            Some(index) => format!("index/{index}"),
            None => "table".into(),
        };
        vec![("dynamodb:Query".into(), resource)]
    } else if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
        tx.transact_items()
            .iter()
            .map(|item| {
                table(if item.update().is_some() {
                    "UpdateItem"
                } else if item.delete().is_some() {
                    "DeleteItem"
                } else if item.put().is_some() {
                    "PutItem"
                } else {
                    "ConditionCheckItem"
                })
            })
            .collect()
    } else {
        vec![("dynamodb:unrecognised".into(), "table".into())]
    }
}

impl Intercept for ActionRecorder {
    fn name(&self) -> &'static str {
        "ActionRecorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Calls outside a route (test set-up) belong to no function.
        if let Ok(route) = ROUTE.try_with(String::clone) {
            let mut seen = self.0.lock().unwrap();
            seen.entry(route)
                .or_default()
                .extend(grants(context.input()));
        }
        Ok(())
    }
}
