//! Accounts: sign-up, sign-in, sign-out and the caller's profile.

mod device_name;
mod handlers;
pub mod store;

use actix_web::web;

/// Mounts `/accounts`, `/sessions` and `/me`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts", web::post().to(handlers::register))
        .route("/sessions", web::post().to(handlers::sign_in))
        .route("/sessions/current", web::delete().to(handlers::sign_out))
        .route("/me", web::get().to(handlers::me))
        .route("/me", web::patch().to(handlers::update_me));
}
