//! The Parley protocol: everything the server and its clients must agree on.
//!
//! - [`api`]: JSON bodies of the REST API (`/api/v1/...`).
//! - [`endpoint`]: every REST endpoint (method, path, access, types), declared once.
//! - [`frame`]: binary WebSocket frames (`/ws`) and their codec.
//! - [`error`]: stable error codes shared by both transports.
//! - [`limits`] and [`validate`]: bounds on every input, checked by the client
//!   for inline feedback and by the server for enforcement.
#![warn(missing_docs)]

pub mod api;
pub mod endpoint;
pub mod error;
pub mod frame;
pub mod limits;
pub mod validate;

pub use error::{ErrorBody, ErrorCode};

/// Identifier of a user account.
pub type UserId = uuid::Uuid;
/// Identifier of a device (one signed-in browser).
pub type DeviceId = uuid::Uuid;
/// Identifier of a message, chosen by the sending client.
pub type MessageId = uuid::Uuid;
/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;
