//! The whole backend in one value, as the local server and the tests run it: configuration, the store and
//! every service over it. A Lambda function builds only its own part instead (see `lambda::start`), and
//! here is how the store is opened either way.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::avatar::Avatars;
use crate::avatar::objects::{self, AvatarObjects};
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
    pub avatars: Avatars,
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
        // Without a bucket, the local server gives one of its own (switchboard_local::s3): no AWS settings.
        let sdk = match config.bucket {
            Some(_) => aws_config().await,
            None => offline_sdk(),
        };
        let objects = avatar_objects(&config, &sdk);
        Ok(Self::over(config, store, objects))
    }

    /// An app over a store built elsewhere (tests give each case a fresh table); its avatar bucket is not
    /// reachable until [`App::with_avatar_objects`] gives one.
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> Arc<Self> {
        let objects = avatar_objects(&config, &offline_sdk());
        Self::over(config, layered(store), objects)
    }

    /// The same app with another avatar bucket (the tests' s3s-fs, the local server's own S3).
    pub fn with_avatar_objects(&self, objects: AvatarObjects) -> Arc<Self> {
        Arc::new(Self {
            config: self.config.clone(),
            store: self.store.clone(),
            identities: self.identities.clone(),
            crm: self.crm.clone(),
            avatars: Avatars::new(self.store.clone(), objects),
        })
    }

    /// The same app over `store`, a layer around this one's (the local server's table stream).
    pub fn over_store(&self, store: Arc<dyn Store>) -> Arc<Self> {
        Self::over(self.config.clone(), store, self.avatars.objects.clone())
    }

    fn over(config: Config, store: Arc<dyn Store>, objects: AvatarObjects) -> Arc<Self> {
        let identities = Identities::new(store.clone(), &config);
        let crm = Crm::new(store.clone(), &config);
        let avatars = Avatars::new(store.clone(), objects);
        Arc::new(Self {
            config,
            store,
            identities,
            crm,
            avatars,
        })
    }
}

/// The identities and the avatars their profiles show: the state of the functions that serve accounts and
/// profiles (accounts, avatar-upload-url, server-api).
pub struct Profiles {
    pub identities: Identities,
    pub avatars: Avatars,
}

impl Profiles {
    pub fn new(config: &Config, store: Arc<dyn Store>, objects: AvatarObjects) -> Self {
        Self {
            identities: Identities::new(store.clone(), config),
            avatars: Avatars::new(store, objects),
        }
    }
}

/// The configured store (DynamoDB, its client built once, or the embedded one), with conflict retries and
/// tracing around it.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    match &config.storage {
        Storage::DynamoDb { table } => Ok(open_dynamodb(config, table, &aws_config().await)),
        Storage::Embedded { dir } => Ok(layered(Arc::new(EmbeddedStore::open_with_cache(
            dir,
            CursorCodec::new(config.token_secret.expose()),
            config.embedded_cache_bytes,
        )?))),
    }
}

/// The DynamoDB store alone: what a Lambda function opens, so its binary links no embedded store.
pub fn open_dynamodb(config: &Config, table: &str, sdk: &aws_config::SdkConfig) -> Arc<dyn Store> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let cursors = CursorCodec::new(config.token_secret.expose());
    layered(Arc::new(DynamoStore::new(
        client,
        table.to_owned(),
        cursors,
    )))
}

/// The avatar bucket (`SWITCHBOARD_BUCKET`, locally `switchboard-avatars` by default) through the S3 client
/// of `sdk`; path-style URLs when `AWS_ENDPOINT_URL_S3` points at an emulator.
pub fn avatar_objects(config: &Config, sdk: &aws_config::SdkConfig) -> AvatarObjects {
    let emulated = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    AvatarObjects::new(
        objects::client(sdk, emulated),
        config.bucket.as_deref().unwrap_or(objects::LOCAL_BUCKET),
    )
}

/// SDK settings that reach nothing, until `App::with_avatar_objects` gives the avatar bucket.
fn offline_sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
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
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}

/// The timeouts above, for every client.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SDK's standard retry, bounded to [`MAX_ATTEMPTS`].
pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}
