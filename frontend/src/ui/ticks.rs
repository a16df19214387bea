//! The status icon inside own bubbles and chat list previews (`tick`).

use crate::ui::icons::{IconAlert, IconCheck, IconClock, IconDoubleCheck};
use leptos::prelude::*;
use parley_client::message::{Message, Status};

/// Clock, one grey tick, two grey, two blue, or a red warning.
#[component]
pub fn Tick(status: Status, failed: bool) -> impl IntoView {
    let (name, label) = match (failed, status) {
        (true, _) => ("failed", "Not sent"),
        (_, Status::Pending) => ("pending", "Sending"),
        (_, Status::Sent) => ("sent", "Sent"),
        (_, Status::Delivered) => ("delivered", "Delivered"),
        (_, Status::Read) => ("read", "Read"),
    };
    let icon = match (failed, status) {
        (true, _) => view! { <IconAlert /> }.into_any(),
        (_, Status::Pending) => view! { <IconClock /> }.into_any(),
        (_, Status::Sent) => view! { <IconCheck /> }.into_any(),
        (_, Status::Delivered | Status::Read) => view! { <IconDoubleCheck /> }.into_any(),
    };
    view! {
        <span
            class=format!("tick tick-{name}")
            data-testid="tick"
            data-status=name
            title=label
            aria-label=label
            role="img"
        >
            {icon}
        </span>
    }
}

/// The tick of an outgoing message.
pub fn of(msg: &Message) -> impl IntoView + use<> {
    let (status, failed) = (msg.status, msg.failed);
    view! { <Tick status failed /> }
}
