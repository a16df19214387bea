//! JSON bodies of the REST API, mounted under [`PREFIX`]. Which endpoint
//! takes and answers which body is declared in the `endpoint` module, which
//! builds on this one.

use crate::{BlobId, ConversationId, DeviceId, Millis, UserId};
use serde::{Deserialize, Serialize};

/// Where the REST API is mounted.
pub const PREFIX: &str = "/api/v1";

/// Create an account and sign this browser in as its first device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Phone number (E.164) or username; normalised by the server.
    pub handle: String,
    /// Name shown to contacts.
    pub display_name: String,
    /// At least 8 characters.
    pub password: String,
    /// Label for this device; derived from the user agent when absent.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// Sign in: creates a new device for this browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInRequest {
    /// Phone number or username, as typed.
    pub handle: String,
    /// The account password.
    pub password: String,
    /// Label for this device; derived from the user agent when absent.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// A signed-in device: the token is shown once and stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Bearer token for REST and the WebSocket; secret.
    pub token: String,
    /// The device this token belongs to.
    pub device_id: DeviceId,
    /// The account signed in.
    pub profile: Profile,
}

/// The caller's own account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Account id.
    pub user_id: UserId,
    /// Normalised handle.
    pub handle: String,
    /// Name shown to contacts.
    pub display_name: String,
    /// Short status line.
    pub about: String,
    /// Whether read receipts are sent and shown (off: neither, as in WhatsApp).
    #[serde(default = "yes")]
    pub read_receipts: bool,
    /// Who may see when this user is online or was last seen.
    #[serde(default)]
    pub last_seen: LastSeenVisibility,
    /// The caller's own profile photo, when they have one.
    #[serde(default)]
    pub photo: Option<PhotoVersion>,
    /// Who may see this user's profile photo.
    #[serde(default)]
    pub photo_visibility: Visibility,
}

fn yes() -> bool {
    true
}

/// Who may see something of a user: their online status and last seen time
/// (`last_seen`), or their profile photo (`photo_visibility`). Someone the
/// user blocked sees neither, whatever the setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone who knows the handle.
    #[default]
    Everyone,
    /// Only users this user added as contacts.
    Contacts,
    /// No one.
    Nobody,
}

/// The setting for online status and last seen (its first use, and name).
pub type LastSeenVisibility = Visibility;

impl Visibility {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Contacts => "contacts",
            Self::Nobody => "nobody",
        }
    }

    /// Parses the stored form; unknown values are the most private.
    pub fn parse(s: &str) -> Self {
        match s {
            "everyone" => Self::Everyone,
            "contacts" => Self::Contacts,
            _ => Self::Nobody,
        }
    }
}

/// Change the caller's profile; absent fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProfile {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New "about" text (empty clears it).
    #[serde(default)]
    pub about: Option<String>,
    /// Turn read receipts on or off.
    #[serde(default)]
    pub read_receipts: Option<bool>,
    /// Change who sees online/last seen.
    #[serde(default)]
    pub last_seen: Option<LastSeenVisibility>,
    /// Change who sees the profile photo.
    #[serde(default)]
    pub photo_visibility: Option<Visibility>,
}

/// A version of a user's profile photo: a hash of its bytes (hex), so a new
/// photo has a new version. It is the photo's `ETag` (in quotes there), and
/// the client adds it to the photo's URL (`?v=`) so a cached copy of an
/// earlier photo is never shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhotoVersion(String);

impl PhotoVersion {
    /// Wraps a version the server made.
    pub fn new(version: impl Into<String>) -> Self {
        Self(version.into())
    }

    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhotoVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A body that is not JSON but an image's bytes, with its `Content-Type`
/// (one of [`crate::limits::PHOTO_CONTENT_TYPES`]): what `PUT /me/photo`
/// takes and `GET /users/{user_id}/photo` answers. Only names the body in
/// endpoint declarations; it holds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBytes;

/// One of the caller's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device id.
    pub device_id: DeviceId,
    /// Label, from the user agent or chosen at sign-in.
    pub name: String,
    /// When it signed in.
    pub created_at: Millis,
    /// Last authenticated request or connection.
    pub last_active_at: Millis,
    /// Whether this is the device making the request.
    pub current: bool,
}

/// Query of `GET /users/lookup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupQuery {
    /// Exact handle, as typed (normalised by the server).
    pub handle: String,
}

/// Another user as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserCard {
    /// Account id.
    pub user_id: UserId,
    /// Normalised handle.
    pub handle: String,
    /// Name they chose.
    pub display_name: String,
    /// Their status line.
    pub about: String,
    /// Their profile photo's version, when they have one and the caller may
    /// see it (fetch it from `GET /users/{user_id}/photo?v=…`).
    #[serde(default)]
    pub photo: Option<PhotoVersion>,
}

/// An entry of the caller's contact list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Who.
    pub user: UserCard,
    /// When the caller added them.
    pub added_at: Millis,
}

/// Answer of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` when the server and its database answer.
    pub status: String,
}

/// A device's long-term identity keys, with the Ed25519 signature of its
/// Curve25519 key (message: [`identity_message`]). Keys and signatures are
/// unpadded standard base64, as vodozemac writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityKeys {
    /// Curve25519 identity key (Olm).
    pub curve25519: String,
    /// Ed25519 signing key.
    pub ed25519: String,
    /// Ed25519 signature of [`identity_message`].
    pub signature: String,
}

/// A one-time or fallback key, signed by the device's Ed25519 key
/// (message: [`one_time_key_message`] or [`fallback_key_message`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedKey {
    /// The key's id, as vodozemac names it.
    pub key_id: String,
    /// Curve25519 public key.
    pub key: String,
    /// Ed25519 signature.
    pub signature: String,
}

/// `PUT /keys`: publish this device's keys. Identity keys are set once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadKeys {
    /// Identity keys (required on the first upload; must not change later).
    #[serde(default)]
    pub identity: Option<IdentityKeys>,
    /// New one-time keys (at most [`crate::limits::MAX_KEYS_PER_UPLOAD`]).
    #[serde(default)]
    pub one_time_keys: Vec<SignedKey>,
    /// A new fallback key, replacing the previous one.
    #[serde(default)]
    pub fallback_key: Option<SignedKey>,
}

/// How many unclaimed one-time keys the server holds for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCount {
    /// Unclaimed one-time keys.
    pub one_time_keys: u32,
}

/// A device's published identity, as others fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKeys {
    /// The device.
    pub device_id: DeviceId,
    /// Its identity keys and their signature.
    pub identity: IdentityKeys,
}

/// `POST /keys/claim`: one key per device, to start Olm sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// Devices to claim for (at most [`crate::limits::MAX_DEVICES_PER_SEND`]).
    pub devices: Vec<DeviceId>,
}

/// A claimed key: a one-time key (handed out once) or, when none is left,
/// the device's fallback key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedKey {
    /// The device and its identity.
    pub device: DeviceKeys,
    /// The key to start a session with.
    pub key: SignedKey,
    /// Whether it is the fallback key (used until the device uploads more).
    pub fallback: bool,
}

/// Answer of `GET /calls/ice`: how this device reaches the server's STUN and
/// TURN relay. `ice_servers` has the shape of WebRTC's `RTCIceServer` list, so
/// the client hands it to `RTCPeerConnection` as `iceServers` unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceConfig {
    /// Empty when the server runs no STUN/TURN.
    pub ice_servers: Vec<IceServer>,
    /// Seconds the TURN credentials stay valid from now. Fetch again before
    /// they expire: a relay refuses new allocations and refreshes after that.
    pub ttl_secs: u64,
}

/// One STUN or TURN server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host:port` or `turn:host:port?transport=udp`.
    pub urls: Vec<String>,
    /// TURN only: `<expiry unix seconds>:<user id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN only: base64 of HMAC-SHA1(server secret, username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The server's VAPID public key: the `applicationServerKey` a browser
/// subscribes with (base64url of the uncompressed P-256 point, 65 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKey {
    /// base64url, no padding.
    pub public_key: String,
}

/// This device's Web Push subscription, as `PushSubscription.toJSON()`
/// names its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    /// The push service's URL for this browser (HTTPS).
    pub endpoint: String,
    /// The browser's P-256 key for RFC 8291 (base64url, 65 bytes).
    pub p256dh: String,
    /// The RFC 8291 authentication secret (base64url, 16 bytes).
    pub auth: String,
}

/// Answer to a subscription: the capability the service worker reads this
/// device's queued (still encrypted) messages with, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscribed {
    /// For `Authorization: Bearer` on `GET /push/pending`.
    pub fetch_token: String,
}

/// What a push tells the service worker (encrypted with RFC 8291 on the
/// way): whose device, and how many new messages in which chats. Never
/// any content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushNotice {
    /// The account the device belongs to.
    pub user: UserId,
    /// The device.
    pub device: DeviceId,
    /// New messages per chat, most recent chat first (at most
    /// [`crate::limits::MAX_PUSH_CHATS`]).
    pub chats: Vec<ChatCount>,
    /// Messages in chats left out of `chats`.
    #[serde(default)]
    pub others: u32,
}

/// New messages in one chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatCount {
    /// The chat, as the device's owner sees it.
    pub chat: ConversationId,
    /// How many.
    pub count: u32,
}

/// Answer of `GET /push/pending`: this device's queued messages, oldest
/// first, as the socket would deliver them (each a binary `Deliver` frame,
/// base64). Reading does not remove them: the app drains them as usual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMessages {
    /// At most [`crate::limits::MAX_PUSH_PENDING`].
    pub frames: Vec<String>,
}

/// How long a chat stays muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mute {
    /// Not muted.
    Off,
    /// Until then.
    Until(Millis),
    /// Until unmuted.
    Always,
}

/// `PUT /notifications/mutes`: mute or unmute one chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMute {
    /// The chat.
    pub chat: ConversationId,
    /// For how long ([`Mute::Off`] unmutes).
    pub mute: Mute,
}

/// `PUT /notifications/dnd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoNotDisturb {
    /// Whether nothing notifies.
    pub on: bool,
}

/// An account's notification settings, the same on each of its devices:
/// the server needs them to decide what to push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Do not disturb: nothing notifies.
    pub dnd: bool,
    /// Muted chats (expired mutes are left out).
    pub mutes: Vec<ChatMute>,
}

impl NotificationSettings {
    /// Whether `chat` is muted at `now`.
    pub fn muted(&self, chat: ConversationId, now: Millis) -> bool {
        self.mutes.iter().any(|m| {
            m.chat == chat
                && match m.mute {
                    Mute::Off => false,
                    Mute::Until(until) => until > now,
                    Mute::Always => true,
                }
        })
    }
}

/// What the Ed25519 key signs to vouch for the device's Curve25519 key.
pub fn identity_message(device: DeviceId, curve25519: &str) -> String {
    format!("parley-identity:v1:{device}:{curve25519}")
}

/// What the Ed25519 key signs for a one-time key.
pub fn one_time_key_message(device: DeviceId, key_id: &str, key: &str) -> String {
    format!("parley-otk:v1:{device}:{key_id}:{key}")
}

/// What the Ed25519 key signs for a fallback key.
pub fn fallback_key_message(device: DeviceId, key_id: &str, key: &str) -> String {
    format!("parley-fallback:v1:{device}:{key_id}:{key}")
}

/// `POST /blobs`: an encrypted attachment of `size` bytes of ciphertext is
/// about to be uploaded, in chunks of [`crate::limits::BLOB_CHUNK_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBlob {
    /// Bytes of ciphertext, all chunks together.
    pub size: u64,
}

/// An upload as its uploader sees it: where its chunks go and which of them
/// the server holds, so an upload cut off anywhere resumes with the missing
/// ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUpload {
    /// The blob's id, for its chunks and in the message that refers to it.
    pub blob_id: BlobId,
    /// Bytes of ciphertext.
    pub size: u64,
    /// Bytes per chunk (the last may be shorter).
    pub chunk_bytes: u32,
    /// How many chunks make the blob.
    pub chunks: u32,
    /// The chunks not received yet, in order.
    pub missing: Vec<u32>,
    /// Every chunk is in: the blob can be read and no longer changes.
    pub complete: bool,
}

/// `POST /blobs/{blob_id}/readers`: devices that may read a blob (those
/// that were sent the message that refers to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobReaders {
    /// These devices.
    #[serde(default)]
    pub devices: Vec<DeviceId>,
    /// Every current device of these people (the caller's own account
    /// included: its other devices), except the calling device itself. At
    /// most [`crate::limits::MAX_BLOB_READERS_PER_GRANT`] devices and
    /// people per request.
    #[serde(default)]
    pub users: Vec<UserId>,
}

/// A body that is raw bytes (`application/octet-stream`), not JSON: one
/// chunk of a blob's ciphertext. Only names the body in endpoint
/// declarations; it holds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkBytes;
