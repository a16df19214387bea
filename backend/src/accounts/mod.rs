//! Accounts: sign-up, sign-in, sign-out and the caller's profile.

mod device_name;
mod handlers;
pub mod service;
pub mod store;

use crate::routing::mount;
use actix_web::web;
use parley_protocol::endpoint::{Me, Register, SignIn, SignOut, UpdateMe};

/// Mounts sign-up, sign-in, sign-out and the caller's profile.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<Register, _, _>(cfg, handlers::register);
    mount::<SignIn, _, _>(cfg, handlers::sign_in);
    mount::<SignOut, _, _>(cfg, handlers::sign_out);
    mount::<Me, _, _>(cfg, handlers::me);
    mount::<UpdateMe, _, _>(cfg, handlers::update_me);
}
