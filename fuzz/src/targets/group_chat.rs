//! A group conversation for the Megolm targets' seeds: three devices with
//! real sessions in two groups, room keys handed over as the engine sends
//! them over Olm (encoded, then decoded), and what each device sent where.

use super::devices::{ALICE, BOB};
use parley_client::crypto::Machine;
use parley_client::group::{GroupSessions, RoomKey};
use parley_protocol::{DeviceId, GroupId, Millis};
use uuid::Uuid;

/// Carol's device.
pub const CAROL: DeviceId =
    DeviceId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_ca01));
/// The group all three are in.
pub const HIKERS: GroupId =
    GroupId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_9001));
/// A group of Alice and Bob.
pub const PAIR: GroupId =
    GroupId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_9002));
/// When the conversation starts.
pub const T0: Millis = 1_700_000_000_000;

/// One device's Megolm state.
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// Its Ed25519 identity, as other devices' Olm machines pinned it.
    pub ed25519: String,
    /// Its sessions.
    pub sessions: GroupSessions,
}

impl Device {
    fn new(id: DeviceId) -> Self {
        Self {
            id,
            ed25519: Machine::new(id).identity().ed25519,
            sessions: GroupSessions::new(id),
        }
    }
}

/// A group message as it was sent.
pub struct Sent {
    /// The group.
    pub group: GroupId,
    /// The sending device.
    pub from: DeviceId,
    /// The session that encrypted it.
    pub session_id: String,
    /// What it encrypted.
    pub plaintext: Vec<u8>,
    /// The one ciphertext for every member device.
    pub ciphertext: Vec<u8>,
}

/// Alice, Bob and Carol after a few messages.
pub struct GroupChat {
    /// Alice: outbound sessions for both groups, Carol's key for the first.
    pub alice: Device,
    /// Bob: keys from Alice (three sessions) and from Carol.
    pub bob: Device,
    /// Every message sent, in order.
    pub sent: Vec<Sent>,
    /// Every room key sent, encoded as over Olm.
    pub room_keys: Vec<Vec<u8>>,
}

impl GroupChat {
    /// Whether `from` sent `plaintext` to `group`.
    pub fn was_sent(&self, group: GroupId, from: DeviceId, plaintext: &[u8]) -> bool {
        self.sent
            .iter()
            .any(|s| s.group == group && s.from == from && s.plaintext == plaintext)
    }

    /// Every group and sending device a ciphertext can be read as.
    pub fn labels() -> [(GroupId, DeviceId); 5] {
        [
            (HIKERS, ALICE),
            (HIKERS, CAROL),
            (PAIR, ALICE),
            (PAIR, CAROL),
            (HIKERS, BOB),
        ]
    }
}

/// `from` gets its session for `group` ready for `members`, hands its key
/// to each member device that needs it, and encrypts `text`.
fn send(
    from: &mut Device,
    group: GroupId,
    members: &mut [&mut Device],
    text: &[u8],
    now: Millis,
    room_keys: &mut Vec<Vec<u8>>,
) -> Result<Sent, String> {
    let ids: Vec<DeviceId> = members.iter().map(|d| d.id).collect();
    let share = from.sessions.prepare(group, &ids, now);
    let bytes = share.key.encode().map_err(|e| e.to_string())?;
    for member in members.iter_mut() {
        if share.devices.contains(&member.id) {
            let key = RoomKey::decode(&bytes).map_err(|e| format!("a real room key: {e}"))?;
            if member.sessions.add_room_key(from.id, &from.ed25519, &key) != Ok(true) {
                return Err("a real room key is not stored".into());
            }
        }
    }
    if !share.devices.is_empty() {
        room_keys.push(bytes);
    }
    from.sessions
        .mark_shared(group, &share.key.session_id, &share.devices);
    let ciphertext = from
        .sessions
        .encrypt(group, text, now)
        .map_err(|e| format!("encrypting: {e}"))?;
    Ok(Sent {
        group,
        from: from.id,
        session_id: share.key.session_id,
        plaintext: text.to_vec(),
        ciphertext,
    })
}

/// The conversation: Alice writes to Carol before Bob joins (so Bob gets
/// her key at a later index), then to both, Carol answers, Alice writes to
/// the other group, and after Carol is gone Alice's session is replaced.
pub fn group_chat() -> Result<GroupChat, String> {
    let (mut alice, mut bob, mut carol) =
        (Device::new(ALICE), Device::new(BOB), Device::new(CAROL));
    let mut keys = Vec::new();
    let mut sent = Vec::new();
    sent.push(send(
        &mut alice,
        HIKERS,
        &mut [&mut carol],
        b"before Bob",
        T0,
        &mut keys,
    )?);
    for (n, text) in [&b"hello"[..], b"", &[0; 300][..]].into_iter().enumerate() {
        let at = T0 + 1 + n as Millis;
        sent.push(send(
            &mut alice,
            HIKERS,
            &mut [&mut bob, &mut carol],
            text,
            at,
            &mut keys,
        )?);
    }
    sent.push(send(
        &mut carol,
        HIKERS,
        &mut [&mut alice, &mut bob],
        "from Carol 🌊".as_bytes(),
        T0 + 10,
        &mut keys,
    )?);
    sent.push(send(
        &mut alice,
        PAIR,
        &mut [&mut bob],
        b"the other group",
        T0 + 11,
        &mut keys,
    )?);
    sent.push(send(
        &mut alice,
        HIKERS,
        &mut [&mut bob],
        b"after Carol left",
        T0 + 12,
        &mut keys,
    )?);
    Ok(GroupChat {
        alice,
        bob,
        sent,
        room_keys: keys,
    })
}
