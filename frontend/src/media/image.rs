//! Pictures in the browser: decoding a file, and a canvas as a JPEG (for
//! profile photos and attachments' thumbnails alike).

use leptos::prelude::window;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, HtmlCanvasElement, ImageBitmap};

/// Decodes an image file (what the browser can show, it can decode).
pub async fn decode(file: &Blob) -> Result<ImageBitmap, String> {
    let promise = window()
        .create_image_bitmap_with_blob(file)
        .map_err(|_| "This file can't be read.".to_owned())?;
    JsFuture::from(promise)
        .await
        .map_err(|_| "That isn't a picture this browser can open.".to_owned())?
        .dyn_into()
        .map_err(|_| "That isn't a picture this browser can open.".to_owned())
}

/// The canvas as a JPEG at `quality` (0 to 1).
pub async fn jpeg(canvas: &HtmlCanvasElement, quality: f64) -> Result<Blob, String> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let failed = reject.clone();
        let done = Closure::once_into_js(move |blob: JsValue| {
            // `null` when the canvas could not be encoded.
            let _ = if blob.is_null() {
                reject.call0(&JsValue::NULL)
            } else {
                resolve.call1(&JsValue::NULL, &blob)
            };
        });
        let asked = canvas.to_blob_with_type_and_encoder_options(
            done.unchecked_ref(),
            "image/jpeg",
            &JsValue::from_f64(quality),
        );
        if asked.is_err() {
            let _ = failed.call0(&JsValue::NULL);
        }
    });
    JsFuture::from(promise)
        .await
        .map_err(|_| "The photo could not be made.".to_owned())?
        .dyn_into()
        .map_err(|_| "The photo could not be made.".to_owned())
}

/// A JPEG thumbnail as a `data:` URL (it is a few kilobytes).
pub fn data_url(jpeg: &[u8]) -> Option<String> {
    let latin1: String = jpeg.iter().map(|&b| char::from(b)).collect();
    window()
        .btoa(&latin1)
        .ok()
        .map(|b64| format!("data:image/jpeg;base64,{b64}"))
}
