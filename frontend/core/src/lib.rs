//! The Parley client's core, shared by the browser app and native tests.
//!
//! Sans-I/O, like matrix-sdk-crypto's `OlmMachine`: it takes frames and user
//! actions in and hands frames and records out; the caller does the network
//! (WebSocket) and the storage (IndexedDB). Nothing here knows about Leptos.
//!
//! - [`content`]: what travels inside a payload (the server never reads it).
//! - [`message`]: a message as stored and shown, with its tick.
//! - [`amend`]: edits, deletion for everyone, reactions and pins, and who may.
//! - [`organize`]: pinned, archived and unread chats, pinned messages.
//! - [`call`]: voice and video calls: signals and their state machine.
//! - [`engine`]: the whole messaging flow: inputs in, effects out.
//! - [`store`]: the storage the engine needs, in memory and as one suite.
//! - [`chat`]: fan-out to devices, outbox retries, incoming deliveries.
//! - [`group`]: groups: Megolm sessions, the verified member log, group ticks.
//! - [`window`]: the bounded run of a conversation that is on screen.
//! - [`emoji`]: the emoji picker's search and "recently used" row.
//! - [`names`]: initials for a person without a picture.
//! - [`route`]: the app's URLs.
//! - [`shortcuts`]: which key does what.
//! - [`summary`]: the chat list (newest message, unread count per peer).
//! - [`text`]: how a message's text is shown: formatting, links, "Read more".
//! - [`typing`]: when to send typing indicators and how long to show them.
#![warn(missing_docs)]

pub mod amend;
pub mod attachment;
pub mod auto_download;
pub mod call;
pub mod chat;
pub mod content;
pub mod crypto;
pub mod emoji;
pub mod engine;
pub mod group;
pub mod mention;
pub mod message;
pub mod names;
pub mod notify;
pub mod organize;
pub mod route;
pub mod shortcuts;
pub mod status;
pub mod store;
pub mod summary;
pub mod text;
pub mod typing;
pub mod verification;
pub mod window;
