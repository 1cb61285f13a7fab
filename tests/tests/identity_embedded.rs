//! The identity suite on the embedded store.

switchboard_tests::api_suite!(switchboard_tests::api::Api::embedded().await; identity;
    first_run_walkthrough,
    usernames_are_case_insensitive,
    unknown_user_and_wrong_password_look_alike,
    five_failures_lock_the_identity,
    concurrent_sign_ups_make_one_account,
    one_time_token_opens_one_session,
    concurrent_profile_updates_lose_nothing,
    token_attacks_are_refused,
    fingerprint_binds_the_token,
    seed_error_table,
    user_service_crud,
    authorization_matrix,
    sessions_are_stored_listed_and_revocable,
    password_reset_with_a_one_time_token,
    accounts_tokens_roles_and_profile,
    personal_api_keys,
    server_api_for_the_sdks,
    bootstrap_is_idempotent,
);
