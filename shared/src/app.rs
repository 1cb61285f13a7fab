//! The whole backend in one value, as the local server and the tests run it: configuration, the store and
//! every service over it. A Lambda function builds only its own part instead (see `lambda::start`), and
//! here is how the store is opened either way.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::config::{Config, ConfigError, Storage};
use crate::crm::Crm;
use crate::identity::Identities;
use crate::store::dynamodb::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::store::{CursorCodec, RetryConflicts, Store, StoreError, Traced};

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub identities: Identities,
    pub crm: Crm,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
}

impl App {
    pub async fn new(config: Config) -> Result<Arc<Self>, StartError> {
        let store = open_store(&config).await?;
        Ok(Self::over(config, store))
    }

    /// An app over a store built elsewhere (tests give each case a fresh table).
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Arc<Self> {
        Self::over(config, layered(store))
    }

    fn over(config: Config, store: Arc<dyn Store>) -> Arc<Self> {
        let identities = Identities::new(store.clone(), &config);
        let crm = Crm::new(store.clone(), &config);
        Arc::new(Self {
            config,
            store,
            identities,
            crm,
        })
    }
}

/// The configured store (DynamoDB, its client built once, or the embedded one), with conflict retries and
/// tracing around it.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    match &config.storage {
        Storage::DynamoDb { table } => Ok(open_dynamodb(config, table).await),
        Storage::Embedded { dir } => Ok(layered(Arc::new(EmbeddedStore::open(
            dir,
            CursorCodec::new(config.token_secret.expose()),
        )?))),
    }
}

/// The DynamoDB store alone: what a Lambda function opens, so its binary links no embedded store.
pub async fn open_dynamodb(config: &Config, table: &str) -> Arc<dyn Store> {
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let cursors = CursorCodec::new(config.token_secret.expose());
    layered(Arc::new(DynamoStore::new(
        client,
        table.to_owned(),
        cursors,
    )))
}

fn layered(store: Arc<dyn Store>) -> Arc<dyn Store> {
    Arc::new(Traced::new(Arc::new(RetryConflicts::new(store))))
}

/// Connecting to DynamoDB takes milliseconds; longer means the endpoint is unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// One attempt of one call: DynamoDB answers in milliseconds, so a second and a half is a stall.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
/// One call, retries included: a request that meets an outage is answered 503 after this long, well inside
/// the functions' 10 s timeout and before a client gives up.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts per call under the SDK's standard retry (jittered backoff, retry quota).
pub const MAX_ATTEMPTS: u32 = 3;

/// The SDK configuration shared by every client, built once per cold start: region, credentials and
/// `AWS_ENDPOINT_URL_*` from the environment; the timeouts and bounded retry above.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}
