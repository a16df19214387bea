//! The built client. Trunk names assets with a content hash, so those are
//! cached for a year; the entry points (`index.html`, `sw.js`, the manifest)
//! must be revalidated so that a new release is picked up.

use actix_files::{Files, NamedFile};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse, fn_service};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::middleware::Next;
use std::path::{Path, PathBuf};

/// `name-0123456789abcdef.ext`: Trunk's hashed asset names.
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    // wasm-bindgen appends `_bg` to the module after Trunk's hash.
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    // The hash is a u64 in hex, so leading zeros may be missing.
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn cache_policy(path: &str) -> &'static str {
    if is_hashed(path) {
        "public, max-age=31536000, immutable"
    } else if path.starts_with("/icons/") {
        "public, max-age=86400"
    } else {
        "no-cache"
    }
}

/// Sets `Cache-Control` on static responses.
pub async fn cache_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let policy = cache_policy(req.path());
    let mut res = next.call(req).await?;
    if res.status().is_success() {
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    Ok(res)
}

/// Files from `dir`, with `index.html` for any other path (the client routes itself).
pub fn service(dir: &Path) -> Files {
    let index: PathBuf = dir.join("index.html");
    Files::new("/", dir)
        .index_file("index.html")
        .prefer_utf8(true)
        .default_handler(fn_service(move |req: ServiceRequest| {
            let index = index.clone();
            async move {
                let (req, _) = req.into_parts();
                let file = NamedFile::open_async(&index).await?;
                let res = file.into_response(&req);
                Ok(ServiceResponse::new(req, res))
            }
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets_are_immutable_entry_points_are_not() {
        assert_eq!(
            cache_policy("/parley-web-4f2a9c1b0d3e5f67_bg.wasm"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_policy("/parley-web-4f2a9c1b0d3e5f67.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_policy("/main-0123456789abcdef.css"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_policy("/"), "no-cache");
        assert_eq!(cache_policy("/sw.js"), "no-cache");
        assert_eq!(cache_policy("/manifest.webmanifest"), "no-cache");
    }
}
