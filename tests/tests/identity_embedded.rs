//! The identity suite on the embedded store (redb in a temp dir).

switchboard_tests::identity_suite!(switchboard_tests::api::Api::embedded().await);
