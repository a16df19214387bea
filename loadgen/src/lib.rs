//! Parley's load generator: real WebSocket clients speaking the real protocol
//! (the `parley-protocol` crate), so what it measures is what users get.
//!
//! Payloads are random bytes of a chosen size: the server cannot tell
//! ciphertext from noise. Accounts and devices are seeded straight into
//! PostgreSQL ([`seed`]) so that set-up does not measure argon2.

pub mod conn;
pub mod push;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod sys;
