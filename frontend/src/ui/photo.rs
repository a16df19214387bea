//! Choosing a profile photo: the picture is cropped to a square (with a
//! zoom) and scaled down in the browser, so what leaves is a small JPEG
//! and never the original file with its metadata (location, camera).

use crate::api;
use crate::media::image::{decode, jpeg};
use crate::state::AppState;
use crate::ui::form::FormError;
use crate::ui::modal::Modal;
use leptos::html::{Canvas, Input};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap};

/// Side of the uploaded square, in pixels: sharp at the largest avatar
/// size on a 3× screen, and far below the server's byte limit as JPEG.
const SIDE: u32 = 384;
const QUALITY: f64 = 0.85;

/// Draws the square of `image` seen at `zoom` (1 = the largest centred square).
fn draw(canvas: &HtmlCanvasElement, image: &ImageBitmap, zoom: f64) {
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let side = w.min(h) / zoom.max(1.0);
    let (sx, sy) = ((w - side) / 2.0, (h - side) / 2.0);
    let out = f64::from(SIDE);
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, out, out);
    let _ = ctx.draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
        image, sx, sy, side, side, 0.0, 0.0, out, out,
    );
}

/// Puts `next` in `picked`, releasing the decoded picture it replaces (a
/// camera photo decoded is tens of megabytes).
fn replace(picked: RwSignal<Option<ImageBitmap>, LocalStorage>, next: Option<ImageBitmap>) {
    let _ = picked.try_update(|now| {
        if let Some(old) = std::mem::replace(now, next) {
            old.close();
        }
    });
}

/// "Change photo" and "Remove photo", and the crop dialog in between.
#[component]
pub fn PhotoPicker() -> impl IntoView {
    let app = expect_context::<AppState>();
    let file_input = NodeRef::<Input>::new();
    let canvas = NodeRef::<Canvas>::new();
    let picked = RwSignal::new_local(None::<ImageBitmap>);
    let zoom = RwSignal::new(100u32);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let has_photo = move || {
        app.session
            .with(|s| s.as_ref().is_some_and(|s| s.profile.photo.is_some()))
    };

    let on_file = move |_| {
        let Some(file) = file_input
            .try_get_untracked()
            .flatten()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
        else {
            return;
        };
        error.set(None);
        spawn_local(async move {
            match decode(&file).await {
                Ok(image) => {
                    zoom.set(100);
                    replace(picked, Some(image));
                }
                Err(message) => error.set(Some(message)),
            }
            // The same file can be picked again after a cancel.
            if let Some(input) = file_input.try_get_untracked().flatten() {
                input.set_value("");
            }
        });
    };
    // Redraw whenever the picture or the zoom changes.
    Effect::new(move |_| {
        let z = f64::from(zoom.get()) / 100.0;
        picked.with(|image| {
            if let (Some(image), Some(canvas)) = (image, canvas.get()) {
                draw(&canvas, image, z);
            }
        });
    });
    let close = move || replace(picked, None);
    let save = move |_| {
        let Some(canvas) = canvas.try_get_untracked().flatten() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let result = match jpeg(&canvas, QUALITY).await {
                Ok(blob) => app
                    .authed(move |t| async move { api::set_photo(&t, &blob, "image/jpeg").await })
                    .await
                    .map_err(|f| f.message()),
                Err(message) => Err(message),
            };
            let _ = busy.try_set(false);
            match result {
                Ok(profile) => {
                    app.set_profile(profile);
                    replace(picked, None);
                }
                Err(message) => {
                    let _ = error.try_set(Some(message));
                    replace(picked, None);
                }
            }
        });
    };
    let remove = move |_| {
        busy.set(true);
        spawn_local(async move {
            let result = app
                .authed(|t| async move { api::remove_photo(&t).await })
                .await;
            let _ = busy.try_set(false);
            match result {
                Ok(profile) => app.set_profile(profile),
                Err(failure) => {
                    let _ = error.try_set(Some(failure.message()));
                }
            }
        });
    };

    view! {
        <div class="photo-actions">
            <label class="btn btn-secondary btn-small file-button">
                {move || if has_photo() { "Change photo" } else { "Add a photo" }}
                <input
                    node_ref=file_input
                    type="file"
                    accept="image/*"
                    class="sr-only"
                    data-testid="photo-file"
                    on:change=on_file
                />
            </label>
            <Show when=has_photo>
                <button
                    type="button"
                    class="btn btn-danger-ghost btn-small"
                    data-testid="photo-remove"
                    disabled=move || busy.get()
                    on:click=remove
                >
                    "Remove photo"
                </button>
            </Show>
        </div>
        <FormError error test_id="photo-error" />
        <Show when=move || picked.with(Option::is_some)>
            <Modal class="modal-card" test_id="photo-dialog" labelled_by="photo-title" on_close=close>
                <h2 id="photo-title">"Your profile photo"</h2>
                <canvas
                    node_ref=canvas
                    class="photo-crop"
                    width=SIDE
                    height=SIDE
                    role="img"
                    aria-label="Preview of the cropped photo"
                ></canvas>
                <label class="field-label" for="photo-zoom">"Zoom"</label>
                <input
                    id="photo-zoom"
                    type="range"
                    min="100"
                    max="300"
                    step="5"
                    data-testid="photo-zoom"
                    prop:value=move || zoom.get().to_string()
                    on:input=move |ev| {
                        if let Ok(z) = event_target_value(&ev).parse() {
                            zoom.set(z);
                        }
                    }
                />
                <div class="dialog-actions">
                    <button type="button" class="btn btn-secondary" on:click=move |_| close()>
                        "Cancel"
                    </button>
                    <button
                        type="button"
                        class="btn btn-primary"
                        data-testid="photo-save"
                        disabled=move || busy.get()
                        on:click=save
                    >
                        {move || if busy.get() { "Saving…" } else { "Use this photo" }}
                    </button>
                </div>
            </Modal>
        </Show>
    }
}
