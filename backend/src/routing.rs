//! How a domain module mounts its endpoints: each at the method and path
//! its declaration in `parley_protocol::endpoint` names, with JSON errors
//! mapped to [`ApiError`]; bodies that are not JSON read within a bound.

use crate::error::ApiError;
use actix_web::http::header;
use actix_web::{FromRequest, Handler, HttpRequest, Responder, web};
use futures_util::StreamExt;
use parley_protocol::endpoint::{Endpoint, Method};

/// JSON bodies up to `limit` bytes, with errors mapped to [`ApiError`].
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _| ApiError::from(err).into())
}

/// The route an endpoint declares: its method (mounted at `E::PATH`).
pub fn route<E: Endpoint>() -> actix_web::Route {
    match E::METHOD {
        Method::Get => web::get(),
        Method::Post => web::post(),
        Method::Put => web::put(),
        Method::Patch => web::patch(),
        Method::Delete => web::delete(),
    }
}

/// Mounts `handler` at the method and path `E` declares.
pub fn mount<E, F, Args>(cfg: &mut web::ServiceConfig, handler: F)
where
    E: Endpoint,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    cfg.route(E::PATH, route::<E>().to(handler));
}

/// A body that is not JSON (an image), read up to `limit` bytes: a larger
/// announced `Content-Length` is refused before anything is read, and a
/// body that grows past the limit is refused as soon as it does, so no more
/// than `limit` bytes are ever held.
pub async fn bounded_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    // Room for what was announced (within the limit) at once: no growing
    // by reallocation while a large body arrives.
    let mut body = web::BytesMut::with_capacity(
        announced.map_or(0, |len| usize::try_from(len).unwrap_or(limit).min(limit)),
    );
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("unreadable body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
