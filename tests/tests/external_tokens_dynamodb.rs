//! The tokens-from-elsewhere suite on DynamoDB Local (a fresh table per case).

switchboard_tests::external_tokens_suite!(switchboard_tests::api::Api::dynamodb().await);
