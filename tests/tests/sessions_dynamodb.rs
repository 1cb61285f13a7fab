//! The sessions suite on DynamoDB Local (a fresh table per case).

switchboard_tests::sessions_suite!(switchboard_tests::api::Api::dynamodb().await);
