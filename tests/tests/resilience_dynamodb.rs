switchboard_tests::resilience_suite!(switchboard_tests::api::Api::dynamodb().await);
