//! SNS platform endpoints for APNs and FCM devices: created (or found: SNS gives the same ARN for the same
//! token) at registration, updated when a token rotates, deleted with the device that owns it, and
//! published to by the dispatcher.

use aws_sdk_sns::Client;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use super::devices::Provider;
use super::sns::SnsPlatform;
use crate::error::Error;

pub const APNS_ARN: &str = "SWITCHBOARD_SNS_APNS_ARN";
pub const FCM_ARN: &str = "SWITCHBOARD_SNS_FCM_ARN";

/// Why a publish failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The provider says the device is gone (SNS `EndpointDisabled`, Web Push 404/410, Expo
    /// `DeviceNotRegistered`): deactivate it, never retry.
    Gone(String),
    /// Worth another attempt (throttling, a timeout, a 5xx).
    Retryable(String),
    /// Retrying will not help (a refused payload, a provider that is not configured).
    Permanent(String),
}

/// The platform applications (from `SWITCHBOARD_SNS_APNS_ARN` and `SWITCHBOARD_SNS_FCM_ARN`; unset = that
/// provider is off) and the SNS client: built at init in Lambda ([`Endpoints::built`]); on the local server
/// on first use, so a laptop without AWS settings never builds one.
pub struct Endpoints {
    apns: Option<String>,
    fcm: Option<String>,
    client: OnceCell<Client>,
    connect: Connect,
}

/// How the client is had on first use. A function pointer rather than a branch, so a Lambda binary, which
/// never takes the local server's path, does not link aws-config's default chain.
type Connect = Box<dyn Fn() -> BoxFuture<'static, Client> + Send + Sync>;

impl Endpoints {
    /// The local server's: the client is built on first use, with aws-config's default chain.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let (apns, fcm) = arns(env);
        Self {
            apns,
            fcm,
            client: OnceCell::new(),
            connect: Box::new(|| Box::pin(async { Client::new(&crate::app::aws_config().await) })),
        }
    }

    /// A Lambda function's: the client built now over `sdk`, at init rather than on the first request.
    pub fn built(env: impl Fn(&str) -> Option<String>, sdk: &aws_config::SdkConfig) -> Self {
        let (apns, fcm) = arns(env);
        Self::with_client(Client::new(sdk), apns, fcm)
    }

    /// With a client built elsewhere (tests point it at moto).
    pub fn with_client(client: Client, apns: Option<String>, fcm: Option<String>) -> Self {
        Self {
            apns,
            fcm,
            client: OnceCell::new(),
            connect: Box::new(move || {
                let client = client.clone();
                Box::pin(async move { client })
            }),
        }
    }

    async fn client(&self) -> &Client {
        self.client.get_or_init(|| (self.connect)()).await
    }

    /// The platform application of an SNS provider; `None` for the others.
    fn application(&self, provider: Provider) -> Result<Option<&str>, Error> {
        let configured = match provider {
            Provider::Apns => &self.apns,
            Provider::Fcm => &self.fcm,
            Provider::Expo | Provider::WebPush => return Ok(None),
        };
        configured.as_deref().map(Some).ok_or_else(|| {
            Error::validation(vec![format!(
                "request body/provider '{}' is not enabled on this server",
                provider.name()
            )])
        })
    }

    /// The enabled endpoint for `token`: the one SNS already has for it (same token, same ARN), or a new
    /// one. `None` for providers SNS does not serve.
    pub async fn ensure(&self, provider: Provider, token: &str) -> Result<Option<String>, Error> {
        let Some(application) = self.application(provider)? else {
            return Ok(None);
        };
        let created = self
            .client()
            .await
            .create_platform_endpoint()
            .platform_application_arn(application)
            .token(token)
            .send()
            .await
            .map_err(unavailable)?;
        let arn = created
            .endpoint_arn()
            .ok_or_else(|| Error::Internal("SNS returned no endpoint ARN".into()))?
            .to_owned();
        // An existing endpoint may have been disabled by a provider's feedback; registering again is the
        // app saying the token works.
        self.set_token(&arn, token).await?;
        Ok(Some(arn))
    }

    /// Points the endpoint at `token` and enables it (a rotated token keeps its endpoint).
    pub async fn set_token(&self, arn: &str, token: &str) -> Result<(), Error> {
        self.client()
            .await
            .set_endpoint_attributes()
            .endpoint_arn(arn)
            .attributes("Token", token)
            .attributes("Enabled", "true")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Deletes an endpoint no device uses any more; a failure is logged, not fatal (the endpoint is only
    /// an orphan, and SNS disables those on the provider's feedback).
    pub async fn delete(&self, arn: &str) {
        if let Err(e) = self
            .client()
            .await
            .delete_endpoint()
            .endpoint_arn(arn)
            .send()
            .await
        {
            tracing::warn!(cause = %DisplayErrorContext(e), "deleting an SNS endpoint failed");
        }
    }

    /// Publishes the per-platform JSON message to an endpoint.
    pub async fn publish(&self, arn: &str, message: String) -> Result<(), SendError> {
        let published = self
            .client()
            .await
            .publish()
            .target_arn(arn)
            .message_structure("json")
            .message(message)
            .send()
            .await;
        match published {
            Ok(_) => Ok(()),
            Err(e) => {
                let gone = e.as_service_error().is_some_and(|s| {
                    s.is_endpoint_disabled_exception() || s.is_not_found_exception()
                });
                let code = e.code().unwrap_or("error").to_owned();
                let retry = matches!(
                    e,
                    SdkError::TimeoutError(_)
                        | SdkError::DispatchFailure(_)
                        | SdkError::ResponseError(_)
                ) || e.as_service_error().is_some_and(|s| {
                    s.is_internal_error_exception() || s.is_kms_throttling_exception()
                }) || e.code().is_some_and(|c| c.starts_with("Throttl"));
                tracing::warn!(cause = %DisplayErrorContext(&e), "SNS publish failed");
                Err(if gone {
                    SendError::Gone(format!("SNS {code}"))
                } else if retry {
                    SendError::Retryable(format!("SNS {code}"))
                } else {
                    SendError::Permanent(format!("SNS {code}"))
                })
            }
        }
    }

    /// The kind of platform an endpoint is in (APNS, APNS_SANDBOX or GCM), from its ARN.
    pub fn platform(arn: &str) -> Option<SnsPlatform> {
        SnsPlatform::from_arn(arn)
    }
}

/// SNS could not be asked, or refused: a 503 for the caller (the cause is logged, never sent).
fn unavailable<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> Error {
    Error::Unavailable(format!("SNS: {}", DisplayErrorContext(e)))
}

/// The platform application ARNs, `(APNs, FCM)`; unset or blank = that provider is off.
fn arns(env: impl Fn(&str) -> Option<String>) -> (Option<String>, Option<String>) {
    let arn = |name| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    (arn(APNS_ARN), arn(FCM_ARN))
}
