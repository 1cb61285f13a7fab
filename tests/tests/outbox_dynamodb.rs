//! The outbox suite on DynamoDB Local (a fresh table per case).

switchboard_tests::outbox_suite!(switchboard_tests::api::Api::dynamodb().await);
