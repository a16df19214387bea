//! Components, one module per screen or panel, plus small shared pieces.

pub mod auth;
pub mod avatar;
pub mod banner;
pub mod bubble;
pub mod call;
pub mod claims;
pub mod composer;
pub mod contacts;
pub mod conversation;
pub mod field;
pub mod form;
pub mod format;
pub mod icon_button;
pub mod icons;
pub mod messages;
pub mod panel;
pub mod privacy;
pub mod safety;
pub mod settings;
pub mod shell;
pub mod sidebar;
pub mod ticks;
