//! The one error type of the HTTP API, mapped once to status, code and message.

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
    /// Too many attempts.
    #[error("too many attempts, try again in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The server is at capacity for this work (password hashing).
    #[error("the server is busy, try again in {} s", .0.as_secs().max(1))]
    Busy(Duration),
    /// Database failure.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Any other server-side failure.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The protocol code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Field(e) => e.code,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::HandleTaken => ErrorCode::HandleTaken,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::InvalidKey(_) => ErrorCode::InvalidKey,
            Self::InvalidSignature(_) => ErrorCode::InvalidSignature,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::Busy(_) => ErrorCode::Busy,
            Self::Database(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            // Round up: retrying after a truncated delay would be refused again.
            Self::RateLimited(wait) | Self::Busy(wait) => {
                Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
            _ => None,
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
        if let Self::Database(e) = self {
            tracing::error!(error = %e, "database error");
        }
        if let Self::Internal(e) = self {
            tracing::error!(error = %e, "internal error");
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

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
