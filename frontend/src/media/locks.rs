//! One tab at a time per upload: the browser's Web Locks, shared by every
//! tab of this origin. Each tab resumes the uploads a reload cut off; two
//! tabs open at once must not both resume one (each would send its
//! message). The tab uploading a file holds its lock; another tab waits
//! for it and resumes the upload only if it is still unfinished then (the
//! first tab was closed mid-way).

use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A held lock, released when dropped.
pub struct Held {
    release: Option<Function>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}

/// Takes the lock `name`, waiting while another tab holds it. Without Web
/// Locks (an old browser) every caller gets it at once: one tab is what
/// such a browser mostly runs anyway.
pub async fn take(name: &str) -> Held {
    let Some((locks, request)) = manager() else {
        return Held { release: None };
    };
    // `request` calls back with the lock and holds it until the promise
    // the callback returns settles; that promise's resolve is the release.
    let (granted_tx, granted) = futures::channel::oneshot::channel::<Function>();
    let granted_tx = Rc::new(RefCell::new(Some(granted_tx)));
    let unanswered = Rc::clone(&granted_tx);
    let on_grant = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        Promise::new(&mut |resolve, _reject| {
            if let Some(tx) = granted_tx.borrow_mut().take() {
                // Nobody waits any more: let go at once.
                if let Err(resolve) = tx.send(resolve) {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            }
        })
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &"exclusive".into());
    let asked = request.call3(&locks, &JsValue::from_str(name), &options, &on_grant);
    match asked {
        Ok(done) => {
            // The request's own promise settles on release, or at once when
            // the browser refuses the request (a document being unloaded):
            // then nobody was granted, and the wait below ends unlocked.
            if let Ok(done) = done.dyn_into::<Promise>() {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = JsFuture::from(done).await;
                    unanswered.borrow_mut().take();
                });
            }
            match granted.await {
                Ok(release) => Held {
                    release: Some(release),
                },
                Err(_) => Held { release: None },
            }
        }
        Err(_) => Held { release: None },
    }
}

/// `navigator.locks` and its `request`, when the browser has them.
fn manager() -> Option<(JsValue, Function)> {
    let navigator = leptos::prelude::window().navigator();
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    if locks.is_undefined() || locks.is_null() {
        return None;
    }
    let request = Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    Some((locks, request))
}

/// The lock of the upload of `blob`.
pub fn upload(blob: parley_protocol::BlobId) -> String {
    format!("parley-upload-{blob}")
}
