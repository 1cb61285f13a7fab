//! Shared helpers for the cross-crate tests: the stores under test (embedded in a temp dir, DynamoDB Local
//! with a fresh table) and the storage conformance suite both run.
//!
//! Services come from `scripts/services.sh start`, which writes their endpoints to `.tools/services.env`
//! (`scripts/test.sh` does all of it). A test that needs a service and finds none fails and says so.

pub mod api;
pub mod avatar;
pub mod conformance;
pub mod crm;
pub mod extension;
pub mod iam;
pub mod identity;
pub mod identity_security;
pub mod outbox;
pub mod push;
pub mod receiver;
pub mod resilience;
pub mod triggers;
pub mod webhooks;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::config_bag::ConfigBag;

use aws_sdk_dynamodb::config::{Credentials, Region};
use switchboard::store::dynamodb::DynamoStore;
use switchboard::store::embedded::EmbeddedStore;
use switchboard::store::table::ensure_table;
use switchboard::store::{CursorCodec, Store};

pub const DYNAMODB_URL: &str = "SWITCHBOARD_TEST_DYNAMODB_URL";

/// The URL of a test service, or a failure that says how to start it.
pub fn service_url(variable: &str) -> String {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{variable} is not set: this test needs the local test services. Run `scripts/test.sh`, or \
             `scripts/services.sh start && source .tools/services.env` before `cargo test`."
        ),
    }
}

pub fn cursor_codec() -> CursorCodec {
    CursorCodec::new(b"switchboard-tests-cursor-secret-0123456789")
}

/// A DynamoDB client for DynamoDB Local.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    local_client(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest()),
        &service_url(DYNAMODB_URL),
    )
}

/// A client of `config` (e.g. the functions' own timeouts and retry) for the DynamoDB Local at `url`.
pub fn local_client(
    config: aws_sdk_dynamodb::config::Builder,
    url: &str,
) -> aws_sdk_dynamodb::Client {
    let config = config
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The test services' credentials (`scripts/services.sh`).
pub fn credentials() -> Credentials {
    Credentials::new(
        "switchboardtest",
        "switchboardtestsecret",
        None,
        None,
        "tests",
    )
}

/// Counts the DynamoDB API calls a client makes (each operation once, whatever its retries).
#[derive(Debug, Default, Clone)]
pub struct CallCounter(pub Arc<AtomicUsize>);

impl CallCounter {
    pub fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A DynamoDB store on a table of its own, created with the project's one table definition.
pub async fn dynamo_store() -> Arc<dyn Store> {
    counted_dynamo_store(CallCounter::default()).await
}

/// As [`dynamo_store`], counting the DynamoDB calls made through it.
pub async fn counted_dynamo_store(counter: CallCounter) -> Arc<dyn Store> {
    observed_dynamo_store(counter).await
}

/// As [`dynamo_store`], with `interceptor` seeing every DynamoDB call made through it.
pub async fn observed_dynamo_store(interceptor: impl Intercept + 'static) -> Arc<dyn Store> {
    let config = dynamodb_client()
        .await
        .config()
        .to_builder()
        .interceptor(interceptor)
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = format!("switchboard-test-{}", uuid::Uuid::new_v4());
    if let Err(e) = ensure_table(&client, &table).await {
        panic!(
            "cannot create a table in DynamoDB Local at {}: {e}",
            service_url(DYNAMODB_URL)
        );
    }
    Arc::new(DynamoStore::new(client, table, cursor_codec()))
}

/// An embedded store in a fresh directory (kept alive by the returned guard).
pub fn embedded_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), cursor_codec()).expect("open embedded store");
    (dir, Arc::new(store))
}

/// The storage conformance suite on the store `$store` yields: every case, listed once.
#[macro_export]
macro_rules! store_conformance {
    ($store:expr) => {
        $crate::conformance_suite!($store;
            create_then_get_round_trips,
            create_refuses_an_existing_key,
            concurrent_creates_have_one_winner,
            concurrent_versioned_increments_lose_nothing,
            stale_update_changes_nothing,
            failed_transaction_writes_nothing,
            transactions_are_bounded_and_name_each_key_once,
            concurrent_transactions_claim_a_marker_once,
            expired_items_are_gone,
            conditional_delete,
            batch_get_finds_what_exists,
            pagination_returns_each_item_once,
            cursors_cannot_be_forged_or_reused_elsewhere,
            index_follows_updates_and_deletes,
            query_keeps_to_its_partition_and_prefix,
            any_json_body_round_trips,
            oversized_items_and_keys_are_refused,
            empty_keys_are_refused_and_never_found,
            transactions_over_4_mb_are_refused,
            pages_thinned_by_expired_items_stay_bounded,
            index_reads_may_lag_table_reads_never_do,
        );
    };
}

/// The identity suite on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! identity_suite {
    ($api:expr) => {
        $crate::api_suite!($api; identity;
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
            admins_stay_in_their_organization,
            guests_read_but_do_not_write,
            refused_updates_keep_the_token,
            path_ids_are_percent_decoded,
        );
    };
}

/// The identity security suite (issue 11) on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! identity_security_suite {
    ($api:expr) => {
        $crate::api_suite!($api; identity_security;
            parallel_guesses_cannot_pass_the_lockout,
            a_locked_account_is_no_password_oracle,
            failed_sign_in_lockout_is_temporary_and_blocks_sign_in_only,
            bootstrap_is_the_break_glass_for_the_admin,
            password_less_identities_are_never_locked_by_guessing,
            tenants_cannot_reach_each_other,
            emails_are_unique_per_organization,
            server_api_users_cannot_be_squatted,
            concurrent_first_upserts_all_succeed,
            logout_everywhere_does_not_trust_the_index,
            password_change_does_not_trust_the_index,
            correct_sign_ins_never_lock,
            seed_contract,
            lookalike_usernames_are_one_name,
            revoking_a_key_ends_its_crm_connections_only,
            migration_rewrites_an_old_store,
        );
    };
}

/// The avatar suite (issue 7) on the [`api::Api`] `$api` yields (it needs a bucket): every case, listed once.
#[macro_export]
macro_rules! avatar_suite {
    ($api:expr) => {
        $crate::api_suite!($api; avatar;
            the_upload_url_holds_to_its_terms,
            upload_url_authorization_and_validation,
            uploads_are_checked_and_attached_once,
            the_later_upload_wins,
            a_removal_outlasts_earlier_uploads,
            only_issued_uploads_attach,
            profiles_show_a_fresh_avatar_url,
            patch_attaches_issued_uploads_only,
            deleting_a_user_deletes_their_avatar,
            sync_from_base64_or_url,
            upload_multipart,
        );
    };
}

/// The CRM extension suite on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! crm_suite {
    ($api:expr) => {
        $crate::api_suite!($api; crm;
            app_connect_flow,
            login_and_token_errors,
            contacts_match_however_they_were_typed,
            call_log_rules,
            settings_notes_and_dispositions,
            concurrent_call_logs_make_one,
            concurrent_message_logs_log_each_once,
            oversized_input_is_refused,
        );
    };
}

/// The outbox suite (issue 9) on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! outbox_suite {
    ($api:expr) => {
        $crate::api_suite!($api; outbox;
            every_committed_change_tells_one_event,
            a_failed_change_leaves_no_event,
            concurrent_changes_each_tell_one,
            payloads_carry_no_secrets,
            password_reset_requests,
        );
    };
}

/// The webhook subscriptions suite (issue 9) on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! webhooks_suite {
    ($api:expr) => {
        $crate::api_suite!($api; webhooks;
            subscriptions_crud_and_the_secret_once,
            private_targets_are_refused,
            ping_is_signed_as_the_sdk_verifies,
            rotation_signs_with_the_new_secret_only,
            gone_disables_and_failures_can_be_retried,
            a_day_of_failures_disables_the_subscription,
            events_reach_their_subscribers_signed,
            a_receiver_that_was_down_gets_the_event_on_the_schedule,
            a_spent_schedule_fails_the_delivery,
            concurrent_changes_are_all_delivered,
            a_restarted_loop_delivers_what_was_pending,
        );
    };
}

/// The push notification suite (issue 8) on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! push_suite {
    ($api:expr) => {
        $crate::api_suite!($api; push;
            devices_register_list_and_remove,
            deleting_an_account_removes_its_push_records,
            sns_endpoints_are_reused_and_follow_rotation,
            a_token_belongs_to_one_device,
            twenty_active_devices_at_most,
            registrations_are_validated,
            concurrent_registrations_make_one_record,
            concurrent_preference_patches_lose_nothing,
            preferences_are_validated,
            notifications_are_delivered_through_sns,
            suppressed_notifications_are_recorded_not_sent,
            sending_is_validated_and_authorized,
            the_server_sdk_sends_notifications,
            web_push_and_expo_reach_loopback_receivers,
        );
    };
}

/// The resilience suite on the [`api::Api`] `$api` yields: every case, listed once.
#[macro_export]
macro_rules! resilience_suite {
    ($api:expr) => {
        $crate::api_suite!($api; resilience;
            writes_succeed_through_conflicts,
            contact_matches_are_bounded,
        );
    };
}

/// Generates one `#[tokio::test]` per conformance case, each on a fresh store from `$store`
/// (an async expression yielding `(guard, Arc<dyn Store>)`).
#[macro_export]
macro_rules! conformance_suite {
    ($store:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (_guard, store) = $store;
                $crate::conformance::$case(store).await;
            }
        )+
    };
}
