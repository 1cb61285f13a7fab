//! The tokens-from-elsewhere suite on the embedded store (redb in a temp dir).

switchboard_tests::external_tokens_suite!(switchboard_tests::api::Api::embedded().await);
