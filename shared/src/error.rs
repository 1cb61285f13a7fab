//! The one domain error. Each API family renders it in its own envelope (see `switchboard_api::http`).

use crate::store::StoreError;

/// The message of every schema violation's 400 ([`Error::validation`]).
pub const VALIDATION_ERROR: &str = "Validation Error";

/// Seconds a client is asked to wait after a 503 (`Retry-After`).
pub const RETRY_AFTER_SECONDS: u32 = 2;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// 400: the request is malformed; `details` lists every problem found, not just the first.
    #[error("{message}")]
    BadRequest {
        message: String,
        details: Vec<String>,
    },
    /// 401
    #[error("{0}")]
    Unauthorized(String),
    /// 403
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 401: a guard a write carried (the caller's token check, inside its transaction) did not hold; its
    /// index among the guards. The service that set the guards answers it in its own words.
    #[error("The credentials were refused")]
    Refused(usize),
    /// 413: the request is larger than the platform carries (API Gateway, Lambda).
    #[error("{0}")]
    TooLarge(String),
    /// 500. The text is the cause, for logs only: it never reaches a response.
    #[error("internal error: {0}")]
    Internal(String),
    /// 503 with `Retry-After`: a dependency is unreachable, throttled or too slow; the same request may
    /// succeed shortly. The text is the cause, for logs only.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The user service's 400 for a body or query that breaks its schema: every problem found, in ajv's words.
    pub fn validation(details: Vec<String>) -> Self {
        Self::invalid(VALIDATION_ERROR, details)
    }

    pub fn invalid(message: impl Into<String>, details: Vec<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthorized(_) | Self::Refused(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooLarge(_) => 413,
            Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }
}

/// Store failures that the domain did not handle itself. Condition failures a rule expects (a taken
/// username, a used token) are matched where they happen and given their own message.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed | StoreError::CheckFailed(_) | StoreError::Conflict => {
                Self::Conflict("The resource was changed by another request; try again".into())
            }
            StoreError::InvalidCursor => Self::bad_request("Invalid pagination cursor"),
            StoreError::TooLarge => {
                Self::bad_request("The request holds a value too large to store")
            }
            StoreError::EmptyKey => Self::bad_request("The request holds an empty identifier"),
            e @ StoreError::Unavailable(_) => Self::Unavailable(e.to_string()),
            e @ (StoreError::Invalid(_) | StoreError::Corrupt(_) | StoreError::Failed(_)) => {
                Self::Internal(e.to_string())
            }
        }
    }
}

/// Why a bearer token was refused.
#[derive(Debug)]
pub enum AuthFailure {
    /// Missing, malformed, forged, expired, revoked, or its identity is gone.
    Invalid,
    /// The `x-nb-fingerprint` header does not match the sign-in fingerprint.
    Fingerprint,
    Locked,
    /// The store could not be asked: not a verdict on the token (503, never 401).
    Store(StoreError),
}

/// A refused token is 401, so the client drops it; a store that could not be asked is not a refusal.
impl From<AuthFailure> for Error {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::Invalid => Self::Unauthorized("token could not be verified".into()),
            AuthFailure::Fingerprint => Self::Unauthorized("Token fails security check".into()),
            AuthFailure::Locked => Self::Unauthorized("This account is locked".into()),
            AuthFailure::Store(e) => e.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
