//! The webhook subscriptions suite on DynamoDB Local (a fresh table per case).

switchboard_tests::webhooks_suite!(switchboard_tests::api::Api::dynamodb().await);
