//! Files in a chat: the uploads under way above the composer, and a file
//! in its bubble (a photo or video from its thumbnail to the real thing,
//! opening in the viewer; a voice message's player; a document with its
//! name, size and a download). Choosing files to send is `send_files`'s.

use crate::media::image;
use crate::session::Session;
use crate::state::AppState;
use crate::state::media::Held;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::IconClose;
use crate::ui::viewer::Viewing;
use crate::ui::voice::{VoicePlayer, clock};
use leptos::prelude::*;
use parley_client::attachment::{Attachment, Kind};
use parley_protocol::{ConversationId, MessageId};
use web_sys::{File, FileList};

/// The files of a `FileList` (an `<input type=file>`, a drop, a paste).
pub fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// "12 KB", "3.4 MB".
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The uploads to `chat` under way, with their progress and a cancel.
#[component]
pub fn Uploads(chat: ConversationId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let mine = move || {
        app.media.uploads.with(|u| {
            u.iter()
                .filter(|u| u.chat == chat)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || !mine().is_empty()>
            <ul class="uploads" data-testid="uploads" aria-label="Files being sent">
                <For each=mine key=|u| (u.id, u.error.is_some()) let:upload>
                    <li class="upload" data-testid="upload">
                        <span class="upload-name">{upload.name.clone()}</span>
                        {match upload.error.clone() {
                            Some(error) => view! {
                                <span class="upload-error" role="alert" data-testid="upload-error">
                                    {error}
                                </span>
                                <button
                                    type="button"
                                    class="download-btn"
                                    data-testid="upload-retry"
                                    on:click=move |_| {
                                        app.media.retry(app, upload.id, session.file_sender(upload.chat));
                                    }
                                >
                                    "Retry"
                                </button>
                            }
                            .into_any(),
                            None => {
                                // Read here: a tick of progress redraws the bar, not the row.
                                let id = upload.id;
                                let share = move || {
                                    app.media.uploads.with(|u| {
                                        u.iter().find(|u| u.id == id).map_or(1.0, |u| u.progress)
                                    })
                                };
                                view! {
                                    <progress max="1" prop:value=share data-testid="upload-progress"></progress>
                                    <span class="upload-percent">
                                        {move || format!("{:.0} %", share() * 100.0)}
                                    </span>
                                }
                                .into_any()
                            }
                        }}
                        <IconButton
                            class="icon-btn"
                            test_id="upload-cancel"
                            label="Cancel"
                            on:click=move |_| app.media.cancel(app, upload.id)
                        >
                            <IconClose />
                        </IconButton>
                    </li>
                </For>
            </ul>
        </Show>
    }
}

/// A file in its bubble, in message `message`.
#[component]
pub fn AttachmentView(file: Attachment, message: MessageId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let viewing = use_context::<Viewing>();
    // What this browser fetches without a click (by kind, network and the
    // size the sender claims); the rest waits for one.
    if app.media.fetches_itself(&file) {
        app.media.fetch(app, file.clone(), false);
    }
    // This file's state only: another file's progress redraws nothing here.
    let held = Memo::new({
        let file = file.clone();
        move |_| app.media.held(&file)
    });
    let held = move || held.get();
    let name = file.name.clone();
    let fetch = {
        let file = file.clone();
        move || app.media.fetch(app, file.clone(), true)
    };
    let stop = {
        let file = file.clone();
        move || app.media.stop_fetch(&file)
    };
    let view_it = move || {
        if let Some(viewing) = viewing {
            viewing.0.set(Some(message));
        }
    };
    match file.kind.clone() {
        Kind::Photo { width, height } => {
            let thumb = file.thumbnail.as_deref().and_then(image::data_url);
            let ratio = format!("aspect-ratio: {} / {}", width.max(1), height.max(1));
            let fetch = fetch.clone();
            view! {
                <figure class="attachment photo" data-testid="attachment-photo" style=ratio>
                    {move || match held() {
                        Some(Held::Ready(url)) => view! {
                            <button type="button" class="media-open" title="Open" aria-label="Open photo" data-testid="photo-open" on:click=move |_| view_it()>
                                <img src=url alt=name.clone() data-testid="photo-full" />
                            </button>
                        }
                        .into_any(),
                        other => {
                            let fetch = fetch.clone();
                            view! {
                                <img class="thumb" src=thumb.clone() alt=name.clone() data-testid="photo-thumb" />
                                {state_overlay(other, fetch, stop.clone())}
                            }
                            .into_any()
                        }
                    }}
                </figure>
            }
            .into_any()
        }
        Kind::Video {
            width,
            height,
            duration_ms,
        } => {
            let thumb = file.thumbnail.as_deref().and_then(image::data_url);
            let ratio = format!("aspect-ratio: {} / {}", width.max(1), height.max(1));
            let meta = format!(
                "{} · {}",
                clock(f64::from(duration_ms)),
                size_text(file.size)
            );
            let fetch = fetch.clone();
            view! {
                <figure class="attachment photo video" data-testid="attachment-video" style=ratio>
                    {move || match held() {
                        Some(Held::Ready(url)) => view! {
                            <video controls playsinline preload="metadata" poster=thumb.clone() src=url data-testid="video"></video>
                            <button type="button" class="media-expand" aria-label="Open in viewer" title="Open in viewer" data-testid="video-open" on:click=move |_| view_it()>
                                "⤢"
                            </button>
                        }
                        .into_any(),
                        other => {
                            let fetch = fetch.clone();
                            view! {
                                <img class="thumb" src=thumb.clone() alt=name.clone() data-testid="video-thumb" />
                                <span class="video-meta" aria-hidden="true">"▶ "{meta.clone()}</span>
                                {state_overlay(other, fetch, stop.clone())}
                            }
                            .into_any()
                        }
                    }}
                </figure>
            }
            .into_any()
        }
        Kind::Voice {
            duration_ms,
            waveform,
        } => view! {
            <div class="attachment voice" data-testid="attachment-voice">
                {move || match held() {
                    Some(Held::Ready(url)) => {
                        let waveform = waveform.clone();
                        view! { <VoicePlayer url waveform duration_ms /> }.into_any()
                    }
                    other => {
                        let fetch = fetch.clone();
                        view! {
                            <span class="doc-icon" aria-hidden="true">"🎤"</span>
                            <span class="voice-time">{clock(f64::from(duration_ms))}</span>
                            {state_overlay(other, fetch, stop.clone())}
                        }
                        .into_any()
                    }
                }}
            </div>
        }
        .into_any(),
        Kind::Document => {
            let meta = format!(
                "{} · {}",
                size_text(file.size),
                file.name
                    .rsplit_once('.')
                    .map(|(_, ext)| ext.to_uppercase())
                    .unwrap_or_else(|| "FILE".to_owned())
            );
            let label = name.clone();
            view! {
                <div class="attachment document" data-testid="attachment-document">
                    <span class="doc-icon" aria-hidden="true">{doc_icon(&file.name)}</span>
                    <span class="doc-text">
                        <span class="doc-name" data-testid="document-name">{label}</span>
                        <span class="doc-meta">{meta}</span>
                    </span>
                    {move || match held() {
                        Some(Held::Ready(url)) => view! {
                            <a class="doc-save" href=url download=name.clone() data-testid="document-save">
                                "Save"
                            </a>
                        }
                        .into_any(),
                        other => {
                            let fetch = fetch.clone();
                            state_overlay(other, fetch, stop.clone()).into_any()
                        }
                    }}
                </div>
            }
            .into_any()
        }
    }
}

/// A document's icon, by its name's extension (the type the sender
/// claims decides nothing here).
pub fn doc_icon(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "📕",
        "zip" | "rar" | "7z" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "zst" => "🗜️",
        "xls" | "xlsx" | "ods" | "csv" | "tsv" | "numbers" => "📊",
        "ppt" | "pptx" | "odp" | "key" => "📽️",
        "doc" | "docx" | "odt" | "rtf" | "txt" | "md" | "pages" => "📝",
        "mp3" | "m4a" | "ogg" | "oga" | "opus" | "wav" | "flac" | "aac" => "🎵",
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "avif" | "heic" | "svg" | "bmp" | "tiff" => "🖼️",
        "mp4" | "mov" | "webm" | "mkv" | "avi" | "m4v" => "🎞️",
        _ => "📄",
    }
}

/// A file not here: a download button, its progress with a stop, or why
/// it failed with a retry.
fn state_overlay(
    held: Option<Held>,
    fetch: impl Fn() + Clone + 'static,
    stop: impl Fn() + 'static,
) -> impl IntoView {
    match held {
        Some(Held::Fetching(share)) => view! {
            <span class="transfer" data-testid="download-progress">
                <progress max="1" value=share></progress>
                {format!("{:.0} %", share * 100.0)}
                <button type="button" class="transfer-stop" data-testid="download-cancel" aria-label="Cancel download" title="Cancel download" on:click=move |_| stop()>
                    "✕"
                </button>
            </span>
        }
        .into_any(),
        Some(Held::Failed(error)) => view! {
            <span class="transfer failed">
                <span role="alert" data-testid="download-error">{error}</span>
                <button type="button" class="download-btn" data-testid="download-retry" on:click=move |_| fetch()>
                    "Retry"
                </button>
            </span>
        }
        .into_any(),
        _ => view! {
            <button type="button" class="download-btn" data-testid="download" on:click=move |_| fetch()>
                "Download"
            </button>
        }
        .into_any(),
    }
}
