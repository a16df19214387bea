//! Groups on screen: the open group (`GroupConversation`), its info sheet
//! with members and admin actions (`GroupInfo`), the "New group" dialog,
//! and "Message info" for one's own group message.
//!
//! Every change goes to the engine as a group change; what shows is the
//! group as its verified log makes it (`Messaging::groups`), so a change
//! appears once the server took it and this device checked it.

use crate::router::Router;
use crate::session::Session;
use crate::state::AppState;
use crate::ui::attachments::Uploads;
use crate::ui::avatar::{Avatar, Size};
use crate::ui::composer::Composer;
use crate::ui::confirm::Ask;
use crate::ui::format;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconBack, IconClose, IconLock};
use crate::ui::message_dialogs::MessageDialogs;
use crate::ui::message_menu::MessageMenu;
use crate::ui::messages::MessageList;
use crate::ui::modal::Modal;
use crate::ui::pins::PinnedBar;
use crate::ui::safety::SafetyPanel;
use crate::ui::send_files::{Choosing, SendFilesDialog};
use crate::ui::viewer::{MediaViewer, Viewing};
use leptos::prelude::*;
use parley_client::group::says;
use parley_protocol::group::{
    GROUP_DESCRIPTION_MAX_CHARS, GROUP_NAME_MAX_CHARS, GroupChange, MAX_GROUP_MEMBERS, Role,
    Roster, group_description, group_name,
};
use parley_protocol::{ConversationId, GroupId, UserId};

/// The tone seed of a group's avatar.
fn seed(group: GroupId) -> UserId {
    UserId::from_uuid(group.into_uuid())
}

/// A person's handle; this account's own from its profile.
fn handle(app: AppState, user: UserId) -> String {
    if app.me() == Some(user) {
        return app
            .session
            .with(|s| s.as_ref().map(|s| s.profile.handle.clone()))
            .unwrap_or_default();
    }
    app.messaging.card(app, user).handle
}

/// The members of `roster` as shown: this account first, then admins, then
/// by name.
fn members_in_order(app: AppState, roster: &Roster) -> Vec<(UserId, Role, String)> {
    let me = app.me();
    let mut members: Vec<(UserId, Role, String)> = roster
        .members
        .iter()
        .map(|(user, m)| (*user, m.role, app.messaging.author_name(app, *user)))
        .collect();
    members.sort_by(|a, b| {
        let rank = |m: &(UserId, Role, String)| (Some(m.0) != me, m.1 != Role::Admin);
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.2.to_lowercase().cmp(&b.2.to_lowercase()))
    });
    members
}

/// `conversation` for a group: its name and members (or who is typing),
/// the messages, and the composer while this account may send.
#[component]
pub fn GroupConversation(group: GroupId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let open_chat = expect_context::<Router>().chat;
    let ui = app.messaging;
    let chat = ConversationId::Group(group);
    let roster = Memo::new(move |_| ui.groups.with(|g| g.get(&group).cloned()));
    let name = Signal::derive(move || ui.title(app, chat));
    let stick = StoredValue::new(true);
    let info_open = RwSignal::new(false);
    // Whose safety number is shown (a member's, chosen in the info sheet).
    let safety_for = RwSignal::new(None::<UserId>);
    // The chat's encryption note asks for "the" safety number: in a group
    // that is each member's, listed in the info sheet.
    Effect::new(move |_| {
        if ui.safety_open.get() && safety_for.get_untracked().is_none() {
            ui.safety_open.set(false);
            info_open.set(true);
        }
        if !ui.safety_open.get() {
            safety_for.set(None);
        }
    });
    let menu = MessageMenu::new();
    provide_context(menu);
    let choosing = Choosing::provide();
    let viewing = Viewing::provide();
    let me = app.me();
    let member = Memo::new(move |_| {
        roster.with(|r| {
            r.as_ref()
                .is_some_and(|r| me.is_some_and(|me| r.is_member(me)))
        })
    });
    let may_send = Memo::new(move |_| {
        roster.with(|r| {
            r.as_ref()
                .is_some_and(|r| me.is_some_and(|me| r.may_send(me)))
        })
    });
    let typing = Memo::new(move |_| {
        // A former member hears nothing more from the group.
        if !member.get() {
            return None;
        }
        let names: Vec<String> = ui.group_typing.with(|t| {
            t.get(&group)
                .map(|users| {
                    users
                        .iter()
                        .map(|u| ui.card(app, *u).display_name)
                        .collect()
                })
                .unwrap_or_default()
        });
        says::typing(&names)
    });
    // "You, Ann, Bob": this account first, then admins, then by name.
    let line = move || {
        roster.with(|r| {
            r.as_ref().map_or_else(String::new, |r| {
                members_in_order(app, r)
                    .into_iter()
                    .map(|(_, _, name)| name)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        })
    };
    let subtitle = move || match typing.get() {
        Some(text) => view! {
            <p class="conversation-sub typing" data-testid="typing-indicator">{text}</p>
        }
        .into_any(),
        None => view! {
            <p class="conversation-sub" data-testid="group-members-line">{line}</p>
        }
        .into_any(),
    };
    // Files dropped anywhere on the chat go to it, while this account may
    // send there.
    let (dragging, on_drag_over, on_drop) = choosing.drop_zone(move || !may_send.get_untracked());
    // Files chosen before this account lost the right to send are dropped,
    // not shown again should it come back.
    Effect::new(move |_| {
        if !may_send.get() {
            choosing.clear();
        }
    });
    let footer = move || {
        if may_send.get() {
            view! { <Composer chat stick /> }.into_any()
        } else {
            let text = if member.get() {
                "Only admins can send messages to this group."
            } else if roster.with(Option::is_none) {
                "Loading the group…"
            } else {
                "You can't send messages to this group because you're no longer a member."
            };
            // Uploads started while this account could send still show (a
            // failed one can be retried or cancelled).
            view! {
                <Uploads chat />
                <p class="group-cannot-send" role="status" data-testid="group-cannot-send">
                    {text}
                </p>
            }
            .into_any()
        }
    };
    view! {
        <section
            class="conversation"
            class:dragging=move || dragging.get()
            data-testid="conversation"
            data-group=group.to_string()
            on:dragover=on_drag_over
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <header class="conversation-header">
                <IconButton class="icon-btn back" test_id="back" label="Back" on:click=move |_| open_chat.set(None)>
                    <IconBack />
                </IconButton>
                // A mouse shortcut to the name's button, which keyboards use.
                <span class="conversation-avatar" aria-hidden="true" on:click=move |_| info_open.set(true)>
                    <Avatar name=name seed=seed(group) size=Size::Medium />
                </span>
                <div class="conversation-heading">
                    <h2 data-testid="conversation-title">
                        <button
                            type="button"
                            class="conversation-who"
                            data-testid="open-group-info"
                            aria-haspopup="dialog"
                            title="Group info"
                            on:click=move |_| info_open.set(true)
                        >
                            {move || name.get()}
                        </button>
                    </h2>
                    {subtitle}
                </div>
            </header>
            <PinnedBar chat />
            <MessageList stick />
            {footer}
            <Show when=move || choosing.open() && may_send.get()>
                <SendFilesDialog chat choosing sent=move || stick.set_value(true) />
            </Show>
            <Show when=move || viewing.0.with(Option::is_some)>
                <MediaViewer viewing />
            </Show>
            <Show when=move || info_open.get()>
                <GroupInfo group safety_for on_close=move || info_open.set(false) />
            </Show>
            {move || {
                safety_for
                    .get()
                    .filter(|_| ui.safety_open.get())
                    .map(|peer| {
                        let name = Signal::derive(move || ui.card(app, peer).display_name);
                        view! { <SafetyPanel peer name /> }
                    })
            }}
            <MessageDialogs menu />
        </section>
    }
}

/// `group-info`: name and description (editable by whoever may), the
/// members with their roles and, for admins, what they can do to each;
/// adding people; who may send and edit; leaving.
#[component]
fn GroupInfo(
    group: GroupId,
    safety_for: RwSignal<Option<UserId>>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let ask = expect_context::<Ask>();
    let ui = app.messaging;
    let me = app.me();
    let roster = Memo::new(move |_| ui.groups.with(|g| g.get(&group).cloned()));
    let name = Signal::derive(move || ui.title(app, ConversationId::Group(group)));
    let is = move |pick: fn(&Roster, UserId) -> bool| {
        roster.with(|r| r.as_ref().zip(me).is_some_and(|(r, me)| pick(r, me)))
    };
    let admin = Memo::new(move |_| is(|r, me| r.role(me) == Some(Role::Admin)));
    let member = Memo::new(move |_| is(Roster::is_member));
    let may_edit = Memo::new(move |_| admin.get() || (member.get() && is(|r, _| !r.admins_edit)));
    let change = move |change: GroupChange| {
        session.messaging(|m| m.change_group(group, change));
    };
    let count = move || roster.with(|r| r.as_ref().map_or(0, |r| r.members.len()));
    let members = move || {
        roster.with(|r| {
            r.as_ref()
                .map(|r| members_in_order(app, r))
                .unwrap_or_default()
        })
    };

    // Renaming, in place.
    let renaming = RwSignal::new(false);
    let new_name = RwSignal::new(String::new());
    let name_error = Memo::new(move |_| new_name.with(|n| group_name(n.trim()).err()));
    let rename = move || {
        let wanted = new_name.get_untracked().trim().to_owned();
        if name_error.get_untracked().is_none() && wanted != name.get_untracked() {
            change(GroupChange::Rename { name: wanted });
        }
        renaming.set(false);
    };

    // The description, edited in place too.
    let describing = RwSignal::new(false);
    let new_description = RwSignal::new(String::new());
    let description = move || {
        roster.with(|r| {
            r.as_ref()
                .map(|r| r.description.clone())
                .unwrap_or_default()
        })
    };
    let description_error =
        Memo::new(move |_| new_description.with(|d| group_description(d.trim()).err()));
    let describe = move || {
        let wanted = new_description.get_untracked().trim().to_owned();
        if description_error.get_untracked().is_none() && wanted != description() {
            change(GroupChange::Describe {
                description: wanted,
            });
        }
        describing.set(false);
    };

    let adding = RwSignal::new(false);
    let add = move |users: Vec<UserId>| {
        adding.set(false);
        if !users.is_empty() {
            change(GroupChange::Add { users });
        }
    };
    let in_group = Signal::derive(move || {
        roster.with(|r| {
            r.as_ref()
                .map(|r| r.members.keys().copied().collect())
                .unwrap_or_default()
        })
    });
    let leave = move || {
        let title = format!("Exit \u{201c}{}\u{201d}?", name.get_untracked());
        ask.ask(
            title,
            "You will no longer get this group's messages. The other members see that you left."
                .to_owned(),
            "Exit group",
            move || change(GroupChange::Leave),
        );
    };
    let restrict = move |admins_send: Option<bool>, admins_edit: Option<bool>| {
        if let Some(r) = roster.get_untracked() {
            change(GroupChange::Restrict {
                admins_send: admins_send.unwrap_or(r.admins_send),
                admins_edit: admins_edit.unwrap_or(r.admins_edit),
            });
        }
    };

    view! {
        <Modal class="sheet contact-info group-info" test_id="group-info" labelled_by="group-info-title" on_close=on_close>
            <header class="sheet-header">
                <h2 id="group-info-title">"Group info"</h2>
                <IconButton test_id="close-group-info" label="Close" on:click=move |_| on_close.run(())>
                    <IconClose />
                </IconButton>
            </header>
            <div class="contact-card">
                <Avatar name=name seed=seed(group) size=Size::Huge />
                {move || {
                    if renaming.get() {
                        view! {
                            <form
                                class="group-rename"
                                on:submit=move |ev| {
                                    ev.prevent_default();
                                    rename();
                                }
                            >
                                <label for="group-name-input" class="sr-only">"Group name"</label>
                                <input
                                    id="group-name-input"
                                    data-testid="group-name-input"
                                    maxlength=GROUP_NAME_MAX_CHARS
                                    autofocus
                                    bind:value=new_name
                                />
                                <button type="submit" class="btn btn-primary btn-small" data-testid="group-name-save" disabled=move || name_error.with(Option::is_some)>
                                    "Save"
                                </button>
                                <button type="button" class="btn btn-secondary btn-small" on:click=move |_| renaming.set(false)>
                                    "Cancel"
                                </button>
                            </form>
                        }
                        .into_any()
                    } else {
                        view! {
                            <p class="contact-card-name" data-testid="group-info-name">{move || name.get()}</p>
                            <Show when=move || may_edit.get()>
                                <button
                                    type="button"
                                    class="btn btn-secondary btn-small"
                                    data-testid="group-rename"
                                    on:click=move |_| {
                                        new_name.set(name.get_untracked());
                                        renaming.set(true);
                                    }
                                >
                                    "Rename"
                                </button>
                            </Show>
                        }
                        .into_any()
                    }
                }}
                <p class="muted" data-testid="group-info-count">
                    {move || format!("Group · {} members", count())}
                </p>
            </div>
            <Show when=move || may_edit.get() || !description().is_empty()>
                <section class="info-section">
                    <h3 class="card-title">"Description"</h3>
                    {move || {
                        if describing.get() {
                            view! {
                                <form
                                    class="group-describe"
                                    on:submit=move |ev| {
                                        ev.prevent_default();
                                        describe();
                                    }
                                >
                                    <label for="group-description-input" class="sr-only">"Group description"</label>
                                    <textarea
                                        id="group-description-input"
                                        data-testid="group-description-input"
                                        rows="3"
                                        maxlength=GROUP_DESCRIPTION_MAX_CHARS
                                        autofocus
                                        bind:value=new_description
                                    ></textarea>
                                    <div class="dialog-actions">
                                        <button type="button" class="btn btn-secondary btn-small" on:click=move |_| describing.set(false)>
                                            "Cancel"
                                        </button>
                                        <button type="submit" class="btn btn-primary btn-small" data-testid="group-description-save" disabled=move || description_error.with(Option::is_some)>
                                            "Save"
                                        </button>
                                    </div>
                                </form>
                            }
                            .into_any()
                        } else {
                            let empty = description().is_empty();
                            view! {
                                <Show when=move || !empty>
                                    <p class="group-description" dir="auto" data-testid="group-info-description">{description}</p>
                                </Show>
                                <Show when=move || may_edit.get()>
                                    <button
                                        type="button"
                                        class="btn btn-secondary btn-small"
                                        data-testid="group-describe"
                                        on:click=move |_| {
                                            new_description.set(description());
                                            describing.set(true);
                                        }
                                    >
                                        {if empty { "Add group description" } else { "Edit" }}
                                    </button>
                                </Show>
                            }
                            .into_any()
                        }
                    }}
                </section>
            </Show>
            <section class="info-section">
                <h3 class="card-title">{move || format!("{} members", count())}</h3>
                <Show when=move || admin.get() && count() < MAX_GROUP_MEMBERS>
                    <button type="button" class="btn btn-secondary btn-small" data-testid="group-add" on:click=move |_| adding.set(true)>
                        "Add members"
                    </button>
                </Show>
                <ul class="device-list" data-testid="group-members">
                    <For each=members key=|(user, role, name)| (*user, *role, name.clone()) let:entry>
                        {
                            let (user, role, who) = entry;
                            let mine = Some(user) == me;
                            view! {
                                <li class="device-item" data-testid="group-member" data-user=user.to_string()>
                                    <span class="device-text">
                                        <span class="device-name">{who}</span>
                                        <span class="device-meta">
                                            {move || format::handle(&handle(app, user))}
                                        </span>
                                    </span>
                                    {(role == Role::Admin).then(|| view! {
                                        <span class="member-role" data-testid="member-admin">"Group admin"</span>
                                    })}
                                    {(!mine).then(|| view! {
                                        <button
                                            type="button"
                                            class="btn btn-secondary btn-small"
                                            data-testid="member-safety"
                                            title="Safety number"
                                            on:click=move |_| {
                                                on_close.run(());
                                                safety_for.set(Some(user));
                                                session.messaging(|m| m.show_safety(true));
                                            }
                                        >
                                            <IconLock />
                                            <span class="sr-only">"Safety number"</span>
                                        </button>
                                    })}
                                    <Show when=move || admin.get() && !mine>
                                        <span class="member-actions">
                                            {if role == Role::Admin {
                                                view! {
                                                    <button type="button" class="btn btn-secondary btn-small" data-testid="member-demote" on:click=move |_| change(GroupChange::Demote { user })>
                                                        "Dismiss as admin"
                                                    </button>
                                                }.into_any()
                                            } else {
                                                view! {
                                                    <button type="button" class="btn btn-secondary btn-small" data-testid="member-promote" on:click=move |_| change(GroupChange::Promote { user })>
                                                        "Make admin"
                                                    </button>
                                                }.into_any()
                                            }}
                                            <button
                                                type="button"
                                                class="btn btn-danger-ghost btn-small"
                                                data-testid="member-remove"
                                                on:click=move |_| {
                                                    let who = ui.author_name(app, user);
                                                    ask.ask(
                                                        format!("Remove {who}?"),
                                                        format!("{who} will no longer get this group's messages."),
                                                        "Remove",
                                                        move || change(GroupChange::Remove { user }),
                                                    );
                                                }
                                            >
                                                "Remove"
                                            </button>
                                        </span>
                                    </Show>
                                </li>
                            }
                        }
                    </For>
                </ul>
            </section>
            <Show when=move || admin.get()>
                <section class="info-section" data-testid="group-settings">
                    <h3 class="card-title">"Group settings"</h3>
                    <label class="switch-row">
                        <input
                            type="checkbox"
                            data-testid="admins-send"
                            prop:checked=move || roster.with(|r| r.as_ref().is_some_and(|r| r.admins_send))
                            on:change=move |ev| restrict(Some(event_target_checked(&ev)), None)
                        />
                        <span>"Only admins can send messages"</span>
                    </label>
                    <label class="switch-row">
                        <input
                            type="checkbox"
                            data-testid="admins-edit"
                            prop:checked=move || roster.with(|r| r.as_ref().is_some_and(|r| r.admins_edit))
                            on:change=move |ev| restrict(None, Some(event_target_checked(&ev)))
                        />
                        <span>"Only admins can edit the group info"</span>
                    </label>
                </section>
            </Show>
            <crate::ui::notifications::MuteRow chat=ConversationId::Group(group) />
            <Show when=move || member.get()>
                <button type="button" class="btn btn-danger-ghost" data-testid="group-leave" on:click=move |_| leave()>
                    "Exit group"
                </button>
            </Show>
            <Show when=move || adding.get()>
                <PickPeople
                    title="Add members"
                    action="Add"
                    test_id="group-add-dialog"
                    except=in_group
                    on_pick=add
                    on_close=move || adding.set(false)
                />
            </Show>
        </Modal>
    }
}

/// A dialog to tick contacts (those in `except` are left out).
#[component]
fn PickPeople(
    title: &'static str,
    action: &'static str,
    test_id: &'static str,
    #[prop(into)] except: Signal<Vec<UserId>>,
    #[prop(into)] on_pick: Callback<Vec<UserId>>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let chosen = RwSignal::new(Vec::<UserId>::new());
    let people = move || {
        let except = except.get();
        let mut cards: Vec<_> = app.contacts.with(|list| {
            list.iter()
                .map(|c| c.user.clone())
                .filter(|c| !except.contains(&c.user_id))
                .collect()
        });
        cards.sort_by_key(|c| c.display_name.to_lowercase());
        cards
    };
    view! {
        <Modal class="modal-card" test_id=test_id labelled_by="pick-people-title" on_close=on_close>
            <h2 id="pick-people-title">{title}</h2>
            <PeopleChecklist people=Signal::derive(people) chosen />
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="pick-people-done"
                    disabled=move || chosen.with(Vec::is_empty)
                    on:click=move |_| on_pick.run(chosen.get_untracked())
                >
                    {action}
                </button>
            </div>
        </Modal>
    }
}

/// Contacts with a checkbox each; the ticked ones in `chosen`.
#[component]
fn PeopleChecklist(
    people: Signal<Vec<parley_protocol::api::UserCard>>,
    chosen: RwSignal<Vec<UserId>>,
) -> impl IntoView {
    view! {
        <Show
            when=move || people.with(|p| !p.is_empty())
            fallback=|| view! { <p class="muted">"No contacts to add. Add people from the contacts panel first."</p> }
        >
            <ul class="pick-people" data-testid="pick-people">
                <For each=move || people.get() key=|card| card.user_id let:card>
                    {
                        let user = card.user_id;
                        view! {
                            <li>
                                <label class="pick-person" data-testid="pick-person" data-user=user.to_string()>
                                    <input
                                        type="checkbox"
                                        prop:checked=move || chosen.with(|c| c.contains(&user))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|c| {
                                                c.retain(|u| *u != user);
                                                if on {
                                                    c.push(user);
                                                }
                                            });
                                        }
                                    />
                                    <span>{card.display_name.clone()}</span>
                                    <span class="muted">{format::handle(&card.handle)}</span>
                                </label>
                            </li>
                        }
                    }
                </For>
            </ul>
        </Show>
    }
}

/// `new-group`: a name and the contacts to add; creating opens the group.
#[component]
pub fn NewGroupDialog(#[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let open_chat = expect_context::<Router>().chat;
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<UserId>::new());
    let error = Memo::new(move |_| {
        name.with(|n| group_name(n.trim()).err())
            .or_else(|| description.with(|d| group_description(d.trim()).err()))
    });
    let people = Signal::derive(move || {
        let mut cards: Vec<_> = app
            .contacts
            .with(|list| list.iter().map(|c| c.user.clone()).collect());
        cards.sort_by_key(|c: &parley_protocol::api::UserCard| c.display_name.to_lowercase());
        cards
    });
    let create = move || {
        if error.get_untracked().is_some() {
            return;
        }
        let title = name.get_untracked().trim().to_owned();
        let about = description.get_untracked().trim().to_owned();
        let members = chosen.get_untracked();
        if let Some(group) = session.messaging(|m| m.create_group(title, about, members)) {
            on_close.run(());
            open_chat.set(Some(ConversationId::Group(group)));
        }
    };
    view! {
        <Modal class="modal-card" test_id="new-group" labelled_by="new-group-title" on_close=on_close>
            <form class="new-group-form" on:submit=move |ev| {
                ev.prevent_default();
                create();
            }>
                <h2 id="new-group-title">"New group"</h2>
                <label class="field">
                    <span>"Group name"</span>
                    <input
                        data-testid="new-group-name"
                        maxlength=GROUP_NAME_MAX_CHARS
                        autofocus
                        required
                        bind:value=name
                    />
                </label>
                <label class="field">
                    <span>"Description (optional)"</span>
                    <textarea
                        data-testid="new-group-description"
                        rows="2"
                        maxlength=GROUP_DESCRIPTION_MAX_CHARS
                        bind:value=description
                    ></textarea>
                </label>
                <h3 class="card-title">"Add members"</h3>
                <PeopleChecklist people chosen />
                <div class="dialog-actions">
                    <button type="button" class="btn btn-secondary" on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="new-group-create"
                        disabled=move || error.with(Option::is_some)
                    >
                        "Create group"
                    </button>
                </div>
            </form>
        </Modal>
    }
}
