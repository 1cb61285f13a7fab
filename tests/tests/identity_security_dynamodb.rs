//! The identity security suite on DynamoDB Local (a fresh table per case).

switchboard_tests::identity_security_suite!(switchboard_tests::api::Api::dynamodb().await);
