//! What the app says about privacy, in one place.
//!
//! Messages are not end-to-end encrypted yet (that is the next issue), so
//! nothing may claim they are. When encryption lands, flip these strings
//! (and the descriptions in `index.html` and `manifest.webmanifest`).

/// Under the logo on the sign-in/sign-up card.
pub const AUTH_TAGLINE: &str = "Simple, self-hosted messaging.";

/// The footnote of the sign-in/sign-up card.
pub const AUTH_FOOTNOTE: &str = "Messages are kept on the server only until they are delivered.";

/// The note at the top of every conversation.
pub const CONVERSATION_NOTE: &str = "Messages are kept on the server only until they are delivered. End-to-end encryption is coming to Parley soon.";

/// The note on the welcome screen.
pub const WELCOME_NOTE: &str = "End-to-end encryption is coming to Parley soon.";
