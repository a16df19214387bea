//! The REST client: one async function per endpoint of `/api/v1` (declared
//! in `parley_protocol::endpoint`), each returning `Result<T, ApiFailure>`.
//!
//! These functions are deliberately pure transport: they know nothing about
//! the app's state. Reacting to failures (a 401 signs this device out, a
//! network error shows the offline banner) happens in one place,
//! `AppState::authed` in the state module, so no call site can forget it.

mod failure;
mod http;

pub use failure::ApiFailure;

use http::{call, download, get_bytes, put_bytes, upload};
use parley_protocol::api::{
    BlobReaders, BlobUpload, ChatMute, ClaimRequest, ClaimedKey, Contact, Device, DeviceKeys,
    DoNotDisturb, IceConfig, KeyCount, NewBlob, NotificationSettings, PendingMessages,
    PhotoVersion, Profile, PushKey, PushSubscribed, PushSubscription, RegisterRequest, Session,
    SignInRequest, UpdateProfile, UploadKeys, UserCard,
};
use parley_protocol::endpoint as e;
use parley_protocol::group::{GroupHead, GroupRecord, SignedGroupEvent};
use parley_protocol::{BlobId, DeviceId, GroupId, UserId};

/// Creates an account and signs this browser in.
pub async fn register(request: &RegisterRequest) -> Result<Session, ApiFailure> {
    call::<e::Register>(None, &(), Some(request)).await
}

/// Signs in, creating a new device.
pub async fn sign_in(request: &SignInRequest) -> Result<Session, ApiFailure> {
    call::<e::SignIn>(None, &(), Some(request)).await
}

/// Signs this device out on the server.
pub async fn sign_out(token: &str) -> Result<(), ApiFailure> {
    call::<e::SignOut>(Some(token), &(), None).await
}

/// The caller's profile.
pub async fn me(token: &str) -> Result<Profile, ApiFailure> {
    call::<e::Me>(Some(token), &(), None).await
}

/// Changes the display name, the "about" text or privacy settings.
pub async fn update_me(token: &str, update: &UpdateProfile) -> Result<Profile, ApiFailure> {
    call::<e::UpdateMe>(Some(token), &(), Some(update)).await
}

/// The caller's signed-in devices.
pub async fn devices(token: &str) -> Result<Vec<Device>, ApiFailure> {
    call::<e::Devices>(Some(token), &(), None).await
}

/// Signs one of the caller's other devices out.
pub async fn revoke_device(token: &str, device: DeviceId) -> Result<(), ApiFailure> {
    call::<e::RevokeDevice>(Some(token), &device, None).await
}

/// Finds a user by exact (normalised) handle.
pub async fn lookup_user(token: &str, handle: &str) -> Result<UserCard, ApiFailure> {
    call::<e::LookupUser>(Some(token), &handle.to_owned(), None).await
}

/// The card of a known id (someone who wrote to us).
pub async fn user(token: &str, user: UserId) -> Result<UserCard, ApiFailure> {
    call::<e::User>(Some(token), &user, None).await
}

/// The caller's contact list.
pub async fn contacts(token: &str) -> Result<Vec<Contact>, ApiFailure> {
    call::<e::Contacts>(Some(token), &(), None).await
}

/// Adds a contact (idempotent).
pub async fn add_contact(token: &str, user: UserId) -> Result<Contact, ApiFailure> {
    call::<e::AddContact>(Some(token), &user, None).await
}

/// Removes a contact.
pub async fn remove_contact(token: &str, user: UserId) -> Result<(), ApiFailure> {
    call::<e::RemoveContact>(Some(token), &user, None).await
}

/// Publishes this device's identity, one-time and fallback keys.
pub async fn upload_keys(token: &str, keys: &UploadKeys) -> Result<KeyCount, ApiFailure> {
    call::<e::PublishKeys>(Some(token), &(), Some(keys)).await
}

/// How many of this device's one-time keys are left.
pub async fn key_count(token: &str) -> Result<KeyCount, ApiFailure> {
    call::<e::CountKeys>(Some(token), &(), None).await
}

/// One key per device to start a session with.
pub async fn claim_keys(
    token: &str,
    devices: Vec<DeviceId>,
) -> Result<Vec<ClaimedKey>, ApiFailure> {
    call::<e::ClaimKeys>(Some(token), &(), Some(&ClaimRequest { devices })).await
}

/// Creates a group with its signed first event.
pub async fn create_group(token: &str, event: &SignedGroupEvent) -> Result<GroupHead, ApiFailure> {
    call::<e::CreateGroup>(Some(token), &(), Some(event)).await
}

/// The groups the caller is or was in, with their last event.
pub async fn groups(token: &str) -> Result<Vec<GroupHead>, ApiFailure> {
    call::<e::Groups>(Some(token), &(), None).await
}

/// Appends a signed event to a group's log.
pub async fn append_group_event(
    token: &str,
    group: GroupId,
    event: &SignedGroupEvent,
) -> Result<GroupRecord, ApiFailure> {
    call::<e::AppendGroupEvent>(Some(token), &group, Some(event)).await
}

/// A page of a group's log after event `after`.
pub async fn group_events(
    token: &str,
    group: GroupId,
    after: u64,
) -> Result<Vec<GroupRecord>, ApiFailure> {
    call::<e::GroupEvents>(Some(token), &(group, after), None).await
}

/// The identity keys of all of a user's devices.
pub async fn user_keys(token: &str, user: UserId) -> Result<Vec<DeviceKeys>, ApiFailure> {
    call::<e::UserKeys>(Some(token), &user, None).await
}

/// STUN/TURN servers and short-lived TURN credentials.
pub async fn ice(token: &str) -> Result<IceConfig, ApiFailure> {
    call::<e::IceServers>(Some(token), &(), None).await
}

/// Sets the profile photo (an image the browser made: see `ui::photo`).
pub async fn set_photo(
    token: &str,
    image: &web_sys::Blob,
    content_type: &str,
) -> Result<Profile, ApiFailure> {
    upload::<e::SetPhoto>(token, &(), image, content_type).await
}

/// Removes the profile photo.
pub async fn remove_photo(token: &str) -> Result<Profile, ApiFailure> {
    call::<e::RemovePhoto>(Some(token), &(), None).await
}

/// A user's profile photo, at `version`.
pub async fn photo(
    token: &str,
    user: UserId,
    version: PhotoVersion,
) -> Result<web_sys::Blob, ApiFailure> {
    download::<e::UserPhoto>(token, &(user, Some(version))).await
}

/// The people this account blocked.
pub async fn blocks(token: &str) -> Result<Vec<UserCard>, ApiFailure> {
    call::<e::Blocks>(Some(token), &(), None).await
}

/// Blocks a person.
pub async fn block(token: &str, user: UserId) -> Result<UserCard, ApiFailure> {
    call::<e::Block>(Some(token), &user, None).await
}

/// Unblocks a person.
pub async fn unblock(token: &str, user: UserId) -> Result<(), ApiFailure> {
    call::<e::Unblock>(Some(token), &user, None).await
}

/// The server's VAPID key, to subscribe with.
pub async fn push_key(token: &str) -> Result<PushKey, ApiFailure> {
    call::<e::PushServerKey>(Some(token), &(), None).await
}

/// Sets this device's push subscription; answers the service worker's
/// fetch capability.
pub async fn subscribe(token: &str, sub: &PushSubscription) -> Result<PushSubscribed, ApiFailure> {
    call::<e::Subscribe>(Some(token), &(), Some(sub)).await
}

/// Removes this device's push subscription.
pub async fn unsubscribe(token: &str) -> Result<(), ApiFailure> {
    call::<e::Unsubscribe>(Some(token), &(), None).await
}

/// This device's queued messages, read by the service worker with its
/// fetch capability (not the device token).
pub async fn push_pending(fetch_token: &str) -> Result<PendingMessages, ApiFailure> {
    call::<e::PushPending>(Some(fetch_token), &(), None).await
}

/// The account's notification settings.
pub async fn notifications(token: &str) -> Result<NotificationSettings, ApiFailure> {
    call::<e::Notifications>(Some(token), &(), None).await
}

/// Mutes or unmutes a chat.
pub async fn mute_chat(token: &str, mute: &ChatMute) -> Result<NotificationSettings, ApiFailure> {
    call::<e::MuteChat>(Some(token), &(), Some(mute)).await
}

/// Turns do-not-disturb on or off.
pub async fn set_dnd(token: &str, on: bool) -> Result<NotificationSettings, ApiFailure> {
    call::<e::SetDoNotDisturb>(Some(token), &(), Some(&DoNotDisturb { on })).await
}

/// Starts an upload of `size` bytes of an attachment's ciphertext.
pub async fn create_blob(token: &str, size: u64) -> Result<BlobUpload, ApiFailure> {
    call::<e::CreateBlob>(Some(token), &(), Some(&NewBlob { size })).await
}

/// Which chunks of one of this device's uploads the server holds.
pub async fn blob_status(token: &str, blob: BlobId) -> Result<BlobUpload, ApiFailure> {
    call::<e::BlobStatus>(Some(token), &blob, None).await
}

/// Stores chunk `index` of an upload (`bytes`: an `ArrayBuffer` or a view).
pub async fn put_chunk(
    token: &str,
    blob: BlobId,
    index: u32,
    bytes: &wasm_bindgen::JsValue,
) -> Result<(), ApiFailure> {
    put_bytes::<e::PutBlobChunk>(token, &(blob, index), bytes).await
}

/// Lets every device of `users` (this account's other devices too) read
/// the blob.
pub async fn grant_blob(token: &str, blob: BlobId, users: Vec<UserId>) -> Result<(), ApiFailure> {
    let readers = BlobReaders {
        devices: Vec::new(),
        users,
    };
    call::<e::GrantBlob>(Some(token), &blob, Some(&readers)).await
}

/// Lets every current device of the group's members (this account's other
/// devices too) read the blob.
pub async fn grant_blob_to_group(
    token: &str,
    blob: BlobId,
    group: parley_protocol::GroupId,
) -> Result<(), ApiFailure> {
    call::<e::GrantBlobToGroup>(Some(token), &(blob, group), None).await
}

/// Chunk `index` of a blob's ciphertext.
pub async fn blob_chunk(
    token: &str,
    blob: BlobId,
    index: u32,
) -> Result<js_sys::ArrayBuffer, ApiFailure> {
    get_bytes::<e::BlobChunk>(token, &(blob, index)).await
}

/// This device holds the blob's file now.
pub async fn blob_fetched(token: &str, blob: BlobId) -> Result<(), ApiFailure> {
    call::<e::BlobFetched>(Some(token), &blob, None).await
}

/// Cancels an upload.
pub async fn cancel_blob(token: &str, blob: BlobId) -> Result<(), ApiFailure> {
    call::<e::CancelBlob>(Some(token), &blob, None).await
}
