//! The webhook subscriptions suite on the embedded store (redb in a temp dir).

switchboard_tests::webhooks_suite!(switchboard_tests::api::Api::embedded().await);
