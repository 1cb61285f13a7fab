//! The mail suite on the embedded store (redb in a temp dir).

switchboard_tests::mail_suite!(switchboard_tests::api::Api::embedded().await);
