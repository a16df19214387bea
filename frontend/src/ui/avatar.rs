//! Round avatars with initials, tinted per person (no images yet).

use leptos::prelude::*;
use parley_protocol::UserId;

/// Number of `tone-N` classes in `style/main.css`.
const TONES: u32 = 8;

/// Avatar sizes, matching `avatar-md|lg` in CSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Medium,
    Large,
}

/// Up to two initials: first letters of the first and last words.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().and_then(|w| w.chars().next());
    let last = words.last().and_then(|w| w.chars().next());
    let mut out: String = first.into_iter().chain(last).collect();
    out = out.to_uppercase();
    if out.is_empty() { "?".to_owned() } else { out }
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

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("  grace  "), "G");
        assert_eq!(initials("Jean Luc Picard"), "JP");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials(""), "?");
    }
}
