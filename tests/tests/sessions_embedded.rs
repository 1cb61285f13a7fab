//! The sessions suite on the embedded store (redb in a temp dir).

switchboard_tests::sessions_suite!(switchboard_tests::api::Api::embedded().await);
