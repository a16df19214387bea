//! The built client. Trunk names assets with a content hash, and the emoji
//! font's path names its version, so those are cached for a year (and a
//! missing one is 404, never the app in its place); the entry points
//! (`index.html`, `sw.js`, the manifest) must be revalidated so that a new
//! release is picked up.
//!
//! `cargo xtask` writes a brotli (`name.br`) and a gzip (`name.gz`) copy next
//! to each text-like file; the copy the browser accepts is sent as it is,
//! with the file's own type, instead of compressing on every request.

use actix_files::{NamedFile, PathBufWrap};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    ACCEPT_RANGES, AcceptEncoding, CACHE_CONTROL, ContentEncoding, Encoding, HeaderValue, RANGE,
    VARY,
};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, Resource, web};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `name-0123456789abcdef.ext`: Trunk's hashed asset names. The extension
/// is required: an app route such as `/chat/<uuid>` ends in hex digits too.
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, extension)) = file.split_once('.') else {
        return false;
    };
    if extension.is_empty() {
        return false;
    }
    // wasm-bindgen appends `_bg` to the module after Trunk's hash.
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    // The hash is a u64 in hex, so leading zeros may be missing.
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// Paths whose content never changes: hashed assets, and the emoji font
/// (`cargo xtask` copies it to `/emoji/<version>/`).
fn is_immutable(path: &str) -> bool {
    is_hashed(path) || path.starts_with("/emoji/")
}

fn cache_policy(path: &str) -> &'static str {
    if is_immutable(path) {
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

/// Files from `dir` (a directory's `index.html` for the directory), with
/// `index.html` for any other path (the client routes itself) except
/// missing immutable files (404); GET and HEAD.
pub fn service(dir: &Path) -> Resource {
    let dir = Arc::new(dir.to_path_buf());
    let handler = move |req: HttpRequest| {
        let dir = Arc::clone(&dir);
        async move { serve(&dir, &req) }
    };
    web::resource("/{path:.*}")
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
}

fn serve(dir: &Path, req: &HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    // Refuses `..` above `dir` and hidden files (400), like actix-files.
    let relative = PathBufWrap::parse_req_path(req, false)?;
    let file = match resolve(dir, relative.as_ref()) {
        Some(file) => file,
        // The app under an asset's name would be cached as that asset, for
        // a year: a stale page asking for an old build's file gets nothing.
        None if is_immutable(req.path()) => return Ok(HttpResponse::NotFound().finish()),
        None => dir.join("index.html"),
    };
    Ok(send(&file, req)?)
}

/// The file `relative` names in `dir`: itself, or a directory's `index.html`.
fn resolve(dir: &Path, relative: &Path) -> Option<PathBuf> {
    let path = dir.join(relative);
    let path = if path.is_dir() {
        path.join("index.html")
    } else {
        path
    };
    path.is_file().then_some(path)
}

/// The precompressed copies the build writes, in the server's order of preference.
const CODINGS: [(ContentEncoding, &str); 2] = [
    (ContentEncoding::Brotli, "br"),
    (ContentEncoding::Gzip, "gz"),
];

/// `file`'s copies that exist and are not older than it (a copy older than
/// its file is left from another build: never sent).
fn copies_of(file: &Path) -> Vec<(ContentEncoding, PathBuf)> {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let Some(original) = modified(file) else {
        return Vec::new();
    };
    CODINGS
        .iter()
        .filter_map(|(coding, suffix)| {
            let mut copy = file.as_os_str().to_owned();
            copy.push(".");
            copy.push(suffix);
            let copy = PathBuf::from(copy);
            modified(&copy)
                .is_some_and(|m| m >= original)
                .then_some((*coding, copy))
        })
        .collect()
}

/// The coding to send among `available`, by the request's `Accept-Encoding`
/// (q-values, `q=0` refusals); `None` for the file as it is.
fn negotiate(req: &HttpRequest, available: &[ContentEncoding]) -> Option<ContentEncoding> {
    let accepted = req.get_header::<AcceptEncoding>()?;
    let supported: Vec<Encoding> = available
        .iter()
        .map(|coding| Encoding::Known(*coding))
        .chain([Encoding::identity()])
        .collect();
    match accepted.negotiate(supported.iter())? {
        Encoding::Known(coding) if available.contains(&coding) => Some(coding),
        _ => None,
    }
}

/// `file`, or its precompressed copy in the coding the browser prefers.
fn send(file: &Path, req: &HttpRequest) -> std::io::Result<HttpResponse> {
    let copies = copies_of(file);
    // Ranges are served from the file itself: actix-files would label a slice
    // of a compressed copy as `identity`.
    let coding = if req.headers().contains_key(RANGE) {
        None
    } else {
        let available: Vec<ContentEncoding> = copies.iter().map(|(c, _)| *c).collect();
        negotiate(req, &available)
    };
    let copy = copies
        .iter()
        .find(|(c, _)| Some(*c) == coding)
        // Type and `Content-Disposition` from the file's name; length,
        // `ETag` and `Last-Modified` from the copy, so each coding has its own.
        .and_then(|(c, path)| {
            let named = NamedFile::from_file(File::open(path).ok()?, file).ok()?;
            Some(named.set_content_encoding(*c))
        });
    let sent_copy = copy.is_some();
    let named = match copy {
        Some(named) => named,
        None => NamedFile::open(file)?,
    };
    let mut res = named.prefer_utf8(true).into_response(req);
    let headers = res.headers_mut();
    if !copies.is_empty() {
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if sent_copy {
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("none"));
    }
    Ok(res)
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
        // App routes end in hex too, but have no extension.
        assert_eq!(
            cache_policy("/chat/0195f0a0-1234-7abc-8def-0123456789ab"),
            "no-cache"
        );
        assert_eq!(cache_policy("/settings"), "no-cache");
    }

    #[test]
    fn the_emoji_font_is_immutable_its_version_is_in_its_path() {
        assert_eq!(
            cache_policy("/emoji/15.1.0/twemoji.woff2"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_policy("/emoji"), "no-cache");
    }

    /// Served as app.rs serves it: `Compress` outside, cache rules inside.
    mod served {
        #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

        use super::super::*;
        use actix_web::http::header::{CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
        use actix_web::middleware::{Compress, from_fn};
        use actix_web::test::{TestRequest, call_service, init_service, read_body};
        use actix_web::{App, http::StatusCode};
        use std::io::{Read as _, Write as _};
        use std::time::{Duration, SystemTime};

        const WASM: &str = "parley-web-0123456789abcdef_bg.wasm";
        /// The client's own, which Trunk copies into dist/.
        const ROBOTS: &[u8] = include_bytes!("../../../frontend/robots.txt");

        /// A dist/ like Trunk's, with copies like `cargo xtask` writes, removed on drop.
        struct Dist {
            dir: PathBuf,
            wasm: Vec<u8>,
            index: Vec<u8>,
        }

        impl Dist {
            fn new(name: &str) -> Self {
                let dir = std::env::temp_dir()
                    .join(format!("parley-static-{name}-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(dir.join("icons")).unwrap();
                let mut wasm = b"\0asm\x01\0\0\0".to_vec();
                for i in 0..4000u32 {
                    wasm.extend_from_slice(&(i % 97).to_le_bytes());
                }
                let index = "<!doctype html><title>Parley</title><p>Opening Parley…</p>\n"
                    .repeat(20)
                    .into_bytes();
                let dist = Self { dir, wasm, index };
                dist.write("index.html", &dist.index, true);
                dist.write(WASM, &dist.wasm, true);
                dist.write("robots.txt", ROBOTS, false);
                dist.write("icons/icon-192.png", b"\x89PNG\r\n\x1a\n", false);
                dist
            }

            fn write(&self, name: &str, data: &[u8], with_copies: bool) {
                let path = self.dir.join(name);
                std::fs::write(&path, data).unwrap();
                if !with_copies {
                    return;
                }
                let mut br = Vec::new();
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 11,
                    lgwin: 24,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &data[..], &mut br, &params).unwrap();
                std::fs::write(self.dir.join(format!("{name}.br")), br).unwrap();
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gz.write_all(data).unwrap();
                std::fs::write(self.dir.join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
            }
        }

        impl Drop for Dist {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }

        struct Answer {
            status: StatusCode,
            headers: actix_web::http::header::HeaderMap,
            body: Vec<u8>,
        }

        impl Answer {
            fn header(&self, name: actix_web::http::header::HeaderName) -> &str {
                self.headers
                    .get(name)
                    .map(|v| v.to_str().unwrap())
                    .unwrap_or_default()
            }

            /// The body with its `Content-Encoding` undone.
            fn decoded(&self) -> Vec<u8> {
                let mut out = Vec::new();
                match self.header(CONTENT_ENCODING) {
                    "br" => {
                        brotli::Decompressor::new(&self.body[..], 4096)
                            .read_to_end(&mut out)
                            .unwrap();
                    }
                    "gzip" => {
                        flate2::read::GzDecoder::new(&self.body[..])
                            .read_to_end(&mut out)
                            .unwrap();
                    }
                    "" | "identity" => out.clone_from(&self.body),
                    other => panic!("unexpected coding {other}"),
                }
                out
            }
        }

        async fn get(dist: &Dist, req: TestRequest) -> Answer {
            let app = init_service(
                App::new().service(
                    web::scope("")
                        .wrap(Compress::default())
                        .wrap(from_fn(cache_headers))
                        .service(service(&dist.dir)),
                ),
            )
            .await;
            let res = call_service(&app, req.to_request()).await;
            let status = res.status();
            let headers = res.headers().clone();
            let body = read_body(res).await.to_vec();
            Answer {
                status,
                headers,
                body,
            }
        }

        fn asking(path: &str, accept_encoding: Option<&str>) -> TestRequest {
            let req = TestRequest::get().uri(path);
            match accept_encoding {
                Some(accepted) => req.insert_header(("Accept-Encoding", accepted)),
                None => req,
            }
        }

        const BROWSER: &str = "gzip, deflate, br, zstd";

        #[actix_web::test]
        async fn brotli_when_accepted_with_the_wasm_type_and_the_cache_rule() {
            let dist = Dist::new("brotli");
            let res = get(&dist, asking(&format!("/{WASM}"), Some(BROWSER))).await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(res.header(CONTENT_ENCODING), "br");
            assert_eq!(res.header(CONTENT_TYPE), "application/wasm");
            assert_eq!(res.header(VARY), "accept-encoding");
            assert_eq!(
                res.header(CACHE_CONTROL),
                "public, max-age=31536000, immutable"
            );
            assert_eq!(res.header(ACCEPT_RANGES), "none");
            assert!(res.body.len() < dist.wasm.len() / 4, "sent compressed once");
            assert_eq!(res.decoded(), dist.wasm);
        }

        #[actix_web::test]
        async fn gzip_when_only_gzip_is_accepted_or_brotli_is_refused() {
            let dist = Dist::new("gzip");
            for accepted in [
                "gzip",
                "gzip, deflate",
                "br;q=0, gzip",
                "gzip;q=0.8, br;q=0.5",
            ] {
                let res = get(&dist, asking(&format!("/{WASM}"), Some(accepted))).await;
                assert_eq!(res.header(CONTENT_ENCODING), "gzip", "{accepted}");
                assert_eq!(res.header(CONTENT_TYPE), "application/wasm");
                assert_eq!(res.header(VARY), "accept-encoding");
                assert_eq!(res.decoded(), dist.wasm, "{accepted}");
            }
        }

        #[actix_web::test]
        async fn the_file_itself_when_neither_is_accepted() {
            let dist = Dist::new("identity");
            for accepted in [
                None,
                Some("identity"),
                Some("br;q=0"),
                Some("br;q=0, gzip;q=0"),
            ] {
                let res = get(&dist, asking(&format!("/{WASM}"), accepted)).await;
                assert_eq!(res.status, StatusCode::OK);
                assert_eq!(res.header(CONTENT_ENCODING), "", "{accepted:?}");
                assert_eq!(res.header(CONTENT_TYPE), "application/wasm");
                assert_eq!(res.header(VARY), "accept-encoding", "it still varies");
                assert_eq!(res.body, dist.wasm, "{accepted:?}");
            }
        }

        #[actix_web::test]
        async fn client_routes_get_index_html_precompressed() {
            let dist = Dist::new("fallback");
            for path in [
                "/",
                "/index.html",
                "/settings",
                "/chat/0195f0a0-1234-7abc-8def-0123456789ab",
            ] {
                let res = get(&dist, asking(path, Some(BROWSER))).await;
                assert_eq!(res.status, StatusCode::OK, "{path}");
                assert_eq!(res.header(CONTENT_ENCODING), "br", "{path}");
                assert_eq!(res.header(CONTENT_TYPE), "text/html; charset=utf-8");
                assert_eq!(res.decoded(), dist.index, "{path}");
            }
            // The cache rule goes by the path asked for, as before.
            let res = get(
                &dist,
                asking("/chat/0195f0a0-1234-7abc-8def-0123456789ab", Some(BROWSER)),
            )
            .await;
            assert_eq!(res.header(CACHE_CONTROL), "no-cache");
        }

        #[actix_web::test]
        async fn missing_immutable_files_are_not_found_not_the_app() {
            let dist = Dist::new("missing");
            for path in [
                "/missing-0123456789abcdef.js",
                "/parley-web-fedcba9876543210_bg.wasm",
                "/emoji/15.1.0/twemoji.woff2",
            ] {
                let res = get(&dist, asking(path, Some(BROWSER))).await;
                assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
                assert_eq!(res.header(CACHE_CONTROL), "", "{path}");
            }
            // The font, once there, is kept for a year.
            std::fs::create_dir_all(dist.dir.join("emoji/15.1.0")).unwrap();
            dist.write("emoji/15.1.0/twemoji.woff2", b"wOF2", false);
            let res = get(&dist, asking("/emoji/15.1.0/twemoji.woff2", None)).await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(
                res.header(CACHE_CONTROL),
                "public, max-age=31536000, immutable"
            );
            assert_eq!(res.body, b"wOF2");
        }

        #[actix_web::test]
        async fn robots_txt_is_plain_text_not_the_app() {
            let dist = Dist::new("robots");
            let res = get(&dist, asking("/robots.txt", None)).await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(res.header(CONTENT_TYPE), "text/plain; charset=utf-8");
            assert_eq!(res.header(VARY), "", "no copies, nothing to negotiate");
            assert_eq!(res.body, ROBOTS);
            // Crawlers may index the landing page and nothing else.
            let rules = String::from_utf8_lossy(ROBOTS);
            let rules: Vec<&str> = rules.lines().collect();
            assert_eq!(rules, ["User-agent: *", "Allow: /$", "Disallow: /"]);
        }

        #[actix_web::test]
        async fn images_are_sent_as_they_are() {
            let dist = Dist::new("images");
            let res = get(&dist, asking("/icons/icon-192.png", Some(BROWSER))).await;
            assert_eq!(res.header(CONTENT_TYPE), "image/png");
            assert_eq!(res.header(CONTENT_ENCODING), "");
            assert_eq!(res.header(CACHE_CONTROL), "public, max-age=86400");
            assert_eq!(res.body, b"\x89PNG\r\n\x1a\n");
        }

        #[actix_web::test]
        async fn files_without_copies_are_still_compressed_on_the_fly() {
            let dist = Dist::new("on-the-fly");
            let worker = "self.addEventListener('fetch', () => {});\n".repeat(50);
            dist.write("sw.js", worker.as_bytes(), false);
            let res = get(&dist, asking("/sw.js", Some(BROWSER))).await;
            assert_eq!(res.header(CONTENT_ENCODING), "gzip");
            assert_eq!(res.decoded(), worker.as_bytes());
        }

        #[actix_web::test]
        async fn each_coding_has_its_own_etag_and_revalidates() {
            let dist = Dist::new("etag");
            let path = format!("/{WASM}");
            let br = get(&dist, asking(&path, Some("br"))).await;
            let gzip = get(&dist, asking(&path, Some("gzip"))).await;
            let plain = get(&dist, asking(&path, None)).await;
            let tags = [br.header(ETAG), gzip.header(ETAG), plain.header(ETAG)];
            assert!(tags.iter().all(|t| !t.is_empty()));
            assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
            let again = asking(&path, Some("br")).insert_header((IF_NONE_MATCH, tags[0]));
            assert_eq!(get(&dist, again).await.status, StatusCode::NOT_MODIFIED);
            let other = asking(&path, Some("gzip")).insert_header((IF_NONE_MATCH, tags[0]));
            assert_eq!(get(&dist, other).await.status, StatusCode::OK);
        }

        #[actix_web::test]
        async fn ranges_are_cut_from_the_file_itself() {
            let dist = Dist::new("range");
            let req =
                asking(&format!("/{WASM}"), Some(BROWSER)).insert_header((RANGE, "bytes=0-9"));
            let res = get(&dist, req).await;
            assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
            assert_ne!(res.header(CONTENT_ENCODING), "br");
            assert_eq!(res.body, dist.wasm[..10]);
        }

        #[actix_web::test]
        async fn a_copy_older_than_its_file_is_never_sent() {
            let dist = Dist::new("stale");
            let copy = std::fs::File::options()
                .write(true)
                .open(dist.dir.join("index.html.br"))
                .unwrap();
            copy.set_modified(SystemTime::now() - Duration::from_secs(3600))
                .unwrap();
            let res = get(&dist, asking("/", Some("br"))).await;
            assert_eq!(res.header(CONTENT_ENCODING), "");
            assert_eq!(res.body, dist.index);
        }

        #[actix_web::test]
        async fn head_answers_like_get_and_other_methods_are_refused() {
            let dist = Dist::new("head");
            let req = TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(&format!("/{WASM}"))
                .insert_header(("Accept-Encoding", BROWSER));
            let res = get(&dist, req).await;
            assert_eq!(res.status, StatusCode::OK);
            assert_eq!(res.header(CONTENT_ENCODING), "br");
            // (The HTTP/1 dispatcher drops a HEAD answer's body; not this test service.)
            let post = TestRequest::post().uri("/");
            assert_eq!(
                get(&dist, post).await.status,
                StatusCode::METHOD_NOT_ALLOWED
            );
        }

        #[actix_web::test]
        async fn hidden_files_are_refused_as_before() {
            let dist = Dist::new("hidden");
            std::fs::write(dist.dir.join(".env"), "SECRET=1").unwrap();
            let res = get(&dist, asking("/.env", None)).await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST);
        }
    }
}
