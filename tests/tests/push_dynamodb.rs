//! The push notification suite on DynamoDB Local (a fresh table per case; SNS from moto).

switchboard_tests::push_suite!(switchboard_tests::api::Api::dynamodb().await);
