//! The App Connect extension's flows over HTTP, on DynamoDB Local (a fresh table).

switchboard_tests::api_suite!(switchboard_tests::api::Api::dynamodb().await; extension;
    app_connect_extension_over_http,
);
