//! What the app says about privacy and encryption, in one place (also
//! mirrored in the descriptions of `index.html` and `manifest.webmanifest`).

/// Under the logo on the sign-in/sign-up card.
pub const AUTH_TAGLINE: &str = "Private, self-hosted messaging.";

/// The footnote of the sign-in/sign-up card.
pub const AUTH_FOOTNOTE: &str =
    "Messages are end-to-end encrypted in your browser. The server only passes them on.";

/// The note at the top of every conversation (opens the safety number).
pub const CONVERSATION_NOTE: &str = "Messages are end-to-end encrypted. No one outside of this chat, not even the Parley server, can read them. Click to verify.";

/// The note on the welcome screen.
pub const WELCOME_NOTE: &str = "Your messages are end-to-end encrypted.";

/// A message that arrived but could not be decrypted yet.
pub const WAITING: &str = "Waiting for this message. This may take a while.";

/// The notice in a chat when the peer's identity keys changed.
pub const SAFETY_CHANGED: &str = "The safety number with this person changed: they signed in on a new device or reinstalled their browser. Click to verify.";

/// The same notice in a group, about one member.
pub fn member_safety_changed(name: &str) -> String {
    format!(
        "{name}'s safety number changed: they signed in on a new device or reinstalled their browser. Click to verify."
    )
}

/// The same, in the chat list.
pub const SAFETY_CHANGED_SHORT: &str = "Safety number changed";

/// The explanation in the encryption panel.
pub const SAFETY_LEAD: &str = "Messages in this chat are end-to-end encrypted. To be sure no one sits between you, compare these numbers with the ones on the other person's screen, in person or on a call you trust.";

/// A message its sender deleted for everyone.
pub const DELETED: &str = "This message was deleted";

/// One's own message, deleted for everyone.
pub const YOU_DELETED: &str = "You deleted this message";
