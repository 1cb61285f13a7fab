//! The App Connect extension's flows over HTTP, on the embedded store.

switchboard_tests::extension_suite!(switchboard_tests::api::Api::embedded().await);
