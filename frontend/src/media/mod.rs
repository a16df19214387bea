//! Attachments in the browser: a chosen file is described (kind, size,
//! dimensions, a video's length, a small thumbnail), encrypted chunk by chunk with
//! WebCrypto under a fresh key and uploaded as it goes, so the whole file
//! is never in memory; a received one is fetched chunk by chunk, checked
//! against the hash its message carries, opened, and kept on this device.
//!
//! The format (chunk size, nonces, the hash) is the core's
//! (`parley_client::attachment`). These are the browser's parts: WebCrypto
//! ([`seal`]), the files kept on this device ([`files`]), pictures
//! ([`image`]), videos ([`video`]) and one tab per upload ([`locks`]); the
//! transfers themselves, with their progress, are the app state's
//! (`state::media`).

pub mod files;
pub mod image;
pub mod locks;
pub mod seal;
pub mod video;
