//! Shared helpers for the cross-crate tests: the stores under test (embedded in a temp dir, DynamoDB Local
//! with a fresh table) and the storage conformance suite both run.
//!
//! Services come from `scripts/services.sh start`, which writes their endpoints to `.tools/services.env`
//! (`scripts/test.sh` does all of it). A test that needs a service and finds none fails and says so.
//!
//! A shared suite (`identity`, `crm`, …, the storage `conformance` suite) runs on each backend: its
//! `*_suite!` macro here makes one `#[tokio::test]` per case in the backend's module
//! (`tests/<suite>_<backend>.rs`). Its cases are the public functions of its module with the suite's
//! signature, each starting a line: `pub async fn NAME(api: &Api) {`, or in the conformance suite
//! `pub async fn NAME(store: Shared) {`. `build.rs` finds them, so writing a case registers it; a public
//! helper there must differ in its signature (a return type, more parameters).

pub mod api;
pub mod avatar;
pub mod conformance;
pub mod crm;
pub mod extension;
pub mod external_tokens;
pub mod iam;
pub mod identity;
pub mod identity_security;
pub mod mail;
pub mod members;
pub mod oidc;
pub mod outbox;
pub mod push;
pub mod receiver;
pub mod resilience;
pub mod sessions;
pub mod triggers;
pub mod webhooks;
pub mod wire;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

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

/// The moto server's recorded state (`/moto-api/data.json`): the SNS messages it was given, the mail SES
/// accepted.
pub async fn moto_state() -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = service_url(push::MOTO_URL);
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request =
        format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap()
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

/// Records the DynamoDB API calls a client makes (each operation once, whatever its retries), with when each
/// started and ended, so a test can tell calls made one after another from calls made at the same time.
#[derive(Debug, Default, Clone)]
pub struct CallCounter(Arc<Mutex<Vec<Span>>>);

/// When a call started, and when it ended (once it has).
type Span = (Instant, Option<Instant>);

/// The calls a request made: how many, and how many had to wait for another (the longest chain of calls
/// each starting after the one before it ended: the round trips on the critical path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub count: usize,
    pub depth: usize,
}

/// Which recorded call an operation is, kept in its own config bag between its hooks.
#[derive(Debug, Clone)]
struct CallIndex(usize);

impl Storable for CallIndex {
    type Storer = StoreReplace<Self>;
}

impl CallCounter {
    /// The calls since the last `take`.
    pub fn take(&self) -> Calls {
        let mut spans = std::mem::take(&mut *self.0.lock().unwrap());
        let count = spans.len();
        // Earliest end first: the most calls that follow one another (interval scheduling).
        spans.sort_by_key(|(start, end)| end.unwrap_or(*start));
        let mut depth = 0;
        let mut free_at = None;
        for (start, end) in spans {
            if free_at.is_none_or(|free| start >= free) {
                depth += 1;
                free_at = Some(end.unwrap_or(start));
            }
        }
        Calls { count, depth }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut spans = self.0.lock().unwrap();
        cfg.interceptor_state().store_put(CallIndex(spans.len()));
        spans.push((Instant::now(), None));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallIndex(at)) = cfg.load::<CallIndex>()
            && let Some(span) = self.0.lock().unwrap().get_mut(*at)
        {
            span.1 = Some(Instant::now());
        }
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

/// The storage conformance suite on the store `$store` yields: every case of [`conformance`].
#[macro_export]
macro_rules! store_conformance {
    ($store:expr) => {
        $crate::__conformance_cases!(conformance_suite!($store;));
    };
}

/// The identity suite on the [`api::Api`] `$api` yields: every case of [`identity`].
#[macro_export]
macro_rules! identity_suite {
    ($api:expr) => {
        $crate::__identity_cases!(api_suite!($api; identity;));
    };
}

/// The identity security suite (issue 11) on the [`api::Api`] `$api` yields: every case of
/// [`identity_security`].
#[macro_export]
macro_rules! identity_security_suite {
    ($api:expr) => {
        $crate::__identity_security_cases!(api_suite!($api; identity_security;));
    };
}

/// The avatar suite (issue 7) on the [`api::Api`] `$api` yields (it needs a bucket): every case of
/// [`avatar`].
#[macro_export]
macro_rules! avatar_suite {
    ($api:expr) => {
        $crate::__avatar_cases!(api_suite!($api; avatar;));
    };
}

/// The CRM extension suite on the [`api::Api`] `$api` yields: every case of [`crm`].
#[macro_export]
macro_rules! crm_suite {
    ($api:expr) => {
        $crate::__crm_cases!(api_suite!($api; crm;));
    };
}

/// The outbox suite (issue 9) on the [`api::Api`] `$api` yields: every case of [`outbox`].
#[macro_export]
macro_rules! outbox_suite {
    ($api:expr) => {
        $crate::__outbox_cases!(api_suite!($api; outbox;));
    };
}

/// The mail suite (issues 22 and 23) on the [`api::Api`] `$api` yields: every case of [`mail`].
#[macro_export]
macro_rules! mail_suite {
    ($api:expr) => {
        $crate::__mail_cases!(api_suite!($api; mail;));
    };
}

/// The tokens-from-elsewhere suite (issue 18) on the [`api::Api`] `$api` yields: every case of
/// [`external_tokens`].
#[macro_export]
macro_rules! external_tokens_suite {
    ($api:expr) => {
        $crate::__external_tokens_cases!(api_suite!($api; external_tokens;));
    };
}

/// The members suite (issue 22) on the [`api::Api`] `$api` yields: every case of [`members`].
#[macro_export]
macro_rules! members_suite {
    ($api:expr) => {
        $crate::__members_cases!(api_suite!($api; members;));
    };
}

/// The sessions suite (issue 22) on the [`api::Api`] `$api` yields: every case of [`sessions`].
#[macro_export]
macro_rules! sessions_suite {
    ($api:expr) => {
        $crate::__sessions_cases!(api_suite!($api; sessions;));
    };
}

/// The webhook subscriptions suite (issue 9) on the [`api::Api`] `$api` yields: every case of [`webhooks`].
#[macro_export]
macro_rules! webhooks_suite {
    ($api:expr) => {
        $crate::__webhooks_cases!(api_suite!($api; webhooks;));
    };
}

/// The push notification suite (issue 8) on the [`api::Api`] `$api` yields: every case of [`push`].
#[macro_export]
macro_rules! push_suite {
    ($api:expr) => {
        $crate::__push_cases!(api_suite!($api; push;));
    };
}

/// The resilience suite on the [`api::Api`] `$api` yields: every case of [`resilience`].
#[macro_export]
macro_rules! resilience_suite {
    ($api:expr) => {
        $crate::__resilience_cases!(api_suite!($api; resilience;));
    };
}

/// The App Connect extension suite on the [`api::Api`] `$api` yields: every case of [`extension`].
#[macro_export]
macro_rules! extension_suite {
    ($api:expr) => {
        $crate::__extension_cases!(api_suite!($api; extension;));
    };
}

// `__<suite>_cases!(driver!(ARGS))` is `$crate::driver!(ARGS case, case, …)`, each suite's cases found by
// `build.rs`.
include!(concat!(env!("OUT_DIR"), "/cases.rs"));

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
