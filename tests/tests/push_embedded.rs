//! The push notification suite on the embedded store (SNS from moto).

switchboard_tests::push_suite!(switchboard_tests::api::Api::embedded().await);
