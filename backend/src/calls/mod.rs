//! Calls. The server keeps no call state: offer, answer, ringing, accept,
//! decline, busy, cancel, hang-up and ICE candidates travel end-to-end
//! encrypted inside ephemeral signals ([`signal`]) that the clients
//! interpret. The server's share is relaying those signals to connected
//! devices and handing out STUN/TURN access ([`ice`], [`crate::turn`]).

pub mod ice;
pub mod signal;

use crate::routing::mount;
use actix_web::web;
use parley_protocol::endpoint::IceServers;

/// Mounts the STUN/TURN configuration.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<IceServers, _, _>(cfg, ice::ice_servers);
}
