//! Stable, machine-readable error codes. The server maps every failure to one
//! of these (with an HTTP status or a WebSocket error frame); the client turns
//! them into messages. Codes are part of the protocol: never rename one.

use serde::{Deserialize, Serialize};

/// What went wrong, in a form both sides can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is not well-formed (bad JSON, wrong types, bad path).
    BadRequest,
    /// The body is larger than the limit for this endpoint.
    PayloadTooLarge,
    /// The handle is neither a valid E.164 number nor a valid username.
    InvalidHandle,
    /// The display name is empty, too long or has control characters.
    InvalidDisplayName,
    /// The "about" text is too long or has control characters.
    InvalidAbout,
    /// The password is too short or too long.
    InvalidPassword,
    /// Another account already uses this handle.
    HandleTaken,
    /// Handle and password do not match an account.
    InvalidCredentials,
    /// No valid device token was presented (missing, unknown or revoked).
    Unauthorized,
    /// The caller is authenticated but may not do this.
    Forbidden,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// Too many attempts; retry after the advertised delay.
    RateLimited,
    /// A key is not valid base64 of the right length.
    InvalidKey,
    /// A key's signature does not verify with the device's Ed25519 key.
    InvalidSignature,
    /// A WebSocket frame could not be decoded or is not allowed now.
    ProtocolError,
    /// The client speaks a protocol version the server does not.
    UnsupportedVersion,
    /// The server could not do its part (database down, bug). Safe to retry.
    Internal,
    /// A call signal names a device that is neither a current device of the
    /// peer nor another device of the sender: refresh the device lists.
    UnknownDevice,
    /// The server is at capacity for this kind of work (password checks);
    /// retry after the advertised delay.
    Busy,
    /// The recipient's device holds as many undelivered messages as it may
    /// (from everyone, or from a sender it does not know yet): the send was
    /// not stored. Retry once the recipient has been online.
    RecipientFull,
    /// An uploaded image is not what it claims to be (its bytes do not
    /// match its `Content-Type`), is of a type not accepted, or has
    /// dimensions out of bounds.
    InvalidImage,
    /// The account already holds as many of these as it may (people
    /// blocked); remove one first.
    LimitReached,
    /// The password is one people guess first: on the list of common and
    /// breached passwords, one character repeated, a run such as `12345678`,
    /// or the account's own handle. Answered for the password field.
    CommonPassword,
    /// The thing is not in a state for this: an upload already complete
    /// (its chunks can no longer change) or not complete yet (nothing of it
    /// can be read).
    Conflict,
    // New codes go last: frames carry the variant's index (postcard), so
    // the order is part of the protocol (see the test below).
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest
            | Self::InvalidHandle
            | Self::InvalidDisplayName
            | Self::InvalidAbout
            | Self::InvalidPassword
            | Self::CommonPassword
            | Self::InvalidKey
            | Self::InvalidSignature
            | Self::ProtocolError
            | Self::UnsupportedVersion
            | Self::UnknownDevice => 400,
            Self::InvalidCredentials | Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::HandleTaken => 409,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Busy => 503,
            Self::RecipientFull => 429,
            Self::InvalidImage => 400,
            Self::LimitReached => 409,
            Self::Conflict => 409,
        }
    }

    /// The code as it appears on the wire (`"handle_taken"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidHandle => "invalid_handle",
            Self::InvalidDisplayName => "invalid_display_name",
            Self::InvalidAbout => "invalid_about",
            Self::InvalidPassword => "invalid_password",
            Self::CommonPassword => "common_password",
            Self::HandleTaken => "handle_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::InvalidKey => "invalid_key",
            Self::InvalidSignature => "invalid_signature",
            Self::ProtocolError => "protocol_error",
            Self::UnsupportedVersion => "unsupported_version",
            Self::Internal => "internal",
            Self::UnknownDevice => "unknown_device",
            Self::Busy => "busy",
            Self::RecipientFull => "recipient_full",
            Self::InvalidImage => "invalid_image",
            Self::LimitReached => "limit_reached",
            Self::Conflict => "conflict",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every REST error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable, safe to show; never contains internals.
    pub message: String,
    /// Seconds to wait before retrying, for [`ErrorCode::RateLimited`] and
    /// [`ErrorCode::Busy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_index_on_the_wire() {
        // Frames carry a code as its index: one inserted in the middle
        // would make every later code mean another to older clients.
        let index = |code: ErrorCode| postcard::to_allocvec(&code).unwrap();
        assert_eq!(index(ErrorCode::BadRequest), [0]);
        assert_eq!(index(ErrorCode::HandleTaken), [6]);
        assert_eq!(index(ErrorCode::RecipientFull), [19]);
        assert_eq!(index(ErrorCode::InvalidImage), [20]);
        assert_eq!(index(ErrorCode::LimitReached), [21]);
        assert_eq!(index(ErrorCode::CommonPassword), [22]);
        assert_eq!(index(ErrorCode::Conflict), [23]);
    }

    #[test]
    fn wire_name_matches_serde_name() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::HandleTaken,
            ErrorCode::CommonPassword,
            ErrorCode::RateLimited,
            ErrorCode::UnsupportedVersion,
            ErrorCode::UnknownDevice,
            ErrorCode::Busy,
            ErrorCode::RecipientFull,
            ErrorCode::InvalidImage,
            ErrorCode::LimitReached,
            ErrorCode::Conflict,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
