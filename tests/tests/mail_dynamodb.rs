//! The mail suite on DynamoDB Local (a fresh table per case).

switchboard_tests::mail_suite!(switchboard_tests::api::Api::dynamodb().await);
