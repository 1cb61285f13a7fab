//! The CRM extension suite on DynamoDB Local (a fresh table per case).

switchboard_tests::crm_suite!(switchboard_tests::api::Api::dynamodb().await);
