//! Accounts: sign-up and sign-in (each makes a device for the browser that
//! asks), and profile changes. HTTP stays in `handlers`: what comes in here
//! is already read from the request, what goes out is data.

use super::store;
use crate::auth::{new_password, token};
use crate::devices::store as device_store;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::state::AppState;
use parley_protocol::UserId;
use parley_protocol::api::{Profile, RegisterRequest, Session, SignInRequest, UpdateProfile};
use parley_protocol::validate;
use std::net::IpAddr;

/// The browser signing up or in, as its request shows it.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The address rate limits are keyed on.
    pub ip: IpAddr,
    /// The label its new device gets.
    pub device_name: String,
    /// The known-browser cookie it carries, if any.
    pub cookie: Option<String>,
}

/// A new device's session.
#[derive(Debug)]
pub struct SignedIn {
    /// What the client keeps.
    pub session: Session,
    /// A known-browser cookie the browser should keep from now on: set when
    /// it had none and this one was stored.
    pub new_cookie: Option<String>,
}

/// Creates an account and its first device.
pub async fn register(
    state: &AppState,
    browser: Browser,
    request: RegisterRequest,
) -> ApiResult<SignedIn> {
    state.limits.auth_ip(browser.ip)?;
    let handle = validate::normalize_handle(&request.handle)?;
    // No account-wide limit: a sign-up reveals no secret, and attempts on
    // someone's handle must not use up their sign-in allowance.
    state.limits.auth_handle_from(&handle, browser.ip)?;
    let display_name = validate::display_name(&request.display_name)?;
    new_password::check(&request.password, &handle)?;

    let hash = state.passwords.hash(request.password).await?;
    let (token, token_hash) = token::generate()?;
    let mut tx = state.pool.begin().await?;
    let user = store::insert_user(&mut *tx, &handle, &display_name, &hash).await?;
    let device_id =
        device_store::insert_device(&mut *tx, user.user.id, &browser.device_name, &token_hash)
            .await?;
    tx.commit().await?;
    tracing::info!(user = %user.user.id, device = %device_id, "account created");
    let new_cookie = remember_browser(state, user.user.id, browser.cookie.as_deref()).await;
    Ok(SignedIn {
        session: Session {
            token,
            device_id,
            profile: user.into(),
        },
        new_cookie,
    })
}

/// Signs in as a new device. Every way of failing answers the same
/// [`ApiError::InvalidCredentials`], after the same work.
pub async fn sign_in(
    state: &AppState,
    browser: Browser,
    request: SignInRequest,
) -> ApiResult<SignedIn> {
    state.limits.auth_ip(browser.ip)?;
    // An unparseable handle cannot belong to an account: same answer as a wrong password.
    let handle =
        validate::normalize_handle(&request.handle).map_err(|_| ApiError::InvalidCredentials)?;
    state.limits.auth_handle_from(&handle, browser.ip)?;

    // Without a cookie the browser cannot be known: the account-wide limit
    // applies before anything is read.
    if browser.cookie.is_none() {
        state.limits.auth_handle_unknown_browser(&handle)?;
    }
    let found = store::credentials(&state.pool, &handle).await?;
    let known = match (&found, browser.cookie.as_deref()) {
        (Some((user, _)), Some(cookie)) => {
            store::is_known_browser(&state.pool, user.user.id, &token::digest(cookie)).await?
        }
        _ => false,
    };
    if browser.cookie.is_some() && !known {
        state.limits.auth_handle_unknown_browser(&handle)?;
    }
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let valid = state.passwords.verify(request.password, hash).await?;
    let user = user.filter(|_| valid).ok_or(ApiError::InvalidCredentials)?;
    let user_id = user.user.id;

    let (token, token_hash) = token::generate()?;
    // No event: a device counts for senders and watchers once it publishes
    // its keys (`keys::service::upload`), not before.
    let device_id =
        device_store::insert_device(&state.pool, user_id, &browser.device_name, &token_hash)
            .await?;
    tracing::info!(user = %user_id, device = %device_id, "signed in");
    let new_cookie = if known {
        None
    } else {
        remember_browser(state, user_id, browser.cookie.as_deref()).await
    };
    Ok(SignedIn {
        session: Session {
            token,
            device_id,
            profile: user.into(),
        },
        new_cookie,
    })
}

/// Remembers this browser for `user`: by the cookie it already has (a
/// browser keeps one cookie for every account signed in on it), or by a new
/// one, returned for the browser to keep. A failure costs only the
/// protection, never the sign-in: it is logged and no cookie is set.
async fn remember_browser(
    state: &AppState,
    user: UserId,
    existing: Option<&str>,
) -> Option<String> {
    let (cookie, fresh) = match existing {
        Some(cookie) => (cookie.to_owned(), false),
        None => match token::generate() {
            Ok((cookie, _)) => (cookie, true),
            Err(e) => {
                tracing::warn!(error = %e, "no known-browser cookie");
                return None;
            }
        },
    };
    if let Err(e) = store::remember_browser(&state.pool, user, &token::digest(&cookie)).await {
        tracing::warn!(error = %e, "browser not remembered");
        return None;
    }
    fresh.then_some(cookie)
}

/// Changes the caller's profile; a new presence setting is applied to the
/// people watching them before this returns. (Who may see the photo needs
/// nothing of the kind: it is decided at each request for it.)
pub async fn update_profile(
    state: &AppState,
    user: UserId,
    request: UpdateProfile,
) -> ApiResult<Profile> {
    let display_name = request
        .display_name
        .as_deref()
        .map(validate::display_name)
        .transpose()?;
    let about = request.about.as_deref().map(validate::about).transpose()?;
    let change = store::ProfileChange {
        display_name: display_name.as_deref(),
        about: about.as_deref(),
        read_receipts: request.read_receipts,
        last_seen: request.last_seen,
        photo_visibility: request.photo_visibility,
    };
    let privacy_changed = change.last_seen.is_some();
    let profile = store::update_profile(&state.pool, user, change).await?;
    if privacy_changed {
        state
            .events
            .publish(Event::PrivacyChanged { user })
            .settled()
            .await?;
    }
    Ok(profile.into())
}
