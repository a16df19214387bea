//! Fuzz targets for every decoder of untrusted input, on stable Rust.
//!
//! A target ([`engine::Target`]) wraps one decoder: what it reads off a
//! socket, out of a payload, out of the browser's storage or out of a REST
//! body. It must never panic, and it checks the properties the decoder
//! promises (what decodes re-encodes to the same value; what the server
//! accepts, the client accepts too). The [`engine`] starts from real encodings
//! built in code, mutates them ([`mutate`]), keeps what decodes as a corpus to
//! mutate further, and reports a panic or a broken property with the input,
//! shrunk.
//!
//! `cargo xtask fuzz` runs each target for minutes (this crate's binary, in
//! the `fuzz` profile: optimised, with overflow checks and debug assertions);
//! `cargo test` runs a short, seeded version of each (`tests/targets.rs`).
#![warn(missing_docs)]

pub mod engine;
pub mod mutate;
pub mod targets;

pub use targets::TARGETS;
