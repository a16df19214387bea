//! "Message info" for one's own message: when the server took it, when a
//! device of the recipient stored it, and when they read it (not shown
//! while they keep read receipts off, as in WhatsApp). For a group
//! message: who read it and when, who has it, and whom it has not reached.

use crate::state::AppState;
use crate::ui::format;
use crate::ui::modal::Modal;
use crate::ui::ticks;
use leptos::prelude::*;
use parley_client::group::MemberReceipt;
use parley_client::message::Message;
use parley_protocol::{Millis, UserId};

fn when(at: Option<Millis>) -> String {
    at.map_or_else(
        || "—".to_owned(),
        |at| format!("{}, {}", format::day_label(at), format::clock(at)),
    )
}

/// `message-info` for `m`, as it is now in the open chat.
#[component]
pub fn MessageInfo(m: Message, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let id = m.id;
    // Kept current: ticks that come while the dialog is open show in it.
    let current = Memo::new(move |_| {
        app.messaging
            .window
            .with(|w| w.messages().iter().find(|x| x.id == id).cloned())
    });
    let text = m
        .body
        .text()
        .map(parley_client::text::plain)
        .unwrap_or_default();
    let body = if m.group.is_some() {
        group_lists(app, current).into_any()
    } else {
        times(current).into_any()
    };
    view! {
        <Modal class="modal-card" test_id="message-info" labelled_by="message-info-title" on_close=on_close>
            <h2 id="message-info-title">"Message info"</h2>
            <p class="info-quote" dir="auto">
                {text}
                " "
                {move || current.with(|m| m.as_ref().map(ticks::of))}
            </p>
            {body}
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| on_close.run(())>
                    "Close"
                </button>
            </div>
        </Modal>
    }
}

/// A direct message's times: read, delivered, sent.
fn times(current: Memo<Option<Message>>) -> impl IntoView {
    let row =
        move |label: &'static str, test_id: &'static str, at: fn(&Message) -> Option<Millis>| {
            view! {
                <div class="info-time">
                    <dt>{label}</dt>
                    <dd data-testid=test_id>
                        {move || when(current.with(|m| m.as_ref().and_then(at)))}
                    </dd>
                </div>
            }
        };
    view! {
        <dl class="info-times">
            {row("Read", "info-read", |m| m.read_at)}
            {row("Delivered", "info-delivered", |m| m.delivered_at)}
            {row("Sent", "info-sent", |m| m.server_at)}
        </dl>
    }
}

/// A group message's members: who read it, who has it, who not yet.
fn group_lists(app: AppState, current: Memo<Option<Message>>) -> impl IntoView {
    let ui = app.messaging;
    let info = Memo::new(move |_| {
        current.with(|m| m.as_ref().and_then(|m| m.group.as_ref()).map(|g| g.info()))
    });
    let section = move |title: &'static str,
                        test_id: &'static str,
                        pick: fn(&MemberReceipt) -> Option<Option<Millis>>| {
        move || {
            let rows: Vec<(UserId, Option<Millis>)> = info.with(|i| {
                i.as_ref()
                    .map(|i| {
                        i.members
                            .iter()
                            .filter_map(|r| pick(r).map(|at| (r.user, at)))
                            .collect()
                    })
                    .unwrap_or_default()
            });
            (!rows.is_empty()).then(|| {
                view! {
                    <section class="info-section" data-testid=test_id>
                        <h3 class="card-title">{title}</h3>
                        <ul class="device-list">
                            {rows
                                .into_iter()
                                .map(|(user, at)| {
                                    view! {
                                        <li class="device-item" data-testid="info-member">
                                            <span class="device-name">{ui.author_name(app, user)}</span>
                                            <span class="device-meta">{when(at)}</span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </section>
                }
            })
        }
    };
    view! {
        {section("Read by", "info-read-by", |r| r.read_at.map(Some))}
        {section("Delivered to", "info-delivered-to", |r| {
            (r.read_at.is_none() && r.delivered_at.is_some()).then_some(r.delivered_at)
        })}
        {section("Not delivered yet", "info-pending", |r| r.delivered_at.is_none().then_some(None))}
    }
}
