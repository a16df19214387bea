//! The REST client: one async function per endpoint of `/api/v1`, each
//! returning `Result<T, ApiFailure>`.
//!
//! These functions are deliberately pure transport: they know nothing about
//! the app's state. Reacting to failures (a 401 signs this device out, a
//! network error shows the offline banner) happens in one place,
//! [`crate::state::AppState::authed`], so no call site can forget it.

mod failure;
mod http;

pub use failure::ApiFailure;

use http::{Method, send};
use parley_protocol::api::{
    ClaimRequest, ClaimedKey, Contact, Device, DeviceKeys, IceConfig, KeyCount, Profile,
    RegisterRequest, Session, SignInRequest, UpdateProfile, UploadKeys, UserCard,
};
use parley_protocol::{DeviceId, UserId};

/// `POST /accounts`: creates an account and signs this browser in.
pub async fn register(request: &RegisterRequest) -> Result<Session, ApiFailure> {
    send(Method::Post, "/accounts", None, Some(request)).await
}

/// `POST /sessions`: signs in, creating a new device.
pub async fn sign_in(request: &SignInRequest) -> Result<Session, ApiFailure> {
    send(Method::Post, "/sessions", None, Some(request)).await
}

/// `DELETE /sessions/current`: signs this device out on the server.
pub async fn sign_out(token: &str) -> Result<(), ApiFailure> {
    send(
        Method::Delete,
        "/sessions/current",
        Some(token),
        None::<&()>,
    )
    .await
}

/// `GET /me`: the caller's profile.
pub async fn me(token: &str) -> Result<Profile, ApiFailure> {
    send(Method::Get, "/me", Some(token), None::<&()>).await
}

/// `PATCH /me`: changes the display name and/or the "about" text.
pub async fn update_me(token: &str, update: &UpdateProfile) -> Result<Profile, ApiFailure> {
    send(Method::Patch, "/me", Some(token), Some(update)).await
}

/// `GET /devices`: the caller's signed-in devices.
pub async fn devices(token: &str) -> Result<Vec<Device>, ApiFailure> {
    send(Method::Get, "/devices", Some(token), None::<&()>).await
}

/// `DELETE /devices/{id}`: signs one of the caller's other devices out.
pub async fn revoke_device(token: &str, device: DeviceId) -> Result<(), ApiFailure> {
    let path = format!("/devices/{device}");
    send(Method::Delete, &path, Some(token), None::<&()>).await
}

/// `GET /users/lookup?handle=…`: finds a user by exact (normalised) handle.
pub async fn lookup_user(token: &str, handle: &str) -> Result<UserCard, ApiFailure> {
    // `+` of phone numbers must be escaped or it arrives as a space.
    let handle = String::from(js_sys::encode_uri_component(handle));
    let path = format!("/users/lookup?handle={handle}");
    send(Method::Get, &path, Some(token), None::<&()>).await
}

/// `GET /users/{id}`: the card of a known id (someone who wrote to us).
pub async fn user(token: &str, user: UserId) -> Result<UserCard, ApiFailure> {
    send(
        Method::Get,
        &format!("/users/{user}"),
        Some(token),
        None::<&()>,
    )
    .await
}

/// `GET /contacts`: the caller's contact list.
pub async fn contacts(token: &str) -> Result<Vec<Contact>, ApiFailure> {
    send(Method::Get, "/contacts", Some(token), None::<&()>).await
}

/// `PUT /contacts/{user_id}`: adds a contact (idempotent).
pub async fn add_contact(token: &str, user: UserId) -> Result<Contact, ApiFailure> {
    let path = format!("/contacts/{user}");
    send(Method::Put, &path, Some(token), None::<&()>).await
}

/// `DELETE /contacts/{user_id}`: removes a contact.
pub async fn remove_contact(token: &str, user: UserId) -> Result<(), ApiFailure> {
    let path = format!("/contacts/{user}");
    send(Method::Delete, &path, Some(token), None::<&()>).await
}

/// `PUT /keys`: publishes this device's identity, one-time and fallback keys.
pub async fn upload_keys(token: &str, keys: &UploadKeys) -> Result<KeyCount, ApiFailure> {
    send(Method::Put, "/keys", Some(token), Some(keys)).await
}

/// `GET /keys/count`: how many of this device's one-time keys are left.
pub async fn key_count(token: &str) -> Result<KeyCount, ApiFailure> {
    send(Method::Get, "/keys/count", Some(token), None::<&()>).await
}

/// `POST /keys/claim`: one key per device to start a session with.
pub async fn claim_keys(
    token: &str,
    devices: Vec<DeviceId>,
) -> Result<Vec<ClaimedKey>, ApiFailure> {
    send(
        Method::Post,
        "/keys/claim",
        Some(token),
        Some(&ClaimRequest { devices }),
    )
    .await
}

/// `GET /users/{id}/keys`: the identity keys of all of a user's devices.
pub async fn user_keys(token: &str, user: UserId) -> Result<Vec<DeviceKeys>, ApiFailure> {
    let path = format!("/users/{user}/keys");
    send(Method::Get, &path, Some(token), None::<&()>).await
}

/// `GET /calls/ice`: STUN/TURN servers and short-lived TURN credentials.
pub async fn ice(token: &str) -> Result<IceConfig, ApiFailure> {
    send(Method::Get, "/calls/ice", Some(token), None::<&()>).await
}
