//! Who is asking: passwords, device tokens, the request extractor and rate limits.

pub mod caller;
pub mod password;
pub mod rate_limit;
pub mod token;

pub use caller::Caller;
