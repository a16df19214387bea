//! Camera and microphone: opening them, and saying clearly why not.

use thiserror::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DomException, MediaStream, MediaStreamConstraints, MediaStreamTrack};

/// Why camera or microphone could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MediaError {
    /// The person (or the browser's settings) refused access.
    #[error(
        "Parley isn't allowed to use your {0}. Allow it in your browser's site settings (the icon left of the address), then try again."
    )]
    Denied(&'static str),
    /// No such device.
    #[error("No {0} was found. Connect one and try again.")]
    Missing(&'static str),
    /// Another app holds the device.
    #[error("Your {0} is in use by another app or could not be started.")]
    Busy(&'static str),
    /// `navigator.mediaDevices` only exists on secure origins.
    #[error("Calls need a secure connection: open Parley over HTTPS (or on localhost).")]
    Insecure,
}

/// Opens the microphone, and the camera when `video`. A missing camera is
/// not fatal: the call goes on with audio (`Ok` with no video track).
pub async fn open(video: bool) -> Result<MediaStream, MediaError> {
    match request(true, video).await {
        Ok(stream) => Ok(stream),
        Err(MediaError::Missing(_) | MediaError::Busy(_)) if video => {
            // Try the microphone alone: a call without a picture still works.
            request(true, false).await
        }
        Err(err) => Err(err),
    }
}

/// Opens the microphone alone (a voice message).
pub async fn microphone() -> Result<MediaStream, MediaError> {
    request(true, false).await
}

/// Opens the camera alone (video switched on during a call).
pub async fn camera() -> Result<MediaStreamTrack, MediaError> {
    let stream = request(false, true).await?;
    stream
        .get_video_tracks()
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| MediaError::Missing("camera"))
}

async fn request(audio: bool, video: bool) -> Result<MediaStream, MediaError> {
    let what = match (audio, video) {
        (true, true) => "camera and microphone",
        (true, false) => "microphone",
        _ => "camera",
    };
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or(MediaError::Insecure)?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&JsValue::from_bool(audio));
    constraints.set_video(&JsValue::from_bool(video));
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| MediaError::Insecure)?;
    match JsFuture::from(promise).await {
        Ok(stream) => stream
            .dyn_into::<MediaStream>()
            .map_err(|_| MediaError::Busy(what)),
        Err(err) => Err(classify(&err, what)),
    }
}

fn classify(err: &JsValue, what: &'static str) -> MediaError {
    let name = err
        .dyn_ref::<DomException>()
        .map(DomException::name)
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => MediaError::Denied(what),
        "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => {
            MediaError::Missing(what)
        }
        _ => MediaError::Busy(what),
    }
}

/// Stops every track (the camera light goes off).
pub fn stop(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
            track.stop();
        }
    }
}

/// The stream's tracks of one kind (`"audio"` or `"video"`).
pub fn tracks(stream: &MediaStream, kind: &str) -> Vec<MediaStreamTrack> {
    let list = if kind == "audio" {
        stream.get_audio_tracks()
    } else {
        stream.get_video_tracks()
    };
    list.iter()
        .filter_map(|t| t.dyn_into::<MediaStreamTrack>().ok())
        .collect()
}
