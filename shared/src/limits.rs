//! Bounds on every input. The server enforces them; the client checks them first
//! so people see a clear message before a round trip.

/// Largest JSON request body the REST API accepts.
pub const MAX_JSON_BODY: usize = 16 * 1024;
/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in bytes (argon2 cost grows with it).
pub const PASSWORD_MAX_BYTES: usize = 256;
/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
/// Longest "about" text, in characters.
pub const ABOUT_MAX_CHARS: usize = 140;
/// Longest device name, in characters (longer names are cut, not refused).
pub const DEVICE_NAME_MAX_CHARS: usize = 64;
/// Username length bounds, in characters.
pub const USERNAME_MIN_CHARS: usize = 3;
/// Username length bounds, in characters.
pub const USERNAME_MAX_CHARS: usize = 32;
/// Largest WebSocket frame either side sends or accepts.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;
/// Longest a device token may be on the wire.
pub const MAX_TOKEN_CHARS: usize = 128;
/// Largest payload for one device in a send.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Most target devices in one send (recipient's plus sender's own).
pub const MAX_DEVICES_PER_SEND: usize = 64;
/// Largest payload for one device in a call signal: a video offer's SDP is a
/// few KiB, so this leaves room for ciphertext overhead and many codecs.
pub const MAX_SIGNAL_BYTES: usize = 64 * 1024;
/// Call signals: each costs one unit per started KiB of its payloads (at
/// least one); a socket may spend this many units at once...
pub const SIGNAL_BURST_UNITS: u32 = 512;
/// ...and regains this many per second. ICE trickle sends dozens of small
/// signals per second while a call starts; an offer to ten devices costs
/// about 100 units.
pub const SIGNAL_UNITS_PER_SECOND: u32 = 64;
/// Longest a disappearing message may wait in a queue: the longest timer
/// (90 days).
pub const MAX_EXPIRY_MS: i64 = 90 * 24 * 3600 * 1000;
/// Most ids in one ack or read receipt frame.
pub const MAX_IDS_PER_FRAME: usize = 1024;
/// Most users one device may watch for presence.
pub const MAX_WATCHED_USERS: usize = 1024;
/// Most one-time keys in one upload.
pub const MAX_KEYS_PER_UPLOAD: usize = 100;
/// Most unclaimed one-time keys the server keeps per device.
pub const MAX_ONE_TIME_KEYS: u32 = 500;
/// Longest key id, in bytes.
pub const MAX_KEY_ID_BYTES: usize = 32;
/// Largest key upload body (100 signed keys fit with room to spare).
pub const MAX_KEYS_BODY: usize = 64 * 1024;
/// Largest profile photo, in bytes. The browser crops and scales the photo
/// itself, so a few hundred pixels square fit with room to spare.
pub const MAX_PHOTO_BYTES: usize = 128 * 1024;
/// The image types a profile photo may have (its `Content-Type`).
pub const PHOTO_CONTENT_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
/// Smallest side of a profile photo, in pixels.
pub const PHOTO_MIN_SIDE: u32 = 32;
/// Largest side of a profile photo, in pixels.
pub const PHOTO_MAX_SIDE: u32 = 1024;
/// A profile photo is square-ish: its longer side is at most this many
/// percent of its shorter side.
pub const PHOTO_MAX_ASPECT_PERCENT: u32 = 110;
/// Most people one account may block.
pub const MAX_BLOCKS: usize = 1000;
/// Longest push endpoint URL a browser may register (the push services'
/// are about 200 characters).
pub const MAX_PUSH_ENDPOINT_CHARS: usize = 2048;
/// Most chats one account may mute.
pub const MAX_MUTES: usize = 1000;
/// Most queued messages `GET /push/pending` answers with at once.
pub const MAX_PUSH_PENDING: usize = 100;
/// Most chats one push names (the rest are counted in `others`): keeps the
/// encrypted payload well under the push services' 4 KB.
pub const MAX_PUSH_CHATS: usize = 16;
/// Bytes of ciphertext per chunk of an attachment's blob: every chunk but the
/// last has exactly this many. One chunk is the unit of upload, resume,
/// download and authenticated encryption (the client's chunk cipher).
pub const BLOB_CHUNK_BYTES: u32 = 1 << 20;
/// Devices that may be granted reading one blob: every device a group
/// message may reach.
pub const MAX_BLOB_READERS: usize = crate::group::MAX_GROUP_DEVICES;
/// Devices named in one grant request.
pub const MAX_BLOB_READERS_PER_GRANT: usize = 1024;
