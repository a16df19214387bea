//! Security headers for every response, with a Content-Security-Policy that
//! allows only our own scripts: Trunk's one inline loader is allowed by hash.

use actix_web::middleware::DefaultHeaders;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::path::Path;

/// `'sha256-…'` sources for each inline `<script>` in the built `index.html`.
fn inline_script_hashes(index_html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = index_html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body_start = tag_end + 1;
        let Some(body_len) = rest[body_start..].find("</script>") else {
            break;
        };
        let body = &rest[body_start..body_start + body_len];
        if !tag.contains(" src=") && !body.is_empty() {
            hashes.push(format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(body.as_bytes()))
            ));
        }
        rest = &rest[body_start + body_len..];
    }
    hashes
}

/// The policy for the client in `static_dir`.
pub fn content_security_policy(static_dir: &Path) -> String {
    let index = std::fs::read_to_string(static_dir.join("index.html")).unwrap_or_default();
    let hashes = inline_script_hashes(&index).join(" ");
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {hashes}; style-src 'self'; \
         img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
         worker-src 'self'; manifest-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Middleware adding the headers to every response.
pub fn security_headers(csp: &str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", csp.to_owned()))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(self), microphone=(self), geolocation=()",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_inline_scripts_only() {
        let html = r#"<script src="/a.js"></script><script type="module">init()</script>"#;
        let hashes = inline_script_hashes(html);
        let expected = format!("'sha256-{}'", STANDARD.encode(Sha256::digest(b"init()")));
        assert_eq!(hashes, vec![expected]);
    }
}
