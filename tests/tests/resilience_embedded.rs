switchboard_tests::resilience_suite!(switchboard_tests::api::Api::embedded_conflicting(2).await);
