//! Components, one module per screen or panel, plus small shared pieces.

pub mod auth;
pub mod avatar;
pub mod banner;
pub mod contacts;
pub mod conversation;
pub mod field;
pub mod format;
pub mod icons;
pub mod settings;
pub mod shell;
pub mod sidebar;
