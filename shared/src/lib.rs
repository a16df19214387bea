//! The Parley protocol: everything the server and its clients must agree on.
//!
//! - [`api`]: JSON bodies of the REST API (`/api/v1/...`).
//! - [`endpoint`]: every REST endpoint (method, path, access, types), declared once.
//! - [`frame`]: binary WebSocket frames (`/ws`) and their codec.
//! - [`group`]: groups' signed membership log and the rules it follows.
//! - [`error`]: stable error codes shared by both transports.
//! - [`id`]: typed identifiers (users, devices, messages, chats).
//! - [`codec`]: the version byte + postcard encoding every binary format uses.
//! - [`limits`] and [`validate`]: bounds on every input, checked by the client
//!   for inline feedback and by the server for enforcement.
#![warn(missing_docs)]

pub mod api;
pub mod codec;
pub mod endpoint;
pub mod error;
pub mod frame;
pub mod group;
pub mod id;
pub mod limits;
pub mod validate;

pub use error::{ErrorBody, ErrorCode};
pub use id::{BlobId, ConversationId, DeviceId, GroupId, MessageId, UserId};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;
