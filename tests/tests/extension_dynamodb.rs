//! The App Connect extension's flows over HTTP, on DynamoDB Local (a fresh table).

switchboard_tests::extension_suite!(switchboard_tests::api::Api::dynamodb().await);
