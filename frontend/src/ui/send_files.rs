//! `send-files`: files chosen for a chat (the paperclip, a drop, a paste)
//! are shown before they go: a preview of each (pictures as themselves),
//! its name and size, a caption of its own, a remove; then Send (or
//! Enter) uploads each and sends it as a message with its caption once
//! it is up. Choosing more while it is open adds to it.

use crate::session::Session;
use crate::state::AppState;
use crate::ui::attachments::{doc_icon, files_of, size_text};
use crate::ui::icon_button::IconButton;
use crate::ui::icons::IconClose;
use crate::ui::modal::Modal;
use leptos::prelude::*;
use parley_client::attachment::Attachment;
use parley_protocol::ConversationId;
use std::cell::RefCell;
use std::rc::Rc;
use web_sys::{File, Url};

/// Longest caption typed here, in characters (a message's own limit
/// applies when it is sent; this keeps the field sane).
const MAX_CAPTION_CHARS: u32 = 1024;

/// A file chosen, with its caption.
#[derive(Debug, Clone)]
struct Chosen {
    id: u64,
    file: File,
    caption: RwSignal<String>,
    /// An object URL of the file when it is a picture (revoked when it goes).
    preview: Option<String>,
}

/// The files chosen for the open chat and not sent yet; given to the
/// composer and the chat's drop target.
#[derive(Debug, Clone, Copy)]
pub struct Choosing {
    files: RwSignal<Vec<Chosen>>,
    next: StoredValue<u64>,
}

impl Choosing {
    /// None chosen, given to the chat's parts (and its previews revoked
    /// when the chat goes).
    pub fn provide() -> Self {
        let choosing = Self {
            files: RwSignal::new(Vec::new()),
            next: StoredValue::new(0),
        };
        provide_context(choosing);
        on_cleanup(move || choosing.clear());
        choosing
    }

    /// Adds `files` to the ones shown before sending.
    pub fn choose(self, files: Vec<File>) {
        if files.is_empty() {
            return;
        }
        let chosen: Vec<Chosen> = files
            .into_iter()
            .map(|file| {
                let id = self.next.get_value();
                self.next.set_value(id + 1);
                let preview = file
                    .type_()
                    .starts_with("image/")
                    .then(|| Url::create_object_url_with_blob(&file).ok())
                    .flatten();
                Chosen {
                    id,
                    file,
                    caption: RwSignal::new(String::new()),
                    preview,
                }
            })
            .collect();
        self.files.update(|f| f.extend(chosen));
    }

    /// Whether files wait to be sent.
    pub fn open(self) -> bool {
        self.files.with(|f| !f.is_empty())
    }

    fn remove(self, id: u64) {
        self.files.update(|files| {
            files.retain(|c| {
                let gone = c.id == id;
                if let (true, Some(url)) = (gone, &c.preview) {
                    let _ = Url::revoke_object_url(url);
                }
                !gone
            });
        });
    }

    /// Drops them all.
    pub fn clear(self) {
        let _ = self.files.try_update(|files| {
            for url in files.iter().filter_map(|c| c.preview.as_ref()) {
                let _ = Url::revoke_object_url(url);
            }
            files.clear();
        });
    }

    /// The files with their captions, and none chosen any more.
    fn take(self) -> Vec<(File, String)> {
        let taken = self.files.with_untracked(|files| {
            files
                .iter()
                .map(|c| (c.file.clone(), c.caption.get_untracked().trim().to_owned()))
                .collect()
        });
        self.clear();
        taken
    }

    /// Files dragged onto a chat are chosen for it (unless `refused`, read
    /// when they come): whether some are over it now, and the handlers for
    /// `dragover` and `drop`.
    pub fn drop_zone(
        self,
        refused: impl Fn() -> bool + Copy + 'static,
    ) -> (
        RwSignal<bool>,
        impl Fn(web_sys::DragEvent) + Copy + 'static,
        impl Fn(web_sys::DragEvent) + Copy + 'static,
    ) {
        let dragging = RwSignal::new(false);
        let on_drag_over = move |ev: web_sys::DragEvent| {
            let Some(data) = ev.data_transfer() else {
                return;
            };
            if !data.types().includes(&"Files".into(), 0) {
                return;
            }
            // Always: without it the browser would open the file and leave
            // the app. Where nothing may be sent, the pointer says so.
            ev.prevent_default();
            if refused() {
                data.set_drop_effect("none");
            } else {
                dragging.set(true);
            }
        };
        let on_drop = move |ev: web_sys::DragEvent| {
            ev.prevent_default();
            dragging.set(false);
            if !refused() {
                self.choose(files_of(ev.data_transfer().and_then(|d| d.files())));
            }
        };
        (dragging, on_drag_over, on_drop)
    }
}

/// Files chosen together go out in the order they were chosen: they
/// upload at once, and each one's message waits for those before it
/// (sent, or failed and left out).
struct InOrder {
    session: Session,
    chat: ConversationId,
    slots: RefCell<Vec<Slot>>,
}

enum Slot {
    /// Still uploading.
    Uploading,
    /// Up, its message waiting for those before it.
    Ready(
        Box<(Attachment, String)>,
        futures::channel::oneshot::Sender<()>,
    ),
    /// Sent, or failed.
    Done,
}

impl InOrder {
    fn new(session: Session, chat: ConversationId, count: usize) -> Rc<Self> {
        Rc::new(Self {
            session,
            chat,
            slots: RefCell::new((0..count).map(|_| Slot::Uploading).collect()),
        })
    }

    /// File `at` is up (or failed: `None`); the future is done once its
    /// message is sent.
    fn settle(
        &self,
        at: usize,
        uploaded: Option<(Attachment, String)>,
    ) -> crate::state::media::Sent {
        let (sent, wait) = futures::channel::oneshot::channel();
        if let Some(slot) = self.slots.borrow_mut().get_mut(at) {
            *slot = match uploaded {
                Some(up) => Slot::Ready(Box::new(up), sent),
                None => Slot::Done,
            };
        }
        // Every message now free to go, in order.
        let ready: Vec<_> = {
            let mut slots = self.slots.borrow_mut();
            let mut ready = Vec::new();
            for slot in slots.iter_mut() {
                match std::mem::replace(slot, Slot::Done) {
                    Slot::Done => {}
                    Slot::Ready(up, sent) => ready.push((*up, sent)),
                    Slot::Uploading => {
                        *slot = Slot::Uploading;
                        break;
                    }
                }
            }
            ready
        };
        for ((file, caption), sent) in ready {
            let stored = self.session.send_file(self.chat, file, &caption);
            leptos::task::spawn_local(async move {
                stored.await;
                let _ = sent.send(());
            });
        }
        Box::pin(async move {
            let _ = wait.await;
        })
    }
}

/// The dialog of the files chosen for `chat`; `sent` runs when they go (the
/// chat then follows its newest message).
#[component]
pub fn SendFilesDialog(
    chat: ConversationId,
    choosing: Choosing,
    #[prop(into)] sent: Callback<()>,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let count = move || choosing.files.with(Vec::len);
    let send = move || {
        let files = choosing.take();
        let order = InOrder::new(session, chat, files.len());
        for (at, (file, caption)) in files.into_iter().enumerate() {
            let order = Rc::clone(&order);
            app.media
                .send(app, chat, file, None, caption, move |uploaded| {
                    order.settle(at, uploaded)
                });
        }
        sent.run(());
    };
    let title = move || match count() {
        1 => "Send 1 file".to_owned(),
        n => format!("Send {n} files"),
    };
    view! {
        <Modal class="modal-card send-files" test_id="send-files" labelled_by="send-files-title" on_close=move |()| choosing.clear()>
            <h2 id="send-files-title">{title}</h2>
            <ul class="chosen-files">
                <For each=move || choosing.files.get() key=|c| c.id let:chosen>
                    <ChosenRow chosen choosing send />
                </For>
            </ul>
            <div class="dialog-actions">
                <button type="button" class="btn btn-secondary" data-testid="send-files-cancel" on:click=move |_| choosing.clear()>
                    "Cancel"
                </button>
                <button type="button" class="btn btn-primary" data-testid="send-files-send" on:click=move |_| send()>
                    "Send"
                </button>
            </div>
        </Modal>
    }
}

/// One chosen file: its preview, name and size, caption and remove.
#[component]
fn ChosenRow(
    chosen: Chosen,
    choosing: Choosing,
    send: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let Chosen {
        id,
        file,
        caption,
        preview,
    } = chosen;
    // Long names end in an ellipsis (CSS).
    let shown_name = file.name();
    let icon = doc_icon(&shown_name);
    let preview = match preview {
        Some(url) => {
            view! { <img class="chosen-preview" src=url alt="" decoding="async" /> }.into_any()
        }
        None => view! { <span class="chosen-preview doc-icon" aria-hidden="true">{icon}</span> }
            .into_any(),
    };
    let label = format!("Caption for {shown_name}");
    view! {
        <li class="chosen-file" data-testid="chosen-file">
            {preview}
            <div class="chosen-text">
                <span class="chosen-name" data-testid="chosen-name">{shown_name.clone()}</span>
                <span class="chosen-size">{size_text(file.size() as u64)}</span>
                <input
                    type="text"
                    class="chosen-caption"
                    data-testid="file-caption"
                    placeholder="Add a caption"
                    // The dialog focuses the first: the first file's caption.
                    autofocus=true
                    aria-label=label
                    maxlength=MAX_CAPTION_CHARS
                    prop:value=move || caption.get()
                    on:input=move |ev| caption.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
                        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                            ev.prevent_default();
                            send();
                        }
                    }
                />
            </div>
            <IconButton
                class="icon-btn"
                test_id="chosen-remove"
                label="Remove file"
                on:click=move |_| choosing.remove(id)
            >
                <IconClose />
            </IconButton>
        </li>
    }
}
