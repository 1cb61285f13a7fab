//! The members suite on DynamoDB Local (a fresh table per case).

switchboard_tests::members_suite!(switchboard_tests::api::Api::dynamodb().await);
