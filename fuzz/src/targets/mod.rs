//! One module per decoder of untrusted input, and the list the command line
//! and the tests run.

mod call_signal;
mod cluster_message;
mod content;
mod device_keys;
mod devices;
mod frame;
mod group_chat;
mod group_event;
mod group_message;
mod group_pickle;
mod key_upload;
mod olm_payload;
mod photo_header;
mod pickle;
mod push_subscription;
mod rest_bodies;
mod text;
mod turn_username;

use crate::engine::{Broken, Spec};
use std::fmt::Debug;

/// Every target, in the order `cargo xtask fuzz` runs them.
pub const TARGETS: &[Spec] = &[
    Spec {
        name: "client_frame",
        about: "ClientFrame::decode (the server reads it off every socket): \
                round trip, signal payload checks",
        make: frame::client,
        max_len: 4_096,
        test_runs: 20_000,
    },
    Spec {
        name: "server_frame",
        about: "ServerFrame::decode (the browser reads it off its socket): round trip",
        make: frame::server,
        max_len: 4_096,
        test_runs: 20_000,
    },
    Spec {
        name: "content",
        about: "Content::decode (a decrypted message payload): round trip, bounds",
        make: content::target,
        max_len: 2_048,
        test_runs: 10_000,
    },
    Spec {
        name: "call_signal",
        about: "Signal::decode (a decrypted call signal): round trip, bounds",
        make: call_signal::target,
        max_len: 2_048,
        test_runs: 20_000,
    },
    Spec {
        name: "olm_payload",
        about: "Machine::decrypt of a payload from a known device: no panic, \
                no plaintext that was never sent",
        make: olm_payload::target,
        max_len: 2_048,
        test_runs: 1_500,
    },
    Spec {
        name: "pickle",
        about: "Machine::unpickle of the stored crypto state, and of account and \
                session pickles under its encryption: well-formed state restores and round-trips",
        make: pickle::target,
        max_len: 32 * 1_024,
        test_runs: 300,
    },
    Spec {
        name: "group_message",
        about: "GroupSessions::decrypt of a group ciphertext as from every sender and group, \
                RoomKey::decode and add_room_key: no panic, no plaintext that was never sent \
                by that device to that group",
        make: group_message::target,
        max_len: 2_048,
        test_runs: 3_000,
    },
    Spec {
        name: "group_pickle",
        about: "GroupSessions::unpickle of the stored Megolm sessions, and of rearranged \
                encrypted sessions: well-formed state restores and round-trips",
        make: group_pickle::target,
        max_len: 8 * 1_024,
        test_runs: 150,
    },
    Spec {
        name: "key_upload",
        about: "PUT /keys body (UploadKeys JSON) through the server's key checks: \
                what the server stores re-encodes to what was signed, and clients accept it",
        make: key_upload::target,
        max_len: 16 * 1_024,
        test_runs: 1_500,
    },
    Spec {
        name: "device_keys",
        about: "directory answers (DeviceKeys, ClaimedKey JSON) into the client's \
                Machine: pins and sessions only from keys that verify",
        make: device_keys::target,
        max_len: 8 * 1_024,
        test_runs: 1_500,
    },
    Spec {
        name: "group_event",
        about: "POST /groups and /groups/{id}/events bodies (SignedGroupEvent JSON) through \
                the server's checks, and GET events answers (GroupRecord JSON) through \
                VerifiedGroup::replay: what the server stores clients accept, logs hold only \
                signed events",
        make: group_event::target,
        max_len: 16 * 1_024,
        test_runs: 3_000,
    },
    Spec {
        name: "rest_bodies",
        about: "REST JSON bodies both ways and the field checks the server applies: \
                round trip, normalised fields are fixed points",
        make: rest_bodies::target,
        max_len: 2_048,
        test_runs: 20_000,
    },
    Spec {
        name: "photo_header",
        about: "PUT /me/photo body through photos::image::size and the server's size bounds: \
                an image read as a type has its magic, a size its format can state, and \
                one accepted is within the photo limits",
        make: photo_header::target,
        max_len: 1_024,
        test_runs: 40_000,
    },
    Spec {
        name: "push_subscription",
        about: "PUT /push/subscription bodies through the server's endpoint and key checks \
                (the one URL a client makes the server call), and push notices: accepted \
                endpoints name an allowed push service, keys have their sizes",
        make: push_subscription::target,
        max_len: 1_024,
        test_runs: 20_000,
    },
    Spec {
        name: "cluster_message",
        about: "what nodes tell each other over NATS (cluster::wire::decode of device \
                messages and broadcasts): no panic, what decodes round-trips",
        make: cluster_message::target,
        max_len: 2_048,
        test_runs: 20_000,
    },
    Spec {
        name: "text",
        about: "text::runs, plain and preview on message text (lossy UTF-8): runs are the \
                text less paired delimiters, links only http(s) or mailto, previews within limits",
        make: text::target,
        max_len: 4_096,
        test_runs: 40_000,
    },
    Spec {
        name: "turn_username",
        about: "TURN REST usernames (expiry:user) from relay clients: round trip",
        make: turn_username::target,
        max_len: 256,
        test_runs: 20_000,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Spec> {
    TARGETS.iter().find(|spec| spec.name == name)
}

/// Checks that `value` encodes, to bytes that decode to `value` again.
fn round_trip<T: PartialEq + Debug, EncodeError: Debug, DecodeError: Debug>(
    value: &T,
    encode: impl Fn(&T) -> Result<Vec<u8>, EncodeError>,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<(), Broken> {
    let bytes = encode(value).map_err(|err| {
        Broken::new(
            "a decoded value encodes again",
            format!("{value:?} does not encode: {err:?}"),
        )
    })?;
    match decode(&bytes) {
        Ok(again) if &again == value => Ok(()),
        other => Err(Broken::new(
            "re-encoded value decodes the same",
            format!("{value:?} re-encoded decodes as {other:?}"),
        )),
    }
}
