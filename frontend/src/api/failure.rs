//! Why a request failed, and how to say so to a person.

use parley_protocol::{ErrorBody, ErrorCode};

/// A failed API call. The split matters to the UI: a [`Network`] failure
/// means "offline, keep what you have", a [`Server`] failure is an answer.
///
/// [`Network`]: ApiFailure::Network
/// [`Server`]: ApiFailure::Server
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    /// The server could not be reached (no network, server down, timeout,
    /// or a gateway answering in its place).
    Network,
    /// The server answered with an error body.
    Server {
        /// HTTP status.
        status: u16,
        /// The protocol error, as sent (or reconstructed from the status when
        /// something other than our server answered).
        body: ErrorBody,
    },
    /// The server answered something this client cannot read.
    Invalid(String),
    /// No session: the call needs a signed-in device.
    SignedOut,
}

impl ApiFailure {
    /// Whether this failure means the token is no longer valid.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Server { status: 401, .. } | Self::SignedOut)
    }

    /// The protocol error code, when the server sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Server { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// A sentence for the person using the app.
    pub fn message(&self) -> String {
        let body = match self {
            Self::Network => {
                return "Can't reach Parley right now. Check your connection and try again."
                    .to_owned();
            }
            Self::Invalid(_) => {
                return "Parley sent an answer this page doesn't understand. Try reloading."
                    .to_owned();
            }
            Self::SignedOut => return "You're signed out. Sign in again to continue.".to_owned(),
            Self::Server { body, .. } => body,
        };
        match body.code {
            ErrorCode::HandleTaken => {
                "That handle is already taken. Pick another one, or sign in if it's yours."
                    .to_owned()
            }
            ErrorCode::InvalidCredentials => {
                "That handle and password don't match. Check both and try again.".to_owned()
            }
            ErrorCode::RateLimited => match body.retry_after_secs {
                Some(1) => "Too many attempts. Try again in 1 second.".to_owned(),
                Some(secs) => format!("Too many attempts. Try again in {secs} seconds."),
                None => "Too many attempts. Wait a moment and try again.".to_owned(),
            },
            ErrorCode::Busy => "Parley is busy right now. Try again in a moment.".to_owned(),
            ErrorCode::NotFound => "Not found.".to_owned(),
            ErrorCode::Unauthorized => "Your session has ended. Sign in again.".to_owned(),
            ErrorCode::Forbidden => "You're not allowed to do that.".to_owned(),
            ErrorCode::PayloadTooLarge => "That's too long.".to_owned(),
            ErrorCode::Internal => {
                "Something went wrong on Parley's side. Please try again in a moment.".to_owned()
            }
            // Validation failures carry a message written for people (the
            // same text the client shows for its own checks).
            ErrorCode::InvalidHandle
            | ErrorCode::InvalidDisplayName
            | ErrorCode::InvalidAbout
            | ErrorCode::InvalidPassword
            | ErrorCode::BadRequest
            | ErrorCode::InvalidKey
            | ErrorCode::InvalidSignature
            | ErrorCode::ProtocolError
            | ErrorCode::UnsupportedVersion => {
                if body.message.trim().is_empty() {
                    "Parley couldn't accept that. Check the fields and try again.".to_owned()
                } else {
                    body.message.clone()
                }
            }
            // Codes newer than this match (the protocol crate grows with each
            // issue): the server's own text. Unreachable while it is complete.
            #[allow(unreachable_patterns)]
            _ => {
                if body.message.trim().is_empty() {
                    "Parley couldn't do that. Please try again.".to_owned()
                } else {
                    body.message.clone()
                }
            }
        }
    }
}

/// A stand-in error body for a status that came without one (a proxy's HTML
/// page, an empty 500).
pub(super) fn body_for_status(status: u16, retry_after_secs: Option<u64>) -> ErrorBody {
    let code = match status {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        409 => ErrorCode::HandleTaken,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::RateLimited,
        400..=499 => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    };
    ErrorBody {
        code,
        message: String::new(),
        retry_after_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: ErrorCode, retry_after_secs: Option<u64>) -> ApiFailure {
        ApiFailure::Server {
            status: code.http_status(),
            body: ErrorBody {
                code,
                message: "raw server text".to_owned(),
                retry_after_secs,
            },
        }
    }

    #[test]
    fn rate_limits_say_how_long_to_wait() {
        let message = server(ErrorCode::RateLimited, Some(42)).message();
        assert!(message.contains("42 seconds"), "{message}");
    }

    #[test]
    fn validation_errors_pass_the_server_text_through() {
        assert_eq!(
            server(ErrorCode::InvalidHandle, None).message(),
            "raw server text"
        );
    }

    #[test]
    fn only_401_and_missing_sessions_sign_out() {
        assert!(server(ErrorCode::Unauthorized, None).is_unauthorized());
        assert!(ApiFailure::SignedOut.is_unauthorized());
        assert!(!server(ErrorCode::Forbidden, None).is_unauthorized());
        assert!(!ApiFailure::Network.is_unauthorized());
    }

    #[test]
    fn bodiless_statuses_map_to_codes() {
        assert_eq!(body_for_status(429, Some(3)).code, ErrorCode::RateLimited);
        assert_eq!(body_for_status(418, None).code, ErrorCode::BadRequest);
        assert_eq!(body_for_status(500, None).code, ErrorCode::Internal);
    }
}
