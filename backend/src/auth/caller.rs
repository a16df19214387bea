//! The authenticated device behind a request (`Authorization: Bearer <token>`).

use crate::auth::token;
use crate::devices::store as device_store;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use parley_protocol::limits::MAX_TOKEN_CHARS;
use parley_protocol::{DeviceId, UserId};
use sqlx::PgPool;
use std::future::Future;
use std::pin::Pin;

/// A request's signed-in device. Taking it as a handler argument is what makes
/// an endpoint authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The account.
    pub user_id: UserId,
    /// The device the token belongs to.
    pub device_id: DeviceId,
}

/// Looks a token up; `None` when unknown or revoked. Marks the device active
/// at most once a minute so that busy clients do not write on every request.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<Caller>, sqlx::Error> {
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return Ok(None);
    }
    let Some((device_id, user_id, stale)) =
        device_store::by_token(pool, &token::digest(token)).await?
    else {
        return Ok(None);
    };
    if stale {
        device_store::mark_active(pool, device_id).await?;
    }
    Ok(Some(Caller { user_id, device_id }))
}

pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("app state missing"))?;
            let token = token.ok_or(ApiError::Unauthorized)?;
            authenticate(&state.pool, &token)
                .await?
                .ok_or(ApiError::Unauthorized)
        })
    }
}
