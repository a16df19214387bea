//! Round avatars with initials, tinted per person (no images yet).

use leptos::prelude::*;
use parley_client::names::initials;
use parley_protocol::UserId;

/// Number of `tone-N` classes in `style/main.css`.
const TONES: u32 = 8;

/// Avatar sizes, matching `avatar-md|lg` in CSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Medium,
    Large,
}

/// A stable tint for an account, so a person keeps their colour everywhere.
fn tone(seed: UserId) -> u32 {
    let folded = seed.as_uuid().as_bytes().iter().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(*b))
    });
    folded % TONES
}

/// `name` is reactive so renames show at once.
#[component]
pub fn Avatar(#[prop(into)] name: Signal<String>, seed: UserId, size: Size) -> impl IntoView {
    let size = match size {
        Size::Medium => "avatar-md",
        Size::Large => "avatar-lg",
    };
    let class = format!("avatar {size} tone-{}", tone(seed));
    view! {
        <span class=class aria-hidden="true">
            {move || initials(&name.get())}
        </span>
    }
}
