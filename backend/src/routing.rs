//! How a domain module mounts its endpoints: each at the method and path
//! its declaration in `parley_protocol::endpoint` names, with JSON errors
//! mapped to [`ApiError`].

use crate::error::ApiError;
use actix_web::{FromRequest, Handler, Responder, web};
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
