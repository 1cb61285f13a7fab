//! The CRM extension suite on the embedded store.

switchboard_tests::crm_suite!(switchboard_tests::api::Api::embedded().await);
