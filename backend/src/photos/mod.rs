//! Profile photos: set and remove the caller's own, fetch someone's when
//! their "who can see my profile photo" setting lets the caller see it.
//!
//! The browser crops and scales the photo, so what arrives is small: the
//! body is read up to [`MAX_PHOTO_BYTES`] and refused past it, never
//! buffered whole. Photos are user content served from our origin, so they
//! go out with a policy that lets them do nothing but be shown.

pub mod image;
pub mod service;
pub mod store;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::{bounded_body, mount};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use image::ImageType;
use parley_protocol::UserId;
use parley_protocol::api::Profile;
use parley_protocol::endpoint::{RemovePhoto, SetPhoto, UserPhoto};
use parley_protocol::limits::MAX_PHOTO_BYTES;

/// How long a browser may reuse a photo without asking. The client puts the
/// version in the URL, so a new photo is a new URL; a hidden one is still
/// refused at the next fetch.
const CACHE_CONTROL: &str = "private, max-age=86400";

/// Mounts the photo endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<SetPhoto, _, _>(cfg, set);
    mount::<RemovePhoto, _, _>(cfg, remove);
    mount::<UserPhoto, _, _>(cfg, photo);
}

/// `PUT /me/photo`: the body is the image, its type in `Content-Type`.
async fn set(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> ApiResult<web::Json<Profile>> {
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(ImageType::from_content_type)
        .ok_or(ApiError::InvalidImage(
            "a photo is sent as image/jpeg, image/png or image/webp",
        ))?;
    // Before the body is read: a refused change costs no upload.
    state.limits.photo_change(caller.user_id)?;
    let bytes = bounded_body(&req, body, MAX_PHOTO_BYTES).await?;
    let profile = service::set(&state, caller.user_id, kind, &bytes).await?;
    Ok(web::Json(profile))
}

/// `DELETE /me/photo`.
async fn remove(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Profile>> {
    state.limits.photo_change(caller.user_id)?;
    Ok(web::Json(service::remove(&state, caller.user_id).await?))
}

/// `GET /users/{user_id}/photo`: 404 alike when there is no photo and when
/// the caller may not see it; 304 when `If-None-Match` names this version.
async fn photo(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    let held = held_versions(&req);
    let photo = store::seen_by(&state.pool, caller.user_id, path.into_inner(), &held)
        .await?
        .ok_or(ApiError::NotFound("no photo"))?;
    let mut response = if photo.bytes.is_none() {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, format!("\"{}\"", photo.etag)))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::VARY, "Authorization"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .insert_header(("Cross-Origin-Resource-Policy", "same-origin"));
    match photo.bytes {
        None => Ok(response.finish()),
        Some(bytes) => Ok(response
            .insert_header((header::CONTENT_TYPE, photo.content_type))
            .body(bytes)),
    }
}

/// The versions the request's `If-None-Match` names (quoted `ETag`s, weak
/// or not), or `*`.
fn held_versions(req: &HttpRequest) -> store::Held {
    let mut held = store::Held::default();
    let tags = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    for tag in tags {
        if tag == "*" {
            held.any = true;
        } else if let Some(version) = tag
            .strip_prefix("W/")
            .unwrap_or(tag)
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
        {
            held.versions.push(version.to_owned());
        }
    }
    held
}
