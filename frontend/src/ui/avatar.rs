//! Round avatars: the person's profile photo when they have one the
//! caller may see, else initials tinted per person.

use crate::state::AppState;
use leptos::prelude::*;
use parley_client::names::initials;
use parley_protocol::UserId;
use parley_protocol::api::PhotoVersion;

/// Number of `tone-N` classes in `style/main.css`.
const TONES: u32 = 8;

/// Avatar sizes, matching `avatar-md|lg|xl` in CSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Medium,
    Large,
    /// The contact info panel's.
    Huge,
}

/// A stable tint for an account, so a person keeps their colour everywhere.
pub fn tone(seed: UserId) -> u32 {
    let folded = seed.as_uuid().as_bytes().iter().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(*b))
    });
    folded % TONES
}

/// `name` and `photo` are reactive so changes show at once.
#[component]
pub fn Avatar(
    #[prop(into)] name: Signal<String>,
    seed: UserId,
    size: Size,
    /// The photo's version, when there is one to show.
    #[prop(optional, into)]
    photo: MaybeProp<PhotoVersion>,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let size = match size {
        Size::Medium => "avatar-md",
        Size::Large => "avatar-lg",
        Size::Huge => "avatar-xl",
    };
    let class = format!("avatar {size} tone-{}", tone(seed));
    // A memo: a photo arriving for someone else redraws nothing here.
    let url = Memo::new(move |_| app.photos.url(app, seed, photo.get()));
    view! {
        <span class=class aria-hidden="true" data-testid="avatar">
            {move || match url.get() {
                Some(src) => view! { <img class="avatar-photo" src=src alt="" data-testid="avatar-photo" /> }.into_any(),
                None => initials(&name.get()).into_any(),
            }}
        </span>
    }
}
