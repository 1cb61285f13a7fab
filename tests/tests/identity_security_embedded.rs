//! The identity security suite on the embedded store (redb in a temp dir).

switchboard_tests::identity_security_suite!(switchboard_tests::api::Api::embedded().await);
