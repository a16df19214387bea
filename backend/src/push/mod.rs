//! Notifications: Web Push to devices with no open socket, and the
//! account's settings that decide what notifies (do-not-disturb, muted
//! chats). See "Notifications" in `docs/architecture.md`.
//!
//! The server never learns what a message says: a push names the device,
//! the chats and how many messages, and the device's service worker reads
//! the (end-to-end encrypted) messages with a capability of its own and
//! decrypts them itself.

pub mod sender;
pub mod store;
pub mod subscription;
pub mod vapid;

use crate::auth::client_ip::client_ip;
use crate::auth::{Caller, caller::bearer, token};
use crate::delivery::{now_millis, queue};
use crate::error::{ApiError, ApiResult};
use crate::routing::mount;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use parley_protocol::DeviceId;
use parley_protocol::api::{
    ChatMute, DoNotDisturb, Mute, NotificationSettings, PendingMessages, PushKey, PushSubscribed,
    PushSubscription,
};
use parley_protocol::endpoint::{
    MuteChat, Notifications, PushPending, PushServerKey, SetDoNotDisturb, Subscribe, Unsubscribe,
};
use parley_protocol::limits::{MAX_MUTES, MAX_PUSH_PENDING, MAX_TOKEN_CHARS};
use std::future::Future;
use std::pin::Pin;
use subscription::Refused;

/// The longest a mute may be set for (after that, "always" is meant).
const MAX_MUTE_MS: i64 = 10 * 365 * 24 * 3600 * 1000;

/// Mounts subscriptions, the service worker's read and the settings.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<PushServerKey, _, _>(cfg, server_key);
    mount::<Subscribe, _, _>(cfg, subscribe);
    mount::<Unsubscribe, _, _>(cfg, unsubscribe);
    mount::<PushPending, _, _>(cfg, pending);
    mount::<Notifications, _, _>(cfg, settings);
    mount::<MuteChat, _, _>(cfg, mute);
    mount::<SetDoNotDisturb, _, _>(cfg, do_not_disturb);
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::NotAllowed => {
                Self::Forbidden("this server does not send to that push service")
            }
            other => Self::BadRequest(other.to_string()),
        }
    }
}

/// `GET /push/key`.
async fn server_key(_caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<PushKey>> {
    let vapid = state.push.vapid().await.map_err(|err| {
        tracing::error!(error = %err, "no VAPID key");
        ApiError::Internal("no VAPID key")
    })?;
    Ok(web::Json(PushKey {
        public_key: vapid.public.clone(),
    }))
}

/// `PUT /push/subscription`.
async fn subscribe(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<PushSubscription>,
) -> ApiResult<web::Json<PushSubscribed>> {
    state.limits.notification_change(caller.user_id)?;
    let target = subscription::check(&body, &state.config.push)?;
    let (fetch_token, hash) = token::generate()?;
    store::subscribe(&state.pool, caller.device_id, &target, &hash).await?;
    Ok(web::Json(PushSubscribed { fetch_token }))
}

/// `DELETE /push/subscription`.
async fn unsubscribe(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    store::unsubscribe(&state.pool, caller.device_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The device whose service worker asks (`Authorization: Bearer <fetch token>`).
#[derive(Debug, Clone, Copy)]
pub struct PushReader {
    /// The device.
    pub device_id: DeviceId,
}

impl FromRequest for PushReader {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let ip = state.as_ref().map(|state| {
            client_ip(
                req.peer_addr().map(|a| a.ip()),
                req.headers(),
                &state.config.trusted_proxies,
            )
        });
        Box::pin(async move {
            let state = state.ok_or(ApiError::Internal("app state missing"))?;
            // Guessing costs a query per try: bounded per address first.
            if let Some(ip) = ip {
                state.limits.pending_from(ip)?;
            }
            let token = token
                .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_CHARS)
                .ok_or(ApiError::Unauthorized)?;
            let device_id = store::device_of_fetch(&state.pool, &token::digest(&token))
                .await?
                .ok_or(ApiError::Unauthorized)?;
            Ok(Self { device_id })
        })
    }
}

/// `GET /push/pending`: the device's queued messages, oldest first.
async fn pending(
    reader: PushReader,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<PendingMessages>> {
    state.limits.pending_read(reader.device_id)?;
    #[allow(clippy::cast_possible_wrap)]
    let rows = queue::page(&state.pool, reader.device_id, 0, MAX_PUSH_PENDING as i64).await?;
    let frames = rows
        .into_iter()
        .filter(|row| row.kind == queue::RowKind::Message as i16)
        .map(|row| STANDARD.encode(row.frame))
        .collect();
    Ok(web::Json(PendingMessages { frames }))
}

/// `GET /notifications`.
async fn settings(
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<NotificationSettings>> {
    Ok(web::Json(
        store::settings(&state.pool, caller.user_id, now_millis()).await?,
    ))
}

/// `PUT /notifications/mutes`.
async fn mute(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<ChatMute>,
) -> ApiResult<web::Json<NotificationSettings>> {
    state.limits.notification_change(caller.user_id)?;
    let now = now_millis();
    let ChatMute { chat, mute } = body.into_inner();
    let until = match mute {
        Mute::Off => None,
        Mute::Until(until) if until <= now => None,
        Mute::Until(until) if until - now > MAX_MUTE_MS => {
            return Err(ApiError::BadRequest(
                "a mute ends within ten years; use always".into(),
            ));
        }
        Mute::Until(until) => Some(Some(until)),
        Mute::Always => Some(None),
    };
    match until {
        None => store::unmute(&state.pool, caller.user_id, chat).await?,
        Some(until) => {
            #[allow(clippy::cast_possible_wrap)]
            let max = MAX_MUTES as i64;
            if !store::mute(&state.pool, caller.user_id, chat, until, now, max).await? {
                return Err(ApiError::LimitReached("at most 1000 chats can be muted"));
            }
        }
    }
    Ok(web::Json(
        store::settings(&state.pool, caller.user_id, now).await?,
    ))
}

/// `PUT /notifications/dnd`.
async fn do_not_disturb(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<DoNotDisturb>,
) -> ApiResult<web::Json<NotificationSettings>> {
    state.limits.notification_change(caller.user_id)?;
    store::set_dnd(&state.pool, caller.user_id, body.on).await?;
    Ok(web::Json(
        store::settings(&state.pool, caller.user_id, now_millis()).await?,
    ))
}
