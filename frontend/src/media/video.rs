//! Videos in the browser: what a chosen video file is (its dimensions, its
//! length and a frame for its thumbnail), read by the browser's own player
//! off-screen. Nothing of it is played or kept.

use futures::FutureExt;
use leptos::prelude::{document, window};
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, HtmlVideoElement, ImageBitmap, Url};

/// The longest the browser may take to read a video's header or a frame:
/// past it the file goes as a document (a broken or exotic file must not
/// hold its upload forever).
const READ_TIME: Duration = Duration::from_secs(15);
/// Where the thumbnail's frame is taken, at most (the first frame is often
/// black).
const FRAME_AT_SECONDS: f64 = 1.0;

/// A video file, as the browser reads it.
pub struct Described {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// Length in milliseconds.
    pub duration_ms: u32,
    /// A frame of it, for the thumbnail (when the browser gave one).
    pub frame: Option<ImageBitmap>,
}

/// Reads `file` as a video; `Err` when the browser cannot play it.
pub async fn describe(file: &File) -> Result<Described, String> {
    let url = Url::create_object_url_with_blob(file).map_err(|_| "unreadable".to_owned())?;
    let described = read(&url).await;
    let _ = Url::revoke_object_url(&url);
    described
}

async fn read(url: &str) -> Result<Described, String> {
    let video: HtmlVideoElement = document()
        .create_element("video")
        .map_err(|_| "no player".to_owned())?
        .unchecked_into();
    video.set_muted(true);
    video.set_preload("auto");
    video.set_src(url);
    let waited = until(&video, "loadeddata").await;
    if waited.is_err() {
        video.set_src("");
        return Err("not a video this browser can play".to_owned());
    }
    // A recording made by a browser (MediaRecorder's WebM) names no length:
    // seeking past the end makes the player find it.
    if !video.duration().is_finite() {
        video.set_current_time(1e9);
        let _ = until(&video, "seeked").await;
    }
    let duration = video.duration();
    let at = if duration.is_finite() {
        (duration / 2.0).min(FRAME_AT_SECONDS)
    } else {
        0.0
    };
    video.set_current_time(at);
    let frame = match until(&video, "seeked").await {
        Ok(()) => match window().create_image_bitmap_with_html_video_element(&video) {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|b| b.dyn_into::<ImageBitmap>().ok()),
            Err(_) => None,
        },
        Err(()) => None,
    };
    let described = Described {
        width: video.video_width(),
        height: video.video_height(),
        duration_ms: if duration.is_finite() {
            (duration * 1000.0).round().clamp(0.0, f64::from(u32::MAX)) as u32
        } else {
            0
        },
        frame,
    };
    // Lets go of the file at once.
    video.set_src("");
    Ok(described)
}

/// Waits for `event` on `video`: `Err` on the player's `error`, or after
/// [`READ_TIME`].
async fn until(video: &HtmlVideoElement, event: &str) -> Result<(), ()> {
    let (tx, rx) = futures::channel::oneshot::channel::<bool>();
    let tx = std::rc::Rc::new(std::cell::RefCell::new(Some(tx)));
    let answer = |ok: bool| {
        let tx = std::rc::Rc::clone(&tx);
        Closure::<dyn FnMut()>::new(move || {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(ok);
            }
        })
    };
    let on_event = answer(true);
    let on_error = answer(false);
    let _ = video.add_event_listener_with_callback(event, on_event.as_ref().unchecked_ref());
    let _ = video.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    let waited = futures::select! {
        ok = rx.fuse() => ok.unwrap_or(false),
        () = crate::scope::after(READ_TIME).fuse() => false,
    };
    let _ = video.remove_event_listener_with_callback(event, on_event.as_ref().unchecked_ref());
    let _ = video.remove_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    if waited { Ok(()) } else { Err(()) }
}
