//! Who is asking: passwords (and which new ones are refused), device tokens,
//! the request extractor and rate limits.

pub mod caller;
pub mod client_ip;
pub mod network;
pub mod new_password;
pub mod password;
pub mod rate_limit;
pub mod token;

pub use caller::Caller;
