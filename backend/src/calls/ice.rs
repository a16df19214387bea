//! `GET /calls/ice`: the STUN/TURN servers and a short-lived TURN credential
//! for the signed-in account.

use crate::auth::Caller;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use parley_protocol::api::IceConfig;

/// Answers with [`IceConfig`]; an empty list when the relay is off.
pub async fn ice_servers(caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    let config = match &state.turn {
        Some(turn) => turn.ice_config(caller.user_id),
        None => IceConfig {
            ice_servers: Vec::new(),
            ttl_secs: 0,
        },
    };
    HttpResponse::Ok()
        // A credential: never kept by a cache or the browser.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(config)
}
