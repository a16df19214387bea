//! The call screen: ringing (incoming and outgoing), the call itself with
//! the remote video large and the local one small, and the call's end.

use crate::calls;
use crate::session::Session;
use crate::state::AppState;
use crate::state::calls::{CallView, Stage};
use crate::ui::avatar::{Avatar, Size};
use crate::ui::focus;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconHangUp, IconMic, IconMicOff, IconPhone, IconVideo, IconVideoOff};
use crate::ui::modal::Modal;
use leptos::html::Video;
use leptos::prelude::*;
use parley_client::call::{CallId, duration_text};
use parley_protocol::{Millis, UserId};
use std::time::Duration;

/// How long after ringing a press on "Accept" starts to count.
const ARMING: Duration = Duration::from_millis(700);

fn now() -> Millis {
    #[allow(clippy::cast_possible_truncation)]
    let now = js_sys::Date::now() as Millis;
    now
}

/// `call-screen` over everything while a call is on, and `call-error` when
/// camera or microphone could not be used.
#[component]
pub fn CallScreen() -> impl IntoView {
    let session = expect_context::<Session>();
    let app = expect_context::<AppState>();
    let ui = app.calls;
    // A new window only for a new call: the video elements stay put while
    // the call's state changes.
    let key = Memo::new(move |_| ui.view.with(|v| v.as_ref().map(|v| (v.id, v.peer))));
    view! {
            <Show when=move || ui.error.with(Option::is_some)>
                <div class="call-error" role="alert" data-testid="call-error">
                    <span>{move || ui.error.get().unwrap_or_default()}</span>
                    <button
                        type="button"
                        class="text-btn"
                        data-testid="dismiss-call-error"
                        on:click=move |_| {
    session.calls(|c| c.dismiss_error());
    }
                    >
                        "OK"
                    </button>
                </div>
            </Show>
            {move || key.get().map(|(id, peer)| view! { <CallWindow id peer /> })}
        }
}

#[component]
fn CallWindow(id: CallId, peer: UserId) -> impl IntoView {
    let session = expect_context::<Session>();
    let app = expect_context::<AppState>();
    let ui = app.calls;
    let field = move |f: fn(&CallView) -> bool| {
        Signal::derive(move || {
            ui.view
                .with(|v| v.as_ref().filter(|v| v.id == id).is_some_and(f))
        })
    };
    let stage = Memo::new(move |_| {
        ui.view.with(|v| {
            v.as_ref()
                .map_or(Stage::Ended(String::new()), |v| v.stage.clone())
        })
    });
    let video_call = field(|v| v.video);
    let outgoing = field(|v| v.outgoing);
    let muted = field(|v| v.muted);
    let camera = field(|v| v.camera);
    let remote_video = field(|v| v.remote_video);
    let remote_muted = field(|v| !v.remote_audio);
    let connected_at =
        Memo::new(move |_| ui.view.with(|v| v.as_ref().and_then(|v| v.connected_at)));
    let name = Signal::derive(move || app.messaging.card(app, peer).display_name);

    // Accept takes focus when a call rings, but answers only after a
    // moment: long enough for a key already on its way to land harmlessly.
    let armed = RwSignal::new(false);
    set_timeout(
        move || {
            armed.try_set(true);
        },
        ARMING,
    );

    // The clock for the duration, while the call is on.
    let clock = RwSignal::new(now());
    if let Ok(timer) = set_interval_with_handle(move || clock.set(now()), Duration::from_secs(1)) {
        on_cleanup(move || timer.clear());
    }

    let remote = NodeRef::<Video>::new();
    let local = NodeRef::<Video>::new();
    Effect::new(move |_| {
        ui.streams.track();
        if let Some(el) = remote.get() {
            calls::attach(&el, session.calls(|c| c.remote_stream()).flatten().as_ref());
        }
        if let Some(el) = local.get() {
            calls::attach(&el, session.calls(|c| c.local_stream()).flatten().as_ref());
        }
    });

    let status = move || match stage.get() {
        Stage::Calling => "Calling…".to_owned(),
        Stage::Ringing => "Ringing…".to_owned(),
        Stage::Incoming if video_call.get() => "Incoming video call".to_owned(),
        Stage::Incoming => "Incoming voice call".to_owned(),
        Stage::Connecting => "Connecting…".to_owned(),
        Stage::Active => connected_at
            .get()
            .map(|at| duration_text(clock.get() - at))
            .unwrap_or_default(),
        Stage::Ended(text) => text,
    };
    let show_remote = move || remote_video.get() && stage.get() == Stage::Active;
    let controls = move || {
        match stage.get() {
        Stage::Incoming => view! {
            <IconButton
                class="call-btn decline"
                test_id="decline-call"
                label="Decline"
                on:click=move |_| {
                    session.calls(|c| c.decline());
                }
            >
                <IconHangUp />
            </IconButton>
            <IconButton
                class="call-btn accept"
                test_id="accept-call"
                label="Accept"
                attr:autofocus=true
                attr:data-armed=move || armed.get().to_string()
                on:click=move |_| {
                    // An Enter meant for the composer, pressed as the call
                    // arrived, must not answer it.
                    if armed.get_untracked() {
                        session.calls(|c| c.accept());
                    }
                }
            >
                {move || if video_call.get() { view! { <IconVideo /> }.into_any() } else { view! { <IconPhone /> }.into_any() }}
            </IconButton>
        }
        .into_any(),
        Stage::Ended(_) => ().into_any(),
        _ => view! {
            <CallToggle
                test_id="toggle-mute"
                off=muted
                turn_on="Unmute"
                turn_off="Mute"
                off_icon=|| view! { <IconMicOff /> }
                on_icon=|| view! { <IconMic /> }
                on:click=move |_| {
                    session.calls(|c| c.toggle_mute());
                }
            />
            <CallToggle
                test_id="toggle-camera"
                off=Signal::derive(move || !camera.get())
                turn_on="Turn camera on"
                turn_off="Turn camera off"
                off_icon=|| view! { <IconVideoOff /> }
                on_icon=|| view! { <IconVideo /> }
                // Adding video to a voice call is a renegotiation: only
                // once the call is up.
                prop:disabled=move || !video_call.get() && stage.get() != Stage::Active
                on:click=move |_| {
                    session.calls(|c| c.toggle_camera());
                }
            />
            <button
                type="button"
                class="call-btn decline"
                data-testid="hangup-call"
                title=move || if outgoing.get() && matches!(stage.get(), Stage::Calling | Stage::Ringing) { "Cancel" } else { "Hang up" }
                aria-label="Hang up"
                on:click=move |_| {
                    session.calls(|c| c.hang_up());
                }
            >
                <IconHangUp />
            </button>
        }
        .into_any(),
    }
    };

    // Escape declines a ringing call; an ongoing call ends only by its button.
    let escape = move || {
        if stage.get_untracked() == Stage::Incoming {
            session.calls(|c| c.decline());
        }
    };
    // Controls change with the stage: keep focus among them.
    Effect::new(move |_| {
        stage.track();
        set_timeout(
            || {
                let inside = document()
                    .active_element()
                    .is_some_and(|e| e.closest(".call-controls").ok().flatten().is_some());
                if !inside {
                    focus::now(".call-controls [autofocus], .call-controls button:not([disabled])");
                }
            },
            Duration::ZERO,
        );
    });
    view! {
        <Modal class="call-dialog" test_id="call-dialog" labelled_by="call-peer-name" on_close=escape>
        <div
            class="call-screen"
            class:with-video=show_remote
            data-testid="call-screen"
            data-stage=move || stage.with(Stage::name)
            data-call=id.to_string()
        >
            <video
                class="remote-video"
                class:hidden=move || !show_remote()
                data-testid="remote-video"
                autoplay=true
                playsinline=true
                node_ref=remote
            />
            <div class="call-info" class:hidden=show_remote>
                <Avatar
                    name
                    seed=peer
                    size=Size::Large
                    photo=Signal::derive(move || app.messaging.card(app, peer).photo)
                />
                <h2 id="call-peer-name" data-testid="call-peer-name">{move || name.get()}</h2>
            </div>
            // Said once per change of stage, not every tick of the clock.
            <p class="sr-only" role="status">
                {move || match stage.get() {
                    Stage::Active => format!("Call with {} connected", name.get()),
                    _ => status(),
                }}
            </p>
            <p class="call-status" data-testid="call-status">
                {status}
                <Show when=move || remote_muted.get() && stage.get() == Stage::Active>
                    <span class="call-remote-muted" data-testid="remote-muted">
                        <IconMicOff />
                    </span>
                </Show>
            </p>
            <video
                class="local-video"
                class:hidden=move || !camera.get() || matches!(stage.get(), Stage::Incoming | Stage::Ended(_))
                data-testid="local-video"
                autoplay=true
                playsinline=true
                prop:muted=true
                node_ref=local
            />
            <div class="call-controls">{controls}</div>
        </div>
        </Modal>
    }
}

/// A call control that is on or off (the microphone, the camera): shown
/// pressed while off, and named after what a click does.
#[component]
fn CallToggle(
    /// `data-testid`.
    test_id: &'static str,
    /// Muted, or the camera off.
    #[prop(into)]
    off: Signal<bool>,
    /// Its name while off.
    turn_on: &'static str,
    /// Its name while on.
    turn_off: &'static str,
    /// The icon while off.
    #[prop(into)]
    off_icon: ViewFn,
    /// The icon while on.
    #[prop(into)]
    on_icon: ViewFn,
) -> impl IntoView {
    let label = Signal::derive(move || if off.get() { turn_on } else { turn_off });
    view! {
        <IconButton
            class="call-btn"
            test_id
            label
            class:off=move || off.get()
            attr:aria-pressed=move || off.get().to_string()
        >
            {move || if off.get() { off_icon.run() } else { on_icon.run() }}
        </IconButton>
    }
}
