//! Configuration, read once at cold start. Lambda gets everything from the environment (template.yaml sets
//! it); the local server falls back to an embedded store and secrets it keeps in its data directory.
//!
//! Emulator endpoints use the AWS SDK's own variables (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`,
//! `AWS_ENDPOINT_URL_SNS`, or `AWS_ENDPOINT_URL` for all), which `aws-config` reads itself. Push settings
//! (SNS platform applications, VAPID, Expo) are read by the push module's own types.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use jiff::SignedDuration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const TABLE: &str = "SWITCHBOARD_TABLE";
pub const BUCKET: &str = "SWITCHBOARD_BUCKET";
pub const TOKEN_SECRET: &str = "SWITCHBOARD_TOKEN_SECRET";
/// App Connect's name for the key its JWTs are signed with; the CRM extension API keeps it.
pub const CRM_SECRET: &str = "APP_SERVER_SECRET_KEY";
pub const ORG_ID: &str = "SWITCHBOARD_ORG_ID";
pub const TYPE_ADMIN: &str = "SWITCHBOARD_TYPE_ADMIN";
pub const TYPE_REGULAR: &str = "SWITCHBOARD_TYPE_REGULAR";
pub const TYPE_GUEST: &str = "SWITCHBOARD_TYPE_GUEST";
pub const DATA_DIR: &str = "SWITCHBOARD_DATA_DIR";
pub const PUBLIC_URL: &str = "SWITCHBOARD_PUBLIC_URL";
pub const DEFAULT_DATA_DIR: &str = ".switchboard";
/// HS256 keys shorter than the hash add no strength and hint at a placeholder.
const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required setting {0}")]
    Missing(&'static str),
    #[error("setting {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A secret value: never printed, compared only by its users in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn parse(name: &'static str, value: String) -> Result<Self, ConfigError> {
        if value.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("must be at least {MIN_SECRET_BYTES} bytes"),
            });
        }
        Ok(Self(value))
    }

    fn generate() -> Self {
        Self(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Identity type ids (seed 003's `typeIds`), configurable per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityTypes {
    pub admin: String,
    pub regular: String,
    pub guest: String,
}

impl Default for IdentityTypes {
    fn default() -> Self {
        Self {
            admin: "100".into(),
            regular: "001".into(),
            guest: "000".into(),
        }
    }
}

pub const MAX_FAILURES: &str = "SWITCHBOARD_MAX_FAILED_SIGN_INS";
pub const LOCKOUT_SECONDS: &str = "SWITCHBOARD_LOCKOUT_SECONDS";
pub const LOCKOUT_MAX_SECONDS: &str = "SWITCHBOARD_LOCKOUT_MAX_SECONDS";

/// The deployment's own OpenID Connect provider, for its organization (`SWITCHBOARD_OIDC_ISSUER`,
/// `SWITCHBOARD_OIDC_AUDIENCE` comma-separated, `SWITCHBOARD_OIDC_JWKS_URL` optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks_url: Option<String>,
}

impl OidcSettings {
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = optional(env, "SWITCHBOARD_OIDC_ISSUER") else {
            return Ok(None);
        };
        let audiences: Vec<String> = optional(env, "SWITCHBOARD_OIDC_AUDIENCE")
            .map(|a| {
                a.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if audiences.is_empty() {
            return Err(ConfigError::Missing("SWITCHBOARD_OIDC_AUDIENCE"));
        }
        Ok(Some(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audiences,
            jwks_url: optional(env, "SWITCHBOARD_OIDC_JWKS_URL"),
        }))
    }
}

pub const MEMBERS_SHOW_CONTACT: &str = "SWITCHBOARD_MEMBERS_SHOW_CONTACT";
pub const SESSION_IDLE_SECONDS: &str = "SWITCHBOARD_SESSION_IDLE_SECONDS";
pub const SESSION_MAX_SECONDS: &str = "SWITCHBOARD_SESSION_MAX_SECONDS";

/// How long a session lasts: each refresh extends it to `idle_seconds` from then, never past `max_seconds`
/// after its sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle_seconds: i64,
    pub max_seconds: i64,
}

impl Default for SessionLimits {
    /// 30 days without a refresh, 90 days at most: a mobile app's user stays signed in.
    fn default() -> Self {
        Self {
            idle_seconds: 30 * 24 * 3600,
            max_seconds: 90 * 24 * 3600,
        }
    }
}

impl SessionLimits {
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let idle = positive_seconds(env, SESSION_IDLE_SECONDS, defaults.idle_seconds)?;
        let max = positive_seconds(env, SESSION_MAX_SECONDS, defaults.max_seconds.max(idle))?;
        if max < idle {
            return Err(ConfigError::Invalid {
                name: SESSION_MAX_SECONDS,
                reason: format!("must be at least {SESSION_IDLE_SECONDS} ({idle})"),
            });
        }
        Ok(Self {
            idle_seconds: idle,
            max_seconds: max,
        })
    }
}

/// A positive integer setting (seconds, counts), or `default` when unset.
fn positive_seconds(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: i64,
) -> Result<i64, ConfigError> {
    match optional(env, name) {
        None => Ok(default),
        Some(value) => {
            value
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::Invalid {
                    name,
                    reason: "must be a positive integer".into(),
                })
        }
    }
}

/// How many failures lock, and for how long: `seconds`, doubled on each lockout in a row, at most
/// `max_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub max_failures: u32,
    pub seconds: i64,
    pub max_seconds: i64,
}

impl Default for Lockout {
    /// Seed 003's five failures; 15 minutes, growing to a day at most.
    fn default() -> Self {
        Self {
            max_failures: 5,
            seconds: 15 * 60,
            max_seconds: 24 * 3600,
        }
    }
}

impl Lockout {
    /// From `SWITCHBOARD_MAX_FAILED_SIGN_INS`, `SWITCHBOARD_LOCKOUT_SECONDS` and
    /// `SWITCHBOARD_LOCKOUT_MAX_SECONDS` (positive integers), defaults for the ones not set.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number = |name: &'static str, default: i64| positive_seconds(env, name, default);
        let seconds = number(LOCKOUT_SECONDS, defaults.seconds)?;
        Ok(Self {
            max_failures: u32::try_from(number(MAX_FAILURES, defaults.max_failures.into())?)
                .unwrap_or(u32::MAX),
            seconds,
            max_seconds: number(LOCKOUT_MAX_SECONDS, defaults.max_seconds.max(seconds))?
                .max(seconds),
        })
    }

    /// The length of lockout number `previous + 1` in a row.
    pub fn duration(&self, previous: u32) -> i64 {
        self.seconds
            .saturating_mul(1_i64.checked_shl(previous.min(32)).unwrap_or(i64::MAX))
            .min(self.max_seconds)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    DynamoDb { table: String },
    Embedded { dir: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub storage: Storage,
    /// Avatar bucket; required by the functions that presign uploads.
    pub bucket: Option<String>,
    /// Signs access tokens and pagination cursors.
    pub token_secret: Secret,
    /// Signs the CRM extension's `jwtToken`.
    pub crm_secret: Secret,
    /// The organization of a single-tenant install (`SWITCHBOARD_ORG_ID`, default `default`).
    pub default_organization: String,
    /// Identity type ids (`SWITCHBOARD_TYPE_ADMIN`/`_REGULAR`/`_GUEST`, default 100/001/000).
    pub identity_types: IdentityTypes,
    /// The API's public base URL for the CRM manifest (`SWITCHBOARD_PUBLIC_URL`); else the request's origin.
    pub public_url: Option<String>,
    /// Failed sign-in lockout (`SWITCHBOARD_MAX_FAILED_SIGN_INS`, `SWITCHBOARD_LOCKOUT_SECONDS`,
    /// `SWITCHBOARD_LOCKOUT_MAX_SECONDS`; default 5 failures, 15 minutes growing to a day).
    pub lockout: Lockout,
    /// Whether the member directory shows members' email and phone to each other
    /// (`SWITCHBOARD_MEMBERS_SHOW_CONTACT=1`; default no).
    pub members_show_contact: bool,
    /// The deployment's own OpenID Connect provider, if any.
    pub oidc: Option<OidcSettings>,
    /// Session lifetimes (`SWITCHBOARD_SESSION_IDLE_SECONDS`, `SWITCHBOARD_SESSION_MAX_SECONDS`; default 30
    /// and 90 days).
    pub sessions: SessionLimits,
    /// What outbound requests (webhook deliveries) may reach: public https only, unless
    /// `SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1` (tests and local development).
    pub outbound: crate::outbound::Policy,
    /// Webhook delivery retries (`SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE`, default about 1 min to 24 h).
    pub webhook_retry: RetrySchedule,
    /// How long a rotated-out webhook secret still signs beside the new one
    /// (`SWITCHBOARD_WEBHOOK_SECRET_OVERLAP`, default 24 h; `0s`: not at all).
    pub webhook_secret_overlap: Duration,
    /// The largest avatar the server receives itself (`SWITCHBOARD_AVATAR_MAX_SIZE`, default 5,242,880).
    pub avatar_max_size: usize,
    /// The embedded store's page cache (`SWITCHBOARD_EMBEDDED_CACHE_BYTES`, default 32 MiB).
    pub embedded_cache_bytes: usize,
    /// The sender, the reset link and the reset token's life (`SWITCHBOARD_MAIL_FROM`,
    /// `SWITCHBOARD_PASSWORD_RESET_URL`, `SWITCHBOARD_PASSWORD_RESET_SECONDS`).
    pub mail: crate::mail::MailSettings,
}

fn identity_settings(env: &impl Fn(&str) -> Option<String>) -> (String, IdentityTypes) {
    let defaults = IdentityTypes::default();
    let types = IdentityTypes {
        admin: optional(env, TYPE_ADMIN).unwrap_or(defaults.admin),
        regular: optional(env, TYPE_REGULAR).unwrap_or(defaults.regular),
        guest: optional(env, TYPE_GUEST).unwrap_or(defaults.guest),
    };
    (
        optional(env, ORG_ID).unwrap_or_else(|| "default".into()),
        types,
    )
}

fn webhook_retry(env: &impl Fn(&str) -> Option<String>) -> Result<RetrySchedule, ConfigError> {
    RetrySchedule::from_setting(env(SCHEDULE_ENV).as_deref()).map_err(|reason| {
        ConfigError::Invalid {
            name: SCHEDULE_ENV,
            reason,
        }
    })
}

pub const SECRET_OVERLAP_ENV: &str = "SWITCHBOARD_WEBHOOK_SECRET_OVERLAP";
const DEFAULT_SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// A duration in jiff's friendly format, at most the 7 days a delivery is kept.
fn webhook_secret_overlap(env: &impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    let Some(text) = optional(env, SECRET_OVERLAP_ENV) else {
        return Ok(DEFAULT_SECRET_OVERLAP);
    };
    text.parse::<SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| *d <= MAX_STEP)
        .ok_or_else(|| ConfigError::Invalid {
            name: SECRET_OVERLAP_ENV,
            reason: format!("'{text}' is not a duration from 0s to 7 days such as 24h"),
        })
}

/// `SWITCHBOARD_PUBLIC_URL`, if set.
pub fn public_url(env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    optional(env, PUBLIC_URL)
}

fn optional(env: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    optional(env, name).ok_or(ConfigError::Missing(name))
}

impl Config {
    /// Lambda: every setting comes from the environment and the store is DynamoDB.
    pub fn lambda() -> Result<Self, ConfigError> {
        Self::for_lambda(|name| std::env::var(name).ok())
    }

    pub fn for_lambda(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let storage = Storage::DynamoDb {
            table: required(&env, TABLE)?,
        };
        let secrets = (
            lambda_secret(&env, TOKEN_SECRET)?,
            lambda_secret(&env, CRM_SECRET)?,
        );
        Self::from_settings(&env, storage, secrets, None)
    }

    /// Local runs: DynamoDB when `SWITCHBOARD_TABLE` is set, else the embedded store in the data directory.
    /// Secrets not in the environment are generated once and kept in the data directory, so tokens survive
    /// restarts.
    pub fn local(data_dir: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::for_local(|name| std::env::var(name).ok(), data_dir)
    }

    pub fn for_local(
        env: impl Fn(&str) -> Option<String>,
        data_dir: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let dir = data_dir
            .or_else(|| optional(&env, DATA_DIR).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let secret = |name: &'static str| match optional(&env, name) {
            Some(value) => Secret::parse(name, value),
            None => local_secret(&dir, name),
        };
        let secrets = (secret(TOKEN_SECRET)?, secret(CRM_SECRET)?);
        let storage = match optional(&env, TABLE) {
            Some(table) => Storage::DynamoDb { table },
            None => Storage::Embedded { dir: dir.clone() },
        };
        Self::from_settings(&env, storage, secrets, Some(crate::mail::LOCAL_FROM))
    }

    /// Everything but the store and the secrets, which Lambda and the local run find differently.
    fn from_settings(
        env: &impl Fn(&str) -> Option<String>,
        storage: Storage,
        (token_secret, crm_secret): (Secret, Secret),
        mail_from: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let (default_organization, identity_types) = identity_settings(env);
        Ok(Self {
            storage,
            bucket: optional(env, BUCKET),
            token_secret,
            crm_secret,
            default_organization,
            identity_types,
            public_url: public_url(env),
            lockout: Lockout::from_env(env)?,
            sessions: SessionLimits::from_env(env)?,
            oidc: OidcSettings::from_env(env)?,
            members_show_contact: optional(env, MEMBERS_SHOW_CONTACT).as_deref() == Some("1"),
            outbound: crate::outbound::Policy::from_env(env),
            webhook_retry: webhook_retry(env)?,
            webhook_secret_overlap: webhook_secret_overlap(env)?,
            avatar_max_size: positive_bytes(env, AVATAR_MAX_SIZE, DEFAULT_AVATAR_MAX_SIZE)?,
            embedded_cache_bytes: positive_bytes(
                env,
                EMBEDDED_CACHE_BYTES,
                DEFAULT_EMBEDDED_CACHE_BYTES,
            )?,
            mail: crate::mail::MailSettings::from_env(env, mail_from)?,
        })
    }

    pub fn require_bucket(&self) -> Result<&str, ConfigError> {
        self.bucket.as_deref().ok_or(ConfigError::Missing(BUCKET))
    }
}

/// A function gets only the secrets it signs or verifies with (template.yaml); in one that is not given a
/// secret, a random value of its own stands in, so nothing it could sign is trusted anywhere else.
fn lambda_secret(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Secret, ConfigError> {
    match optional(env, name) {
        Some(value) => Secret::parse(name, value),
        None => Ok(Secret::generate()),
    }
}

/// Reads `<dir>/secrets/<name>`, creating it with a fresh random value on first use.
pub fn local_secret(dir: &Path, name: &'static str) -> Result<Secret, ConfigError> {
    let invalid = |e: std::io::Error| ConfigError::Invalid {
        name,
        reason: format!("cannot keep a generated secret in {}: {e}", dir.display()),
    };
    let path = dir.join("secrets").join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Secret::parse(name, existing.trim().to_owned());
    }
    std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(invalid)?;
    let secret = Secret::generate();
    write_private(&path, &secret.0).map_err(invalid)?;
    Ok(secret)
}

/// Creates `path` (never overwrites it) readable by its owner only.
#[cfg(unix)]
pub fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(value.as_bytes())
}

#[cfg(not(unix))]
pub fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value)
}

/// The largest avatar the server receives itself (`SWITCHBOARD_AVATAR_MAX_SIZE`, antz's `AVATAR_MAX_SIZE`).
const AVATAR_MAX_SIZE: &str = "SWITCHBOARD_AVATAR_MAX_SIZE";
pub const DEFAULT_AVATAR_MAX_SIZE: usize = 5_242_880;
/// The embedded store's page cache: redb's own default is 1 GiB, which a long run grows into with the file.
const EMBEDDED_CACHE_BYTES: &str = "SWITCHBOARD_EMBEDDED_CACHE_BYTES";
pub const DEFAULT_EMBEDDED_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// A setting that is a positive number of bytes; `default` when unset.
fn positive_bytes(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    match env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ConfigError::Invalid {
                name,
                reason: "must be a positive number of bytes".into(),
            }),
    }
}

/// Webhook retries: the delays between a delivery's attempts.
/// The setting that replaces [`DEFAULT_SCHEDULE`], e.g. `1s,2s,4s` for tests.
pub const SCHEDULE_ENV: &str = "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE";

/// About 1 min, 5 min, 30 min, 2 h, 6 h, 24 h: six retries after the first attempt.
pub const DEFAULT_SCHEDULE: &str = "1m,5m,30m,2h,6h,24h";

/// A retry later than the event's own lifetime (7 days) could deliver nothing.
const MAX_STEP: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_STEPS: usize = 20;

/// Each delay is its step's base ± this fraction, so receivers that fail together do not retry together.
pub const JITTER: f64 = 0.1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    steps: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::parse(DEFAULT_SCHEDULE).expect("the default schedule parses")
    }
}

impl RetrySchedule {
    /// The schedule from the setting's value: unset or blank is the default.
    pub fn from_setting(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::default()),
            Some(text) => Self::parse(text),
        }
    }

    /// Comma-separated delays in jiff's friendly format (`90s`, `5m`, `2h`, `1h30m`, `500ms`), each
    /// positive and at most 7 days, at most 20 of them.
    pub fn parse(text: &str) -> Result<Self, String> {
        let steps = text
            .split(',')
            .map(|step| {
                let step = step.trim();
                let parsed: SignedDuration = step.parse().map_err(|_| {
                    format!("{SCHEDULE_ENV}: '{step}' is not a duration such as 30s, 5m or 2h")
                })?;
                Duration::try_from(parsed)
                    .ok()
                    .filter(|d| !d.is_zero() && *d <= MAX_STEP)
                    .ok_or_else(|| {
                        format!("{SCHEDULE_ENV}: '{step}' must be more than 0 and at most 7 days")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if steps.len() > MAX_STEPS {
            return Err(format!(
                "{SCHEDULE_ENV}: at most {MAX_STEPS} retries, not {}",
                steps.len()
            ));
        }
        Ok(Self { steps })
    }

    /// The base delays, in order.
    pub fn steps(&self) -> &[Duration] {
        &self.steps
    }

    /// Attempts in all: the first and one per step.
    pub fn attempts(&self) -> usize {
        self.steps.len() + 1
    }

    /// The wait before the next attempt after `failed` failed attempts (1 = the first failed), jittered by
    /// `unit` in [0, 1): `None` once the schedule is spent.
    pub fn delay(&self, failed: usize, unit: f64) -> Option<Duration> {
        let base = *self.steps.get(failed.checked_sub(1)?)?;
        let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
        Some(base.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn lambda_names_the_missing_setting() {
        let err = Config::for_lambda(env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing(TABLE));
        assert_eq!(
            err.to_string(),
            "missing required setting SWITCHBOARD_TABLE"
        );
    }

    #[test]
    fn a_secret_a_function_is_not_given_is_its_own() {
        let given = env(&[(TABLE, "t"), (TOKEN_SECRET, LONG)]);
        let (one, two) = (
            Config::for_lambda(&given).unwrap(),
            Config::for_lambda(&given).unwrap(),
        );
        assert_eq!(one.token_secret.expose(), LONG.as_bytes());
        assert_ne!(one.crm_secret, two.crm_secret);
    }

    #[test]
    fn lambda_refuses_short_secrets_and_hides_them() {
        let err = Config::for_lambda(env(&[
            (TABLE, "t"),
            (TOKEN_SECRET, "short"),
            (CRM_SECRET, LONG),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: TOKEN_SECRET,
                ..
            }
        ));
        let ok = Config::for_lambda(env(&[
            (TABLE, "t"),
            (TOKEN_SECRET, LONG),
            (CRM_SECRET, LONG),
        ]))
        .unwrap();
        assert_eq!(ok.storage, Storage::DynamoDb { table: "t".into() });
        assert!(!format!("{ok:?}").contains(LONG));
        assert_eq!(ok.require_bucket(), Err(ConfigError::Missing(BUCKET)));
    }

    #[test]
    fn the_secret_overlap_is_a_duration_up_to_a_week() {
        let overlap = |value: &str| webhook_secret_overlap(&env(&[(SECRET_OVERLAP_ENV, value)]));
        assert_eq!(
            webhook_secret_overlap(&env(&[])),
            Ok(Duration::from_secs(86_400))
        );
        assert_eq!(overlap("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(overlap("0s"), Ok(Duration::ZERO));
        for bad in ["soon", "-1h", "8d"] {
            assert_eq!(
                overlap(bad).unwrap_err().to_string(),
                format!(
                    "setting SWITCHBOARD_WEBHOOK_SECRET_OVERLAP is invalid: '{bad}' is not a duration from 0s to 7 days such as 24h"
                )
            );
        }
    }

    #[test]
    fn the_embedded_cache_is_bounded_and_configurable() {
        let dir = tempfile::tempdir().unwrap();
        let local = |pairs: &[(&str, &str)]| Config::for_local(env(pairs), Some(dir.path().into()));
        assert_eq!(local(&[]).unwrap().embedded_cache_bytes, 32 * 1024 * 1024);
        let set = local(&[(EMBEDDED_CACHE_BYTES, "1048576")]).unwrap();
        assert_eq!(set.embedded_cache_bytes, 1_048_576);
        for bad in ["0", "-1", "lots"] {
            assert!(local(&[(EMBEDDED_CACHE_BYTES, bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_generates_secrets_once_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = Config::for_local(env(&[]), Some(dir.path().into())).unwrap();
        let second = Config::for_local(env(&[]), Some(dir.path().into())).unwrap();
        assert_eq!(
            first.storage,
            Storage::Embedded {
                dir: dir.path().into()
            }
        );
        assert_eq!(first.token_secret, second.token_secret);
        assert_ne!(first.token_secret, first.crm_secret);
        let aws = Config::for_local(env(&[(TABLE, "t")]), Some(dir.path().into())).unwrap();
        assert_eq!(aws.storage, Storage::DynamoDb { table: "t".into() });
    }

    #[test]
    fn fifteen_minutes_growing_to_a_day_by_default() {
        let lockout = Lockout::from_env(&env(&[])).unwrap();
        assert_eq!(lockout.max_failures, 5);
        let lengths: Vec<i64> = (0..10).map(|n| lockout.duration(n)).collect();
        assert_eq!(&lengths[..4], &[900, 1800, 3600, 7200]);
        assert_eq!(lengths[9], 24 * 3600);
        assert_eq!(lockout.duration(u32::MAX), 24 * 3600);
    }

    #[test]
    fn configurable_and_checked() {
        let lockout = Lockout::from_env(&env(&[
            (MAX_FAILURES, "3"),
            (LOCKOUT_SECONDS, "60"),
            (LOCKOUT_MAX_SECONDS, "100"),
        ]))
        .unwrap();
        assert_eq!((lockout.max_failures, lockout.duration(0)), (3, 60));
        assert_eq!(lockout.duration(1), 100);
        for bad in ["0", "-5", "soon"] {
            assert!(
                Lockout::from_env(&env(&[(LOCKOUT_SECONDS, bad)])).is_err(),
                "{bad}"
            );
        }
    }
}
