//! The one error type of the HTTP API, mapped once to status, code and message.

use crate::auth::password::{HashError, PasswordError};
use crate::batch::BatchError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use parley_protocol::validate::FieldError;
use parley_protocol::{ErrorBody, ErrorCode};
use std::time::Duration;
use thiserror::Error;

/// Everything a handler can fail with. Internal details are logged, never sent.
#[derive(Debug, Error)]
pub enum ApiError {
    /// A user-entered field failed validation.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Malformed request (JSON, path, query).
    #[error("{0}")]
    BadRequest(String),
    /// Body over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Something announced larger than its limit, saying which.
    #[error("{0}")]
    TooLarge(String),
    /// Not in a state for this (an upload complete, or not yet).
    #[error("{0}")]
    Conflict(&'static str),
    /// Handle already registered.
    #[error("this handle is already taken")]
    HandleTaken,
    /// Wrong handle or password.
    #[error("wrong handle or password")]
    InvalidCredentials,
    /// Missing, unknown or revoked device token.
    #[error("sign in to continue")]
    Unauthorized,
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A malformed key.
    #[error("{0}")]
    InvalidKey(&'static str),
    /// A signature that does not verify.
    #[error("{0}")]
    InvalidSignature(&'static str),
    /// Nothing there (or not visible to the caller).
    #[error("{0}")]
    NotFound(&'static str),
    /// An uploaded image that is not what it claims, or out of bounds.
    #[error("{0}")]
    InvalidImage(&'static str),
    /// The account holds as many of something as it may.
    #[error("{0}")]
    LimitReached(&'static str),
    /// Too many attempts.
    #[error("too many attempts, try again in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The server is at capacity for this work (password hashing).
    #[error("the server is busy, try again in {} s", .0.as_secs().max(1))]
    Busy(Duration),
    /// A body did not arrive in time (a slow or stalled sender): sending it
    /// again may go through.
    #[error("the body did not arrive within {0} s: send it again")]
    TooSlow(u32),
    /// Database failure.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A batched database read failed (its error is shared by the batch).
    #[error("database error")]
    Lookup(#[from] BatchError),
    /// No random numbers from the operating system.
    #[error("internal error")]
    Random(#[from] getrandom::Error),
    /// The blob store failed.
    #[error("storage error")]
    Store(#[from] object_store::Error),
    /// A password could not be hashed.
    #[error("internal error")]
    PasswordHash(#[from] HashError),
    /// Any other server-side failure, by what went wrong.
    #[error("internal error")]
    Internal(&'static str),
}

impl ApiError {
    /// The protocol code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Field(e) => e.code,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::PayloadTooLarge | Self::TooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::HandleTaken => ErrorCode::HandleTaken,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::InvalidKey(_) => ErrorCode::InvalidKey,
            Self::InvalidSignature(_) => ErrorCode::InvalidSignature,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::InvalidImage(_) => ErrorCode::InvalidImage,
            Self::LimitReached(_) => ErrorCode::LimitReached,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::Busy(_) | Self::TooSlow(_) => ErrorCode::Busy,
            Self::Database(_)
            | Self::Lookup(_)
            | Self::Random(_)
            | Self::PasswordHash(_)
            | Self::Store(_)
            | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            // Round up: retrying after a truncated delay would be refused again.
            Self::RateLimited(wait) | Self::Busy(wait) => {
                Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
            Self::TooSlow(_) => Some(1),
            _ => None,
        }
    }
}

impl From<PasswordError> for ApiError {
    fn from(err: PasswordError) -> Self {
        match err {
            PasswordError::Busy(wait) => Self::Busy(wait),
            PasswordError::Gone => Self::Internal("password threads gone"),
            PasswordError::Hash(e) => Self::PasswordHash(e),
        }
    }
}

impl From<actix_web::error::JsonPayloadError> for ApiError {
    fn from(err: actix_web::error::JsonPayloadError) -> Self {
        use actix_web::error::JsonPayloadError as E;
        match err {
            E::Overflow { .. } | E::OverflowKnownLength { .. } => Self::PayloadTooLarge,
            E::ContentType => Self::BadRequest("expected Content-Type: application/json".into()),
            E::Deserialize(e) => Self::BadRequest(format!("invalid JSON: {e}")),
            other => Self::BadRequest(format!("unreadable body: {other}")),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        // The cause goes to the log only; the client gets the safe message.
        match self {
            Self::Internal(what) => tracing::error!(error = what, "request failed"),
            _ if self.code() == ErrorCode::Internal => {
                tracing::error!(error = %Causes(self), "request failed");
            }
            _ => {}
        }
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
            retry_after_secs: self.retry_after_secs(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = body.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(body)
    }
}

/// An error and its sources, each after a colon.
struct Causes<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_failed_lookup_keeps_its_cause_for_the_log_and_not_for_the_client() {
        let failed = BatchError::Failed(Arc::new(sqlx::Error::PoolTimedOut));
        let error = ApiError::from(failed);
        assert_eq!(error.code(), ErrorCode::Internal);
        assert_eq!(error.to_string(), "database error");
        let logged = Causes(&error).to_string();
        assert!(logged.starts_with("database error: "), "{logged}");
        assert!(
            logged.contains(&sqlx::Error::PoolTimedOut.to_string()),
            "{logged}"
        );
    }
}
