//! Parley server: accounts and devices, contacts, and one WebSocket per device.
//!
//! Layout: [`app`] assembles routes; each domain module ([`accounts`],
//! [`devices`], [`contacts`], [`photos`], [`blobs`], [`blocks`], [`keys`],
//! [`delivery`], [`presence`], [`calls`]) owns its handlers (thin), its service (what a change does)
//! and its store (the SQL); services publish what changed on the [`events`]
//! bus, which the directory, the gateway and presence subscribe to in
//! [`state`]; background loops share one lifecycle in [`tasks`]; [`turn`]
//! runs the STUN/TURN relay for calls; [`cluster`] joins several nodes
//! through NATS; [`auth`] answers "who is asking"; [`error`] maps every
//! failure once.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod batch;
pub mod blobs;
pub mod blocks;
pub mod calls;
pub mod cluster;
pub mod config;
pub mod contacts;
pub mod database;
pub mod delivery;
pub mod devices;
pub mod directory;
pub mod error;
pub mod events;
pub mod gateway;
pub mod groups;
pub mod handover;
pub mod health;
pub mod keys;
pub mod last_seen;
pub mod logging;
pub mod open_files;
pub mod photos;
pub mod presence;
pub mod push;
pub mod routing;
pub mod server;
pub mod state;
pub mod tasks;
#[cfg(test)]
mod test_rows;
pub mod testing;
pub mod turn;
pub mod web;

/// The database schema's migrations (also used by tools' tests).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
