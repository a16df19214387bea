//! Serving the web client: security headers and cache-aware static files.

pub mod headers;
pub mod static_files;
