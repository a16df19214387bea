//! What runs while a device is signed in: the socket, messaging and calls,
//! made at sign-in and dropped at sign-out. Provided to the views through
//! Leptos context as a [`Session`] (a `Copy` handle).
//!
//! Dependencies point one way: views → session → messaging and calls →
//! network and store → the client core. Decrypted call signals go from
//! messaging to calls through a callback, so messaging knows nothing of
//! calls.

use crate::api;
use crate::calls::Controller;
use crate::messaging::{Account, Messenger, SignalSink};
use crate::net::socket::{Handlers, LinkStatus, Socket};
use crate::state::{AppState, SIGNED_OUT_NOTICE};
use leptos::prelude::*;
use parley_protocol::api::Session as SignedIn;
use parley_protocol::frame::ServerFrame;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// The parts of a signed-in device that run.
struct Live {
    socket: Socket,
    messenger: Rc<Messenger>,
    calls: Rc<Controller>,
}

/// Handle to the signed-in device's running parts; `Copy`, so views and
/// callbacks can hold it. Every method is a no-op while signed out.
#[derive(Clone, Copy)]
pub struct Session {
    app: AppState,
    live: StoredValue<Option<Rc<Live>>, LocalStorage>,
}

impl Session {
    /// Starts the stored session, if any, and stops what runs whenever the
    /// session ends (a 401 from any REST call ends it in [`AppState`]).
    pub fn restore(app: AppState) -> Self {
        let session = Self {
            app,
            live: StoredValue::new_local(None),
        };
        if let Some(signed_in) = app.session.get_untracked() {
            session.start(signed_in);
        }
        Effect::new(move |_| {
            if app.session.with(Option::is_none) {
                session.stop(true);
            }
        });
        session
    }

    /// Adopts a session fresh from sign-in or sign-up (or from another tab).
    pub fn signed_in(self, signed_in: SignedIn) {
        self.stop(false);
        self.app.adopt(signed_in.clone());
        self.start(signed_in);
    }

    /// Signs out on the server, then forgets the session here. The local part
    /// happens even if the server cannot be reached: the person asked to leave.
    pub async fn sign_out(self) {
        let Some(token) = self
            .app
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.token.clone()))
        else {
            return;
        };
        // End a call properly while the socket is still up.
        if let Some(calls) = self.calls_handle() {
            calls.end_before_sign_out().await;
        }
        // Hang up first, so the server's 4001 for this very sign-out is not
        // mistaken for a revocation.
        if let Some(live) = self.live.get_value() {
            live.socket.stop();
        }
        crate::notifications::drop_browser_subscription().await;
        if let Err(err) = api::sign_out(&token).await {
            leptos::logging::warn!("sign-out request failed: {err:?}");
        }
        self.signed_out(None);
    }

    /// Forgets the session on this device and shows the auth screen.
    pub fn signed_out(self, notice: Option<String>) {
        // This device's copy of the messages goes with the session.
        self.stop(true);
        self.app.end(notice);
    }

    /// Reconnects at once if the socket is waiting to retry ("Retry now").
    pub fn reconnect_now(self) {
        if let Some(live) = self.live.get_value() {
            live.socket.reconnect_now();
        }
    }

    /// The browser came back online: check the connection at once.
    pub fn network_back(self) {
        if let Some(live) = self.live.get_value() {
            live.socket.check_now();
        }
    }

    /// Runs `f` on messaging, while signed in.
    pub fn messaging<T>(self, f: impl FnOnce(&Rc<Messenger>) -> T) -> Option<T> {
        self.live.get_value().map(|live| f(&live.messenger))
    }

    /// Runs `f` on the call controller, while signed in.
    pub fn calls<T>(self, f: impl FnOnce(&Rc<Controller>) -> T) -> Option<T> {
        self.calls_handle().map(|calls| f(&calls))
    }

    fn calls_handle(self) -> Option<Rc<Controller>> {
        self.live.get_value().map(|live| live.calls.clone())
    }

    /// Socket, messaging and calls for `signed_in`.
    fn start(self, signed_in: SignedIn) {
        let app = self.app;
        let (me, device) = (signed_in.profile.user_id, signed_in.device_id);
        // Frames and status changes reach messaging once it exists; the
        // socket only connects after this function returns.
        let messenger_slot: Rc<RefCell<Weak<Messenger>>> = Rc::default();
        let calls_slot: Rc<RefCell<Weak<Controller>>> = Rc::default();
        let handlers = {
            let (on_status_slot, on_frame_slot) = (messenger_slot.clone(), messenger_slot.clone());
            Handlers {
                on_status: Box::new(move |status| {
                    app.link.set(status);
                    if status == LinkStatus::Online {
                        app.unreachable.set(false);
                        app.refresh();
                        if let Some(m) = on_status_slot.borrow().upgrade() {
                            crate::notifications::refresh(app, m, me);
                        }
                    } else if let Some(m) = on_status_slot.borrow().upgrade() {
                        m.connection_lost();
                    }
                }),
                on_frame: Box::new(move |frame| {
                    // Any answer proves the server is reachable again.
                    if let ServerFrame::Pong { .. } = frame {
                        app.unreachable.set(false);
                    }
                    if let Some(m) = on_frame_slot.borrow().upgrade() {
                        m.on_frame(frame);
                    }
                }),
                on_unauthorized: Box::new(move || {
                    self.signed_out(Some(SIGNED_OUT_NOTICE.to_owned()));
                }),
            }
        };
        let socket = Socket::connect(signed_in.token.clone(), handlers);
        let signal_slot = calls_slot.clone();
        let on_signal: SignalSink = Rc::new(move |from, device, plaintext| {
            if let Some(calls) = signal_slot.borrow().upgrade() {
                calls.on_signal(from, device, &plaintext);
            }
        });
        let messenger = Rc::new(Messenger::start(
            Account {
                app,
                token: signed_in.token,
                link: socket.clone(),
                me,
                device,
            },
            on_signal,
        ));
        let calls = Controller::start(app, messenger.clone(), me, device);
        *messenger_slot.borrow_mut() = Rc::downgrade(&messenger);
        *calls_slot.borrow_mut() = Rc::downgrade(&calls);
        self.live.set_value(Some(Rc::new(Live {
            socket,
            messenger,
            calls,
        })));
        self.resume_uploads();
    }

    /// Sends the message of a file uploaded for `chat`, with its caption;
    /// the future is done once the engine has run it (the message is in
    /// the outbox, which survives a reload).
    pub fn send_file(
        self,
        chat: parley_protocol::ConversationId,
        attachment: parley_client::attachment::Attachment,
        caption: &str,
    ) -> crate::state::media::Sent {
        let stored = self.messaging(|m| match m.send_file(chat, attachment, caption, None) {
            Ok(()) => m.flushed(),
            Err(err) => {
                leptos::logging::warn!("the file could not be sent: {err}");
                None
            }
        });
        Box::pin(async move {
            if let Some(stored) = stored.flatten() {
                let _ = stored.await;
            }
        })
    }

    /// What sends a file's message once its upload is done (for
    /// [`crate::state::media::Media::send`]).
    pub fn file_sender(
        self,
        chat: parley_protocol::ConversationId,
    ) -> impl FnOnce(
        Option<(parley_client::attachment::Attachment, String)>,
    ) -> crate::state::media::Sent
    + 'static {
        move |uploaded| match uploaded {
            Some((attachment, caption)) => self.send_file(chat, attachment, &caption),
            None => Box::pin(async {}),
        }
    }

    /// Resumes the uploads a reload (or a closed tab) cut off.
    fn resume_uploads(self) {
        let app = self.app;
        let Some(me) = app.me() else {
            return;
        };
        use crate::media::{files, locks};
        leptos::task::spawn_local(async move {
            let pending = match files::unfinished(me).await {
                Ok(pending) => pending,
                Err(err) => {
                    leptos::logging::warn!("unfinished uploads could not be read: {err}");
                    return;
                }
            };
            for upload in pending {
                // Another tab may be uploading it: wait for its lock, then
                // resume it only if that tab did not finish it.
                leptos::task::spawn_local(async move {
                    let lock = locks::take(&locks::upload(upload.blob)).await;
                    if files::unfinished_one(me, upload.blob).await != Ok(true)
                        || app.me() != Some(me)
                    {
                        return;
                    }
                    let chat = upload.chat;
                    app.media.resume(app, upload, lock, self.file_sender(chat));
                });
            }
        });
    }

    /// Stops what runs; with `wipe`, deletes this account's local database.
    fn stop(self, wipe: bool) {
        let Some(live) = self.live.try_update_value(Option::take).flatten() else {
            return;
        };
        live.calls.stop();
        live.socket.stop();
        live.messenger.stop(wipe);
    }
}
