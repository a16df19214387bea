//! Profile photos on screen: fetched with the device's token (an `<img>`
//! cannot send it), kept as object URLs per person and version, and
//! released when a newer version replaces them or the session ends.

use crate::api;
use crate::state::AppState;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_protocol::UserId;
use parley_protocol::api::PhotoVersion;
use std::collections::{HashMap, HashSet};

/// The photos fetched so far.
#[derive(Debug, Clone, Copy)]
pub struct Photos {
    /// Person → the version shown and its object URL.
    shown: RwSignal<HashMap<UserId, (PhotoVersion, String)>>,
    /// Fetches under way (or failed: not retried until the version changes).
    asked: StoredValue<HashSet<(UserId, PhotoVersion)>>,
    /// Bumped by `clear`: a fetch from before then is dropped on arrival.
    generation: StoredValue<u64>,
}

impl Photos {
    /// None yet.
    pub fn new() -> Self {
        Self {
            shown: RwSignal::new(HashMap::new()),
            asked: StoredValue::new(HashSet::new()),
            generation: StoredValue::new(0),
        }
    }

    /// The object URL of `user`'s photo at `version`, fetching it the first
    /// time; `None` until it is here (the caller shows initials meanwhile).
    pub fn url(self, app: AppState, user: UserId, version: Option<PhotoVersion>) -> Option<String> {
        let version = version?;
        let current = self.shown.with(|shown| {
            shown
                .get(&user)
                .filter(|(v, _)| *v == version)
                .map(|(_, url)| url.clone())
        });
        if current.is_some() {
            return current;
        }
        let first = self
            .asked
            .try_update_value(|asked| asked.insert((user, version.clone())))
            .unwrap_or(false);
        if first {
            let generation = self.generation.get_value();
            spawn_local(async move {
                let wanted = version.clone();
                let fetched = app
                    .authed(move |t| async move { api::photo(&t, user, wanted).await })
                    .await;
                let blob = match fetched {
                    Ok(blob) => blob,
                    // Offline or a server hiccup: ask again next time it is drawn
                    // (a 404, hidden or gone, is final for this version).
                    Err(failure) => {
                        if failure.code() != Some(parley_protocol::ErrorCode::NotFound) {
                            self.asked
                                .try_update_value(|asked| asked.remove(&(user, version)));
                        }
                        return;
                    }
                };
                // Signed out (or in as someone else) meanwhile: not theirs.
                if self.generation.get_value() != generation {
                    return;
                }
                let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
                    return;
                };
                let _ = self.shown.try_update(|shown| {
                    if let Some((_, old)) = shown.insert(user, (version, url)) {
                        let _ = web_sys::Url::revoke_object_url(&old);
                    }
                });
            });
        }
        None
    }

    /// Forgets every photo (signing out).
    pub fn clear(self) {
        self.shown.update(|shown| {
            for (_, url) in shown.values() {
                let _ = web_sys::Url::revoke_object_url(url);
            }
            shown.clear();
        });
        self.asked.update_value(HashSet::clear);
        self.generation.update_value(|g| *g += 1);
    }
}

impl Default for Photos {
    fn default() -> Self {
        Self::new()
    }
}
