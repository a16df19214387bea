//! What the service worker runs on a push, when no tab may be open: the
//! same wasm as the app, entered here instead of at `main`.
//!
//! It reads this device's queued messages with the fetch capability the
//! app kept (sealed) at subscription, and lets the core decrypt them from
//! a copy of the sealed Olm state ([`parley_client::notify::preview`]),
//! which is never written back: the app stays the only writer of its
//! sessions and decrypts the same messages for real when it next opens.
//! When anything is missing (signed out, no capability, offline), the push
//! still says who wrote and how many, from the push itself.

use super::FETCH_TOKEN;
use crate::api;
use crate::store::{Store, vault};
use parley_client::notify::{self, Alert, LOCAL_META, Local};
use parley_client::store as core_store;
use parley_protocol::ConversationId;
use parley_protocol::api::{ChatCount, PushNotice, UserCard};
use parley_protocol::frame::{Delivery, ServerFrame};
use parley_protocol::limits::MAX_PUSH_PENDING;
use wasm_bindgen::prelude::*;

/// The notifications to show for a push (JSON of [`PushNotice`] in, JSON
/// of `[Alert]` out), most recent chat first; empty when there is nothing
/// new for this device (the app already has it, or notifications are off).
#[wasm_bindgen(js_name = parleyPushAlerts)]
pub async fn push_alerts(notice: String) -> Result<String, JsError> {
    let notice: PushNotice =
        serde_json::from_str(&notice).map_err(|e| JsError::new(&format!("not a push: {e}")))?;
    let store = Store::open(notice.user)
        .await
        .map_err(|e| JsError::new(&e.to_string()))?;
    let alerts = alerts(&store, &notice).await;
    store.close();
    serde_json::to_string(&alerts).map_err(|e| JsError::new(&e.to_string()))
}

async fn alerts(store: &Store, notice: &PushNotice) -> Vec<Alert> {
    let local: Local = core_store::meta(store, LOCAL_META)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    if !local.on {
        return Vec::new();
    }
    let Some((mut shown, truncated)) = decrypted(store, notice, local.previews).await else {
        return from_notice(store, &notice.chats).await;
    };
    // Only the chats the push names: the server left muted ones out, and
    // older news in other chats was notified before.
    shown.retain(|a| notice.chats.iter().any(|c| c.chat == a.chat));
    // A named chat the queue's first page did not reach still says who and
    // how many (one the page reached but found nothing new in, the app has
    // already shown).
    if truncated {
        let missing: Vec<ChatCount> = notice
            .chats
            .iter()
            .filter(|c| !shown.iter().any(|a| a.chat == c.chat))
            .copied()
            .collect();
        shown.extend(from_notice(store, &missing).await);
    }
    shown
}

/// Previews from the queued messages themselves, and whether the queue had
/// more than one page; `None` when they cannot be read here.
async fn decrypted(
    store: &Store,
    notice: &PushNotice,
    previews: bool,
) -> Option<(Vec<Alert>, bool)> {
    let key = vault::existing_pickle_key(store).await.ok()??;
    let token = vault::get_sealed(store, FETCH_TOKEN).await.ok()??;
    let token = String::from_utf8(token).ok()?;
    let pending = api::push_pending(&token).await.ok()?;
    let truncated = pending.frames.len() >= MAX_PUSH_PENDING;
    let deliveries: Vec<Delivery> = pending
        .frames
        .iter()
        .filter_map(|frame| {
            let bytes = super::base64(frame)?;
            match ServerFrame::decode(&bytes).ok()? {
                ServerFrame::Deliver(d) => Some(d),
                _ => None,
            }
        })
        .collect();
    let alerts = notify::preview(
        store,
        &key,
        notice.user,
        notice.device,
        &deliveries,
        previews,
    )
    .await
    .ok()?;
    Some((alerts, truncated))
}

/// "New message" per chat, with the name this device knows.
async fn from_notice(store: &Store, chats: &[ChatCount]) -> Vec<Alert> {
    let cards: Vec<UserCard> = core_store::meta(store, parley_client::names::CARDS)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    chats
        .iter()
        .map(|c| {
            let name = match c.chat {
                ConversationId::Direct(user) => notify::name_of(&cards, user),
                ConversationId::Group(_) => "Group".to_owned(),
            };
            notify::alert(c.chat, &name, c.count, None, false)
        })
        .collect()
}
