//! Inline SVG icons (24×24 grid, `currentColor`), so they follow the theme
//! and need no extra requests.

use leptos::prelude::*;

/// The Parley mark: a speech bubble with a "P", as in the app icon.
#[component]
pub fn Logo(#[prop(default = "logo")] class: &'static str) -> impl IntoView {
    view! {
        <svg class=class viewBox="0 0 64 64" aria-hidden="true">
            <rect class="logo-bg" width="64" height="64" rx="16" />
            <ellipse class="logo-bubble" cx="32" cy="31" rx="21" ry="19" />
            <path class="logo-bubble" d="M13 52 17.5 41.5 25 48Z" />
            <path
                class="logo-letter"
                fill-rule="evenodd"
                d="M24.5 20H33A7.4 7.4 0 0 1 33 34.8H29.3V42H24.5ZM29.3 24H33A3.4 3.4 0 0 1 33 30.8H29.3Z"
            />
        </svg>
    }
}

/// Person with a plus: contacts.
#[component]
pub fn IconContacts() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M10 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-3.3 0-7 1.6-7 4v2h14v-2c0-2.4-3.7-4-7-4zm9-6V6h-2v2h-2v2h2v2h2v-2h2V8z" />
        </svg>
    }
}

/// Two people and a plus: a new group.
#[component]
pub fn IconGroup() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm7 0a3 3 0 1 0-1.2-5.8A5.4 5.4 0 0 1 14.8 10 3 3 0 0 0 16 11zM9 13c-3 0-7 1.5-7 4v2h11.5a6 6 0 0 1-.5-2.4 6 6 0 0 1 1.3-3.7A13 13 0 0 0 9 13zm10 0h-2v2.5h-2.5v2H17V20h2v-2.5h2.5v-2H19z" />
        </svg>
    }
}

/// Gear: settings.
#[component]
pub fn IconSettings() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M19.4 13a7.6 7.6 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.4 7.4 0 0 0-1.7-1L15 3h-4l-.4 2.9a7.4 7.4 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.6 7.6 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7.4 7.4 0 0 0 1.7 1L11 21h4l.4-2.9a7.4 7.4 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z" />
        </svg>
    }
}

/// Arrow pointing left: back.
#[component]
pub fn IconBack() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z" />
        </svg>
    }
}

/// Cross: close or remove.
#[component]
pub fn IconClose() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4l5.6 5.6L5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6z" />
        </svg>
    }
}

/// Paper plane: send.
#[component]
pub fn IconSend() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z" />
        </svg>
    }
}

/// Laptop: a signed-in device.
#[component]
pub fn IconDevice() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 5h16a1 1 0 0 1 1 1v10H3V6a1 1 0 0 1 1-1zm1 2v7h14V7zM1 17h22v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2z" />
        </svg>
    }
}

/// Speech bubbles: chats.
#[component]
pub fn IconChats() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 3h12a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H8l-4 4V5a2 2 0 0 1 2-2zm16 5h1a1 1 0 0 1 1 1v12l-3.5-3.5H9a1 1 0 0 1-1-1V16h10a2 2 0 0 0 2-2z" />
        </svg>
    }
}

/// Cloud with a slash: offline.
#[component]
pub fn IconOffline() -> impl IntoView {
    view! {
        <svg class="icon icon-inline" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M3.3 2 2 3.3l3.1 3.1A6.9 6.9 0 0 0 5 20h11.7l2 2 1.3-1.3zM19.4 10A7 7 0 0 0 8.6 5.4l11.8 11.8A4.5 4.5 0 0 0 19.4 10z" />
        </svg>
    }
}

/// Clock: waiting in the outbox.
#[component]
pub fn IconClock() -> impl IntoView {
    view! {
        <svg class="tick-icon" viewBox="0 0 16 16" aria-hidden="true">
            <path d="M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm0 1.4a5.1 5.1 0 1 1 0 10.2A5.1 5.1 0 0 1 8 2.9zM7.3 4.5v4l3.2 1.9.7-1.1-2.5-1.5V4.5z" />
        </svg>
    }
}

/// One check: accepted by the server.
#[component]
pub fn IconCheck() -> impl IntoView {
    view! {
        <svg class="tick-icon" viewBox="0 0 16 16" aria-hidden="true">
            <path d="m5.6 10.6-3-3-1.1 1.1 4.1 4.1 8.3-8.3-1.1-1.1z" />
        </svg>
    }
}

/// Two checks: delivered, or (blue) read.
#[component]
pub fn IconDoubleCheck() -> impl IntoView {
    view! {
        <svg class="tick-icon tick-double" viewBox="0 0 20 16" aria-hidden="true">
            <path d="m5.1 10.6-3-3L1 8.7l4.1 4.1 8.3-8.3-1.1-1.1zm5.4 1.1-.9-.9-1.1 1.1 2 2 8.3-8.3-1.1-1.1z" />
        </svg>
    }
}

/// Exclamation in a circle: refused for good.
#[component]
pub fn IconAlert() -> impl IntoView {
    view! {
        <svg class="tick-icon" viewBox="0 0 16 16" aria-hidden="true">
            <path d="M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM7.2 4h1.6v5H7.2zm0 6.3h1.6v1.6H7.2z" />
        </svg>
    }
}

/// Padlock: end-to-end encryption.
#[component]
pub fn IconLock() -> impl IntoView {
    view! {
        <svg class="icon icon-inline" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M17 9h-1V7a4 4 0 0 0-8 0v2H7a2 2 0 0 0-2 2v9a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-9a2 2 0 0 0-2-2zm-7-2a2 2 0 1 1 4 0v2h-4zm2 11a2 2 0 1 1 0-4 2 2 0 0 1 0 4z" />
        </svg>
    }
}

/// Shield with a tick: a verified contact.
#[component]
pub fn IconVerified() -> impl IntoView {
    view! {
        <svg class="icon icon-inline" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5zm-1.5 14.5-4-4 1.4-1.4 2.6 2.6 5.6-5.6 1.4 1.4z" />
        </svg>
    }
}

/// Handset: voice call.
#[component]
pub fn IconPhone() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z" />
        </svg>
    }
}

/// Handset turned down: hang up, decline.
#[component]
pub fn IconHangUp() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 9c-1.6 0-3.15.25-4.6.72v3.1a1 1 0 0 1-.56.9 11.5 11.5 0 0 0-2.66 1.85 1 1 0 0 1-1.4 0L.3 13.08a1 1 0 0 1 0-1.41A16.9 16.9 0 0 1 12 7c4.5 0 8.6 1.75 11.7 4.67a1 1 0 0 1 0 1.41l-2.48 2.49a1 1 0 0 1-1.4 0 11.3 11.3 0 0 0-2.67-1.85 1 1 0 0 1-.56-.9v-3.1A15 15 0 0 0 12 9z" />
        </svg>
    }
}

/// Camera: video call, camera on.
#[component]
pub fn IconVideo() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11z" />
        </svg>
    }
}

/// Camera struck through: camera off.
#[component]
pub fn IconVideoOff() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M21 6.5l-4 4V7a1 1 0 0 0-1-1H9.8L21 17.2zM3.3 2 2 3.3 4.7 6H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12c.2 0 .4-.1.5-.2l3.2 3.2 1.3-1.3z" />
        </svg>
    }
}

/// Microphone: unmuted.
#[component]
pub fn IconMic() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5.3-3a5.3 5.3 0 0 1-10.6 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9z" />
        </svg>
    }
}

/// Microphone struck through: muted.
#[component]
pub fn IconMicOff() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M19 11h-1.7c0 .74-.16 1.43-.43 2.05l1.23 1.23A6.9 6.9 0 0 0 19 11zm-4 .16V5a3 3 0 0 0-5.96-.5zM4.27 3 3 4.27l6 6V11a3 3 0 0 0 4.5 2.6l1.65 1.65A5.3 5.3 0 0 1 6.7 11H5a7 7 0 0 0 6 6.9V21h2v-3.1a6.9 6.9 0 0 0 2.5-.87L19.73 21 21 19.73z" />
        </svg>
    }
}

/// Chevron down: a menu.
#[component]
pub fn IconChevronDown() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z" />
        </svg>
    }
}

/// Curved arrow left: reply.
#[component]
pub fn IconReply() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z" />
        </svg>
    }
}

/// Two sheets: copy.
#[component]
pub fn IconCopy() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M16 1H4a2 2 0 0 0-2 2v14h2V3h12zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11z" />
        </svg>
    }
}

/// Pencil: edit.
#[component]
pub fn IconEdit() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M3 17.2V21h3.8L17.8 9.9l-3.7-3.7zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.7 3.7z" />
        </svg>
    }
}

/// Bin: delete.
#[component]
pub fn IconDelete() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z" />
        </svg>
    }
}

/// A circle struck through: a deleted message.
#[component]
pub fn IconBan() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM4 12a8 8 0 0 1 12.9-6.3L5.7 16.9A7.9 7.9 0 0 1 4 12zm8 8a7.9 7.9 0 0 1-4.9-1.7L18.3 7.1A8 8 0 0 1 12 20z" />
        </svg>
    }
}

/// Star: starred messages.
#[component]
pub fn IconStar() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 17.3 18.2 21l-1.6-7L22 9.2l-7.2-.6L12 2 9.2 8.6 2 9.2 7.4 14l-1.6 7z" />
        </svg>
    }
}

/// Pushpin: pinned.
#[component]
pub fn IconPin() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M16 9V4h1V2H7v2h1v5c0 1.7-1.3 3-3 3v2h6v7l1 1 1-1v-7h6v-2c-1.7 0-3-1.3-3-3z" />
        </svg>
    }
}

/// Box with an arrow: archive.
#[component]
pub fn IconArchive() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M20.5 5.2 19.1 3.5A1.5 1.5 0 0 0 18 3H6c-.5 0-.9.2-1.2.5L3.5 5.2C3.2 5.6 3 6 3 6.5V19a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V6.5c0-.5-.2-.9-.5-1.3zM12 17.5 6.5 12H10v-2h4v2h3.5zM5.1 5l.8-1h12l.9 1z" />
        </svg>
    }
}

/// Arrow right: forward.
#[component]
pub fn IconForward() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M14 9V5l7 7-7 7v-4.1c-5 0-8.5 1.6-11 5.1 1-5 4-10 11-11z" />
        </svg>
    }
}

/// Envelope with a dot: mark unread.
#[component]
pub fn IconUnread() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M18 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM20 10.2V18H4V8.5l8 5 4.5-2.8A5 5 0 0 1 13.1 6H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-8.5a5 5 0 0 1-2 .7z" />
        </svg>
    }
}

/// A clock with an arc: disappearing messages.
#[component]
pub fn IconTimer() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2a10 10 0 1 0 10 10h-2a8 8 0 1 1-8-8zm0 4-1 7 5 3 1-1.7-3.5-2.1L13 6zm3-3.5-.6 1.9A8 8 0 0 1 19.6 9.6l1.9-.6a10 10 0 0 0-6.5-6.5z" />
        </svg>
    }
}

/// A smiling face: the emoji picker.
#[component]
pub fn IconSmile() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm-3.5-9A1.5 1.5 0 1 0 8.5 8a1.5 1.5 0 0 0 0 3zm7 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM12 17.5c2.3 0 4.3-1.5 5-3.5H7c.7 2 2.7 3.5 5 3.5z" />
        </svg>
    }
}

/// An "i" in a circle: information.
#[component]
pub fn IconInfo() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2zm0-8h-2V7h2z" />
        </svg>
    }
}

/// A bell: notifications.
#[component]
pub fn IconBell() -> impl IntoView {
    view! {
        <svg class="icon icon-inline" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z" />
        </svg>
    }
}

/// A struck-through bell: a muted chat.
#[component]
pub fn IconBellOff() -> impl IntoView {
    view! {
        <svg class="icon icon-inline" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6.2V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66a6.9 6.9 0 0 0-2.6 1.2zM3.3 2.3 2 3.6l3.4 3.4A7 7 0 0 0 5 11v5l-2 2v1h14.4l3 3 1.3-1.3z" />
        </svg>
    }
}

/// A paperclip: attach a file.
#[component]
pub fn IconAttach() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M16.5 6.5v10.6a4.5 4.5 0 0 1-9 0V5.7a3 3 0 0 1 6 0v10.1a1.5 1.5 0 0 1-3 0V6.5H9v9.3a3 3 0 0 0 6 0V5.7a4.5 4.5 0 0 0-9 0v11.4a6 6 0 0 0 12 0V6.5z" />
        </svg>
    }
}
