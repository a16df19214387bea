//! Every REST endpoint, declared once: method, path, who may call it, and the
//! types of its path parameters, body and answer. The server mounts its
//! routes from these, the browser client builds its requests from them, and
//! the tests name endpoints the same way, so a path is written nowhere else.

use crate::api::{
    BlobReaders, BlobUpload, ChatMute, ChunkBytes, ClaimRequest, ClaimedKey, Contact, Device,
    DeviceKeys, DoNotDisturb, IceConfig, ImageBytes, KeyCount, NewBlob, NotificationSettings,
    PREFIX, PendingMessages, PhotoVersion, Profile, PushKey, PushSubscribed, PushSubscription,
    RegisterRequest, Session, SignInRequest, UpdateProfile, UploadKeys, UserCard,
};
use crate::group::{GroupHead, GroupRecord, SignedGroupEvent};
use crate::{BlobId, DeviceId, GroupId, UserId};
use std::fmt::Display;

/// Where the device WebSocket is opened (at the root, not under [`PREFIX`]).
pub const WEBSOCKET: &str = "/ws";
/// The health check (at the root, not under [`PREFIX`]).
pub const HEALTHZ: &str = "/healthz";

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (rate limited): sign-up and sign-in.
    Anyone,
    /// A signed-in device: `Authorization: Bearer <token>`.
    Device,
    /// A device's service worker: `Authorization: Bearer <fetch token>`
    /// from [`Subscribe`], which reads that device's queue and nothing else.
    PushFetch,
}

/// One REST endpoint under [`PREFIX`].
pub trait Endpoint {
    /// Its method.
    const METHOD: Method;
    /// Its path under [`PREFIX`], with `{name}` for each path parameter (the
    /// server's router reads the same template).
    const PATH: &'static str;
    /// Who may call it.
    const ACCESS: Access;
    /// What fills the path parameters (and query), in order.
    type Params;
    /// The JSON body (`()` for none).
    type Request;
    /// The JSON answer (`()` for an empty 204).
    type Response;
    /// The path under [`PREFIX`] for `params`.
    fn path(params: &Self::Params) -> String;
}

/// The full path of an endpoint for `params`: [`PREFIX`] + [`Endpoint::path`].
pub fn url<E: Endpoint>(params: &E::Params) -> String {
    format!("{PREFIX}{}", E::path(params))
}

/// `template` with each `{…}` replaced by the next of `values`.
fn fill(template: &str, values: &[&dyn Display]) -> String {
    let mut out = String::with_capacity(template.len() + 40 * values.len());
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let close = after.find('}').map_or(after.len(), |c| c + 1);
        if let Some(value) = values.next() {
            out.push_str(&value.to_string());
        }
        rest = &after[close..];
    }
    out.push_str(rest);
    out
}

/// A query value percent-encoded (everything but RFC 3986's unreserved
/// characters), so a phone number's `+` does not arrive as a space.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

macro_rules! endpoint {
    (
        $(#[$doc:meta])*
        $name:ident: $method:ident $path:literal, $access:ident,
        $params:ty, $request:ty => $response:ty,
        |$p:ident| $fill:expr
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Endpoint for $name {
            const METHOD: Method = Method::$method;
            const PATH: &'static str = $path;
            const ACCESS: Access = Access::$access;
            type Params = $params;
            type Request = $request;
            type Response = $response;
            fn path($p: &Self::Params) -> String {
                $fill
            }
        }
    };
    (
        $(#[$doc:meta])*
        $name:ident: $method:ident $path:literal, $access:ident,
        $request:ty => $response:ty
    ) => {
        endpoint!(
            $(#[$doc])*
            $name: $method $path, $access, (), $request => $response,
            |_p| $path.to_owned()
        );
    };
}

endpoint!(
    /// Creates an account and signs this browser in as its first device (201).
    Register: Post "/accounts", Anyone, RegisterRequest => Session
);
endpoint!(
    /// Signs in: a new device for this browser.
    SignIn: Post "/sessions", Anyone, SignInRequest => Session
);
endpoint!(
    /// Signs this device out: its token dies (204).
    SignOut: Delete "/sessions/current", Device, () => ()
);
endpoint!(
    /// The caller's profile.
    Me: Get "/me", Device, () => Profile
);
endpoint!(
    /// Changes the caller's profile and privacy settings.
    UpdateMe: Patch "/me", Device, UpdateProfile => Profile
);
endpoint!(
    /// The caller's signed-in devices.
    Devices: Get "/devices", Device, () => Vec<Device>
);
endpoint!(
    /// Signs one of the caller's devices out (204); its socket closes with 4001.
    RevokeDevice: Delete "/devices/{device_id}", Device, DeviceId, () => (),
    |device| fill(RevokeDevice::PATH, &[device])
);
endpoint!(
    /// Finds a user by exact (normalised) handle; rate limited per account.
    LookupUser: Get "/users/lookup", Device, String, () => UserCard,
    |handle| format!("{}?handle={}", LookupUser::PATH, encode_query_value(handle))
);
endpoint!(
    /// The card of a known user id (someone who wrote to the caller).
    User: Get "/users/{user_id}", Device, UserId, () => UserCard,
    |user| fill(User::PATH, &[user])
);
endpoint!(
    /// The caller's contacts.
    Contacts: Get "/contacts", Device, () => Vec<Contact>
);
endpoint!(
    /// Adds a contact (idempotent).
    AddContact: Put "/contacts/{user_id}", Device, UserId, () => Contact,
    |user| fill(AddContact::PATH, &[user])
);
endpoint!(
    /// Removes a contact (204).
    RemoveContact: Delete "/contacts/{user_id}", Device, UserId, () => (),
    |user| fill(RemoveContact::PATH, &[user])
);
endpoint!(
    /// Publishes this device's identity keys (once), one-time keys and fallback key.
    PublishKeys: Put "/keys", Device, UploadKeys => KeyCount
);
endpoint!(
    /// How many of this device's one-time keys are left unclaimed.
    CountKeys: Get "/keys/count", Device, () => KeyCount
);
endpoint!(
    /// One key per named device to start an Olm session with.
    ClaimKeys: Post "/keys/claim", Device, ClaimRequest => Vec<ClaimedKey>
);
endpoint!(
    /// The identity keys of all of a user's devices.
    UserKeys: Get "/users/{user_id}/keys", Device, UserId, () => Vec<DeviceKeys>,
    |user| fill(UserKeys::PATH, &[user])
);
endpoint!(
    /// STUN/TURN servers and a short-lived TURN credential.
    IceServers: Get "/calls/ice", Device, () => IceConfig
);
endpoint!(
    /// Sets the caller's profile photo. The body is the image itself, not
    /// JSON: at most [`crate::limits::MAX_PHOTO_BYTES`], its `Content-Type`
    /// one of [`crate::limits::PHOTO_CONTENT_TYPES`]. Rate limited.
    SetPhoto: Put "/me/photo", Device, ImageBytes => Profile
);
endpoint!(
    /// Removes the caller's profile photo (idempotent). Rate limited.
    RemovePhoto: Delete "/me/photo", Device, () => Profile
);
endpoint!(
    /// A user's profile photo, as an image (not JSON): 404 when they have
    /// none or the caller may not see it. The version (from a `UserCard` or
    /// `Profile`) only makes the URL change with the photo.
    UserPhoto: Get "/users/{user_id}/photo", Device, (UserId, Option<PhotoVersion>), () => ImageBytes,
    |params| match params {
        (user, Some(version)) => format!(
            "{}?v={}",
            fill(UserPhoto::PATH, &[user]),
            encode_query_value(version.as_str())
        ),
        (user, None) => fill(UserPhoto::PATH, &[user]),
    }
);
endpoint!(
    /// The people the caller blocked (at most [`crate::limits::MAX_BLOCKS`]).
    Blocks: Get "/blocks", Device, () => Vec<UserCard>
);
endpoint!(
    /// Blocks a user (idempotent): their messages and calls no longer reach
    /// the caller, and they no longer see the caller's presence or photo.
    Block: Put "/blocks/{user_id}", Device, UserId, () => UserCard,
    |user| fill(Block::PATH, &[user])
);
endpoint!(
    /// Unblocks a user (204); what they send from now on arrives again.
    Unblock: Delete "/blocks/{user_id}", Device, UserId, () => (),
    |user| fill(Unblock::PATH, &[user])
);
endpoint!(
    /// The server's VAPID public key, to subscribe with.
    PushServerKey: Get "/push/key", Device, () => PushKey
);
endpoint!(
    /// Sets this device's push subscription (replacing an earlier one) and
    /// answers the service worker's fetch capability.
    Subscribe: Put "/push/subscription", Device, PushSubscription => PushSubscribed
);
endpoint!(
    /// Removes this device's push subscription (204, idempotent).
    Unsubscribe: Delete "/push/subscription", Device, () => ()
);
endpoint!(
    /// This device's queued messages, for the service worker's preview.
    PushPending: Get "/push/pending", PushFetch, () => PendingMessages
);
endpoint!(
    /// The account's notification settings.
    Notifications: Get "/notifications", Device, () => NotificationSettings
);
endpoint!(
    /// Mutes or unmutes a chat (at most [`crate::limits::MAX_MUTES`]).
    MuteChat: Put "/notifications/mutes", Device, ChatMute => NotificationSettings
);
endpoint!(
    /// Turns do-not-disturb on or off.
    SetDoNotDisturb: Put "/notifications/dnd", Device, DoNotDisturb => NotificationSettings
);

endpoint!(
    /// Starts an upload of an encrypted attachment (201); refused past the
    /// server's size limit or the account's quota. Rate limited.
    CreateBlob: Post "/blobs", Device, NewBlob => BlobUpload
);
endpoint!(
    /// The state of one of the caller device's uploads: which chunks are
    /// missing. 404 for anyone else's.
    BlobStatus: Get "/blobs/{blob_id}", Device, BlobId, () => BlobUpload,
    |blob| fill(BlobStatus::PATH, &[blob])
);
endpoint!(
    /// Cancels one of the caller device's uploads, or withdraws a blob it
    /// uploaded: its chunks are deleted (204).
    CancelBlob: Delete "/blobs/{blob_id}", Device, BlobId, () => (),
    |blob| fill(CancelBlob::PATH, &[blob])
);
endpoint!(
    /// Stores chunk `index` of an upload (204); the body is the chunk's
    /// ciphertext, exactly [`crate::limits::BLOB_CHUNK_BYTES`] long except
    /// for the last chunk. Sending a chunk again replaces it until the
    /// upload is complete.
    PutBlobChunk: Put "/blobs/{blob_id}/chunks/{index}", Device, (BlobId, u32), ChunkBytes => (),
    |params| fill(PutBlobChunk::PATH, &[&params.0, &params.1])
);
endpoint!(
    /// Lets devices read a blob the caller's device uploaded (204), at most
    /// [`crate::limits::MAX_BLOB_READERS`] in all.
    GrantBlob: Post "/blobs/{blob_id}/readers", Device, BlobId, BlobReaders => (),
    |blob| fill(GrantBlob::PATH, &[blob])
);
endpoint!(
    /// Lets every current device of a group's members read a blob the
    /// caller's device uploaded (204): the devices a group message sent now
    /// reaches. Only for a member who may send to the group (403 otherwise,
    /// an unknown group included). A blob is granted to a group once: a
    /// repeat is answered 204 and changes nothing.
    GrantBlobToGroup: Post "/blobs/{blob_id}/readers/group/{group_id}", Device, (BlobId, GroupId), () => (),
    |params| fill(GrantBlobToGroup::PATH, &[&params.0, &params.1])
);
endpoint!(
    /// Chunk `index` of a complete blob the caller's device was granted (or
    /// that the caller's account uploaded), as `application/octet-stream`.
    BlobChunk: Get "/blobs/{blob_id}/chunks/{index}", Device, (BlobId, u32), () => ChunkBytes,
    |params| fill(BlobChunk::PATH, &[&params.0, &params.1])
);
endpoint!(
    /// The caller's device holds the blob now (204): once every device it
    /// was granted to said so, it is deleted.
    BlobFetched: Post "/blobs/{blob_id}/fetched", Device, BlobId, () => (),
    |blob| fill(BlobFetched::PATH, &[blob])
);
endpoint!(
    /// Creates a group from its signed creation event (201): the caller's
    /// device signed it and is its first admin.
    CreateGroup: Post "/groups", Device, SignedGroupEvent => GroupHead
);
endpoint!(
    /// The groups the caller is in, or was removed from or left.
    Groups: Get "/groups", Device, () => Vec<GroupHead>
);
endpoint!(
    /// Appends a signed change to a group's log (201). 409 `conflict` when
    /// the log moved on (fetch the new events and sign again), 403 when the
    /// rules do not let the caller make it.
    AppendGroupEvent: Post "/groups/{group_id}/events", Device, GroupId, SignedGroupEvent => GroupRecord,
    |group| fill(AppendGroupEvent::PATH, &[group])
);
endpoint!(
    /// A group's events after `after`, at most
    /// [`crate::group::GROUP_EVENTS_PER_PAGE`]; members and former members
    /// only (these up to the event that took them out).
    GroupEvents: Get "/groups/{group_id}/events", Device, (GroupId, u64), () => Vec<GroupRecord>,
    |params| format!("{}?after={}", fill(GroupEvents::PATH, &[&params.0]), params.1)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_filled_in_order_and_queries_encoded() {
        let nil = uuid::Uuid::nil();
        assert_eq!(
            url::<UserKeys>(&UserId::from_uuid(nil)),
            "/api/v1/users/00000000-0000-0000-0000-000000000000/keys"
        );
        assert_eq!(
            RevokeDevice::path(&DeviceId::from_uuid(nil)),
            "/devices/00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            LookupUser::path(&"+44 20 7946".to_owned()),
            "/users/lookup?handle=%2B44%2020%207946"
        );
        assert_eq!(url::<SignIn>(&()), "/api/v1/sessions");
        let user = UserId::from_uuid(nil);
        assert_eq!(
            UserPhoto::path(&(user, Some(PhotoVersion::new("0af3")))),
            "/users/00000000-0000-0000-0000-000000000000/photo?v=0af3"
        );
        assert_eq!(
            UserPhoto::path(&(user, None)),
            "/users/00000000-0000-0000-0000-000000000000/photo"
        );
        assert_eq!(fill("/a/{x}/b/{y}", &[&1, &"two"]), "/a/1/b/two");
        assert_eq!(
            url::<PutBlobChunk>(&(BlobId::from_uuid(nil), 7)),
            "/api/v1/blobs/00000000-0000-0000-0000-000000000000/chunks/7"
        );
    }
}
