//! The HTTP application: routes, body limits, error mapping and middleware.

use crate::error::ApiError;
use crate::routing::json_config;
use crate::state::AppState;
use crate::web::{headers, static_files};
use crate::{
    accounts, blobs, blocks, calls, contacts, devices, groups, health, keys, photos, push,
};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpResponse, web};
use parley_protocol::api::PREFIX;
use parley_protocol::endpoint;
use parley_protocol::limits::MAX_JSON_BODY;

fn api(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config(MAX_JSON_BODY))
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _| ApiError::BadRequest(format!("bad path: {err}")).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _| ApiError::BadRequest(format!("bad query: {err}")).into()),
        )
        .configure(accounts::routes)
        .configure(devices::routes)
        .configure(contacts::routes)
        .configure(photos::routes)
        .configure(blobs::routes)
        .configure(blocks::routes)
        .configure(groups::routes)
        .configure(keys::routes)
        .configure(calls::routes)
        .configure(push::routes)
        .default_service(web::to(|| async {
            HttpResponse::from_error(ApiError::NotFound("no such endpoint"))
        }));
}

/// The whole application over `state`.
pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let static_dir = state.config.static_dir.clone();
    let csp = headers::content_security_policy(&static_dir);
    App::new()
        .app_data(web::Data::new(state))
        .wrap(headers::security_headers(&csp))
        .wrap(tracing_actix_web_lite())
        .route(endpoint::HEALTHZ, web::get().to(health::healthz))
        // Upgrade requests never get here (see `gateway::upgrade`): this
        // answers a plain GET.
        .route(
            endpoint::WEBSOCKET,
            web::to(|| async {
                HttpResponse::from_error(ApiError::BadRequest(
                    "a WebSocket upgrade is required here".into(),
                ))
            }),
        )
        .service(web::scope(PREFIX).configure(api))
        .service(
            web::scope("")
                .wrap(Compress::default())
                .wrap(from_fn(static_files::cache_headers))
                .service(static_files::service(&static_dir)),
        )
}

/// Request logging at debug level (method, path, status, time); tokens are in
/// headers, never in paths, so nothing secret is logged.
fn tracing_actix_web_lite() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%r %s %Dms").log_target("parley_server::http")
}
