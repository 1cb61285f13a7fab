//! The App Connect extension's flows over HTTP, on the embedded store.

switchboard_tests::api_suite!(switchboard_tests::api::Api::embedded().await; extension;
    app_connect_extension_over_http,
);
