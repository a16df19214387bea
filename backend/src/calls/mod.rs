//! Calls. The server keeps no call state: offer, answer, ringing, accept,
//! decline, busy, cancel, hang-up and ICE candidates travel end-to-end
//! encrypted inside ephemeral signals ([`signal`]) that the clients
//! interpret. The server's share is relaying those signals to connected
//! devices and handing out STUN/TURN access ([`ice`], [`crate::turn`]).

pub mod ice;
pub mod signal;

use actix_web::web;

/// Mounts `/calls/ice`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/calls/ice", web::get().to(ice::ice_servers));
}
