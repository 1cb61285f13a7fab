//! The outbox suite on the embedded store (redb in a temp dir).

switchboard_tests::outbox_suite!(switchboard_tests::api::Api::embedded().await);
