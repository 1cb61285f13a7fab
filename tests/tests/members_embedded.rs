//! The members suite on the embedded store (redb in a temp dir).

switchboard_tests::members_suite!(switchboard_tests::api::Api::embedded().await);
