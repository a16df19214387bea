//! Devices exchanging group messages, with room keys handed over directly
//! where the engine would send them over Olm.

use super::*;
use crate::group::rotation::{MAX_AGE, MAX_MESSAGES};

const T0: Millis = 1_700_000_000_000;
const KEY: [u8; 32] = [7; 32];

fn group(n: u128) -> GroupId {
    GroupId::from_uuid(uuid::Uuid::from_u128(n))
}

struct Dev {
    id: DeviceId,
    ed25519: String,
    sessions: GroupSessions,
}

fn dev() -> Dev {
    let id = DeviceId::new_v7();
    Dev {
        id,
        ed25519: format!("ed25519 of {id}"),
        sessions: GroupSessions::new(id),
    }
}

/// `from` gets its session ready for `members`, hands the key (encoded and
/// decoded, as over Olm) to each device that needs it, and encrypts `text`.
fn send(
    from: &mut Dev,
    group: GroupId,
    members: &mut [&mut Dev],
    text: &str,
    now: Millis,
) -> (Share, Vec<u8>) {
    let ids: Vec<DeviceId> = members.iter().map(|d| d.id).collect();
    let share = from.sessions.prepare(group, &ids, now);
    let bytes = share.key.encode().unwrap();
    for member in members.iter_mut() {
        if share.devices.contains(&member.id) {
            let key = RoomKey::decode(&bytes).unwrap();
            let stored = member.sessions.add_room_key(from.id, &from.ed25519, &key);
            assert_eq!(stored, Ok(true));
        }
    }
    assert!(
        from.sessions
            .mark_shared(group, &share.key.session_id, &share.devices)
    );
    let ciphertext = from.sessions.encrypt(group, text.as_bytes(), now).unwrap();
    (share, ciphertext)
}

fn read(to: &mut Dev, group: GroupId, from: &Dev, ciphertext: &[u8]) -> Result<String, GroupError> {
    let plaintext = to.sessions.decrypt(group, from.id, ciphertext)?;
    Ok(String::from_utf8(plaintext).unwrap())
}

fn sorted(mut devices: Vec<DeviceId>) -> Vec<DeviceId> {
    devices.sort();
    devices
}

#[test]
fn members_read_one_ciphertext_and_each_gets_the_key_once() {
    let g = group(1);
    let (mut alice, mut bob, mut carol) = (dev(), dev(), dev());

    let (share, first) = send(&mut alice, g, &mut [&mut bob, &mut carol], "hello", T0);
    assert_eq!(share.rotated, Some(Rotation::NoSession));
    assert_eq!(share.devices, sorted(vec![bob.id, carol.id]));
    assert_eq!(read(&mut bob, g, &alice, &first).as_deref(), Ok("hello"));
    assert_eq!(read(&mut carol, g, &alice, &first).as_deref(), Ok("hello"));

    let (share, second) = send(&mut alice, g, &mut [&mut bob, &mut carol], "again", T0 + 1);
    assert_eq!(share.rotated, None);
    assert!(share.devices.is_empty(), "{:?}", share.devices);
    assert_eq!(read(&mut bob, g, &alice, &second).as_deref(), Ok("again"));
    assert_eq!(read(&mut carol, g, &alice, &second).as_deref(), Ok("again"));

    // This device in the member list (as the server lists them) is left out.
    let share = alice
        .sessions
        .prepare(g, &[alice.id, bob.id, carol.id, bob.id], T0 + 2);
    assert_eq!(share.rotated, None);
    assert!(share.devices.is_empty());
}

#[test]
fn encrypting_needs_a_prepared_session() {
    let mut alice = dev();
    assert_eq!(
        alice.sessions.encrypt(group(1), b"x", T0),
        Err(GroupError::NoOutboundSession)
    );
}

#[test]
fn a_removed_members_device_cannot_read_what_is_sent_after() {
    let g = group(1);
    let (mut alice, mut bob, mut carol) = (dev(), dev(), dev());
    let (_, before) = send(&mut alice, g, &mut [&mut bob, &mut carol], "before", T0);

    // Carol was removed: her device is not among the member devices any more.
    let (share, after) = send(&mut alice, g, &mut [&mut bob], "after", T0 + 1);
    assert_eq!(share.rotated, Some(Rotation::DeviceGone(carol.id)));
    assert_eq!(share.devices, vec![bob.id]);
    assert_eq!(read(&mut bob, g, &alice, &after).as_deref(), Ok("after"));
    assert_eq!(
        read(&mut carol, g, &alice, &after),
        Err(GroupError::UnknownSession)
    );
    // What she received while a member stays readable to her.
    assert_eq!(
        read(&mut carol, g, &alice, &before).as_deref(),
        Ok("before")
    );
}

#[test]
fn a_new_device_cannot_read_what_was_sent_before_it_got_the_key() {
    let g = group(1);
    let (mut alice, mut bob, mut dave) = (dev(), dev(), dev());
    let (_, before) = send(&mut alice, g, &mut [&mut bob], "before", T0);

    // Dave (or a new device of Bob's) joins: no rotation, Dave gets the
    // key at the current index.
    let (share, after) = send(&mut alice, g, &mut [&mut bob, &mut dave], "after", T0 + 1);
    assert_eq!(share.rotated, None);
    assert_eq!(share.devices, vec![dave.id]);
    assert_eq!(
        read(&mut dave, g, &alice, &before),
        Err(GroupError::BeforeFirstKnownIndex {
            first_known: 1,
            index: 0
        })
    );
    assert_eq!(read(&mut dave, g, &alice, &after).as_deref(), Ok("after"));
    assert_eq!(read(&mut bob, g, &alice, &after).as_deref(), Ok("after"));
}

#[test]
fn the_session_is_replaced_after_a_hundred_messages() {
    let g = group(1);
    let (mut alice, mut bob) = (dev(), dev());
    let (first, _) = send(&mut alice, g, &mut [&mut bob], "0", T0);
    for n in 1..MAX_MESSAGES {
        let (share, ciphertext) = send(&mut alice, g, &mut [&mut bob], &n.to_string(), T0);
        assert_eq!(share.rotated, None, "message {n}");
        assert_eq!(share.key.session_id, first.key.session_id);
        assert_eq!(read(&mut bob, g, &alice, &ciphertext), Ok(n.to_string()));
    }
    // Used up: refused without a prepare, replaced by one.
    assert_eq!(
        alice.sessions.encrypt(g, b"101", T0),
        Err(GroupError::NoOutboundSession)
    );
    let (share, ciphertext) = send(&mut alice, g, &mut [&mut bob], "101", T0);
    assert_eq!(share.rotated, Some(Rotation::Used));
    assert_ne!(share.key.session_id, first.key.session_id);
    assert_eq!(share.devices, vec![bob.id]);
    assert_eq!(read(&mut bob, g, &alice, &ciphertext).as_deref(), Ok("101"));
}

#[test]
fn the_session_is_replaced_after_a_week() {
    let g = group(1);
    let (mut alice, mut bob) = (dev(), dev());
    let (first, _) = send(&mut alice, g, &mut [&mut bob], "monday", T0);
    let (share, _) = send(&mut alice, g, &mut [&mut bob], "sunday", T0 + MAX_AGE - 1);
    assert_eq!(share.rotated, None);

    let later = T0 + MAX_AGE;
    assert_eq!(
        alice.sessions.encrypt(g, b"monday again", later),
        Err(GroupError::NoOutboundSession)
    );
    let (share, ciphertext) = send(&mut alice, g, &mut [&mut bob], "monday again", later);
    assert_eq!(share.rotated, Some(Rotation::Expired));
    assert_ne!(share.key.session_id, first.key.session_id);
    assert_eq!(
        read(&mut bob, g, &alice, &ciphertext).as_deref(),
        Ok("monday again")
    );
}

#[test]
fn an_acceptance_for_a_replaced_session_does_not_count() {
    let g = group(1);
    let (mut alice, bob) = (dev(), dev());
    let old = alice.sessions.prepare(g, &[bob.id], T0);
    let new = alice.sessions.prepare(g, &[bob.id], T0 + MAX_AGE);
    assert_eq!(new.rotated, Some(Rotation::Expired));
    assert!(
        !alice
            .sessions
            .mark_shared(g, &old.key.session_id, &[bob.id])
    );
    let again = alice.sessions.prepare(g, &[bob.id], T0 + MAX_AGE);
    assert_eq!(again.devices, vec![bob.id], "Bob still needs the new key");
    assert_eq!(
        alice.sessions.outbound_session_id(g),
        Some(new.key.session_id)
    );
}

#[test]
fn a_key_opens_only_the_messages_of_the_device_that_shared_it() {
    let (g, h) = (group(1), group(2));
    let (mut alice, mut bob, mut mallory) = (dev(), dev(), dev());
    let (share, ciphertext) = send(&mut alice, g, &mut [&mut bob, &mut mallory], "mine", T0);

    // The server says Mallory's device sent Alice's message.
    assert_eq!(
        read(&mut bob, g, &mallory, &ciphertext),
        Err(GroupError::WrongSender)
    );
    // Or that it was sent to another group.
    assert_eq!(
        read(&mut bob, h, &alice, &ciphertext),
        Err(GroupError::WrongSender)
    );

    // Mallory, a member, holds Alice's key and passes it to Carol as her
    // own, for this group and for another one; then relays Alice's message
    // as hers. The signed plaintext names Alice's device and group.
    let mut carol = dev();
    for to in [g, h] {
        let forwarded = RoomKey {
            group: to,
            ..share.key.clone()
        };
        assert_eq!(
            carol
                .sessions
                .add_room_key(mallory.id, &mallory.ed25519, &forwarded),
            Ok(true)
        );
        assert_eq!(
            read(&mut carol, to, &mallory, &ciphertext),
            Err(GroupError::WrongSender)
        );
    }
    assert_eq!(
        read(&mut bob, g, &alice, &ciphertext).as_deref(),
        Ok("mine")
    );
}

#[test]
fn a_second_key_for_a_session_keeps_the_earliest_index() {
    let g = group(1);
    let (mut alice, mut bob, mut carol) = (dev(), dev(), dev());
    let (early, m0) = send(&mut alice, g, &mut [&mut bob], "m0", T0);
    let (_, m1) = send(&mut alice, g, &mut [&mut bob], "m1", T0);
    let late = alice.sessions.prepare(g, &[bob.id], T0).key;
    assert_eq!(late.session_id, early.key.session_id);

    // A later key does not replace an earlier one.
    assert_eq!(
        bob.sessions.add_room_key(alice.id, &alice.ed25519, &late),
        Ok(false)
    );
    assert_eq!(read(&mut bob, g, &alice, &m0).as_deref(), Ok("m0"));

    // An earlier key replaces a later one.
    assert_eq!(
        carol.sessions.add_room_key(alice.id, &alice.ed25519, &late),
        Ok(true)
    );
    assert_eq!(
        read(&mut carol, g, &alice, &m1),
        Err(GroupError::BeforeFirstKnownIndex {
            first_known: 2,
            index: 1
        })
    );
    assert_eq!(
        carol
            .sessions
            .add_room_key(alice.id, &alice.ed25519, &early.key),
        Ok(true)
    );
    assert_eq!(read(&mut carol, g, &alice, &m1).as_deref(), Ok("m1"));
    assert_eq!(read(&mut carol, g, &alice, &m0).as_deref(), Ok("m0"));

    // The same session from the same device under another identity.
    assert_eq!(
        carol
            .sessions
            .add_room_key(alice.id, "someone else", &early.key),
        Err(GroupError::SenderChanged)
    );
    assert_eq!(
        carol
            .sessions
            .sender_ed25519(g, alice.id, &early.key.session_id),
        Some(alice.ed25519.as_str())
    );
}

#[test]
fn a_bad_room_key_is_refused() {
    let (mut alice, mut bob) = (dev(), dev());
    let mut key = alice.sessions.prepare(group(1), &[bob.id], T0).key;
    key.session_key.replace_range(10..12, "AA");
    assert!(matches!(
        bob.sessions.add_room_key(alice.id, &alice.ed25519, &key),
        Err(GroupError::Malformed(_))
    ));
}

#[test]
fn malformed_ciphertext_is_an_error_not_a_panic() {
    let g = group(1);
    let (mut alice, mut bob) = (dev(), dev());
    let (_, good) = send(&mut alice, g, &mut [&mut bob], "fine", T0);

    assert!(matches!(
        read(&mut bob, g, &alice, &[]),
        Err(GroupError::Malformed(_))
    ));
    for len in 0..good.len() {
        assert!(read(&mut bob, g, &alice, &good[..len]).is_err(), "{len}");
    }
    // Any single flipped bit: refused (the envelope, the index, the
    // ciphertext, the MAC or the signature no longer add up).
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert!(read(&mut bob, g, &alice, &bad).is_err(), "byte {at}");
    }
    // A byte of the signature's R (the message ends with R then S): it
    // still parses, and no longer verifies.
    let mut forged = good.clone();
    let r = forged.len() - 60;
    forged[r] ^= 0x01;
    assert_eq!(
        read(&mut bob, g, &alice, &forged),
        Err(GroupError::Undecryptable)
    );
    // Noise of every length up to a few hundred bytes.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for len in 0..400 {
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        assert!(read(&mut bob, g, &alice, &noise).is_err());
    }
    assert_eq!(read(&mut bob, g, &alice, &good).as_deref(), Ok("fine"));
}

#[test]
fn a_restored_device_decrypts_and_encrypts_as_before() {
    let g = group(1);
    let (mut alice, mut bob) = (dev(), dev());
    let (first, m1) = send(&mut alice, g, &mut [&mut bob], "one", T0);

    let restore = |d: &Dev| {
        let text = d.sessions.pickle(&KEY).unwrap();
        assert!(!text.contains(&first.key.session_key[..20]), "sealed");
        GroupSessions::unpickle(&text, &KEY).unwrap()
    };
    alice.sessions = restore(&alice);
    bob.sessions = restore(&bob);
    assert_eq!(alice.sessions.device(), alice.id);

    // Same session, still shared with Bob, still counting.
    let (share, m2) = send(&mut alice, g, &mut [&mut bob], "two", T0 + 1);
    assert_eq!(share.rotated, None);
    assert!(share.devices.is_empty());
    assert_eq!(share.key.session_id, first.key.session_id);
    assert_eq!(read(&mut bob, g, &alice, &m1).as_deref(), Ok("one"));
    assert_eq!(read(&mut bob, g, &alice, &m2).as_deref(), Ok("two"));
    assert_eq!(
        bob.sessions
            .sender_ed25519(g, alice.id, &first.key.session_id),
        Some(alice.ed25519.as_str())
    );

    let text = bob.sessions.pickle(&KEY).unwrap();
    assert_eq!(
        GroupSessions::unpickle(&text, &[8; 32]).map(|_| ()),
        Err(GroupError::BadPickle)
    );
    assert_eq!(
        GroupSessions::unpickle("{", &KEY).map(|_| ()),
        Err(GroupError::BadPickle)
    );
}

#[test]
fn the_message_count_survives_a_restore() {
    let g = group(1);
    let (mut alice, mut bob) = (dev(), dev());
    for n in 0..MAX_MESSAGES {
        send(&mut alice, g, &mut [&mut bob], &n.to_string(), T0);
    }
    let text = alice.sessions.pickle(&KEY).unwrap();
    alice.sessions = GroupSessions::unpickle(&text, &KEY).unwrap();
    let (share, _) = send(&mut alice, g, &mut [&mut bob], "next", T0);
    assert_eq!(share.rotated, Some(Rotation::Used));
}

#[test]
fn forgetting_a_group_drops_its_sessions_only() {
    let (g, h) = (group(1), group(2));
    let (mut alice, mut bob) = (dev(), dev());
    let (_, in_g) = send(&mut alice, g, &mut [&mut bob], "g", T0);
    let (_, in_h) = send(&mut alice, h, &mut [&mut bob], "h", T0);
    let (_, from_bob) = send(&mut bob, g, &mut [&mut alice], "from bob", T0);

    bob.sessions.forget_group(g);
    assert_eq!(
        read(&mut bob, g, &alice, &in_g),
        Err(GroupError::UnknownSession)
    );
    assert_eq!(
        bob.sessions.encrypt(g, b"x", T0),
        Err(GroupError::NoOutboundSession)
    );
    assert_eq!(read(&mut bob, h, &alice, &in_h).as_deref(), Ok("h"));
    // Alice's copy of Bob's key is hers: unaffected.
    assert_eq!(
        read(&mut alice, g, &bob, &from_bob).as_deref(),
        Ok("from bob")
    );
}

#[test]
fn parts_are_written_on_their_own_and_merge_back_into_the_whole() {
    let (g1, g2) = (group(1), group(2));
    let (mut alice, mut bob, mut cara) = (dev(), dev(), dev());
    send(&mut alice, g1, &mut [&mut bob], "one", T0);
    assert_eq!(bob.sessions.take_dirty(), vec![Part::Inbound(g1)]);
    send(&mut cara, g2, &mut [&mut bob], "two", T0);
    let (_, m) = send(&mut bob, g1, &mut [&mut alice], "three", T0);
    // A send rewrites the outbound part only; a key, its group's part.
    assert_eq!(
        bob.sessions.take_dirty(),
        vec![Part::Outbound, Part::Inbound(g2)]
    );
    assert!(bob.sessions.take_dirty().is_empty());

    let mut back = GroupSessions::new(bob.id);
    for part in [Part::Outbound, Part::Inbound(g1), Part::Inbound(g2)] {
        let text = bob.sessions.pickle_part(part, &KEY).unwrap();
        back.merge(&text, &KEY).unwrap();
    }
    bob.sessions = back;
    assert_eq!(read(&mut alice, g1, &bob, &m).as_deref(), Ok("three"));
    let (_, again) = send(&mut cara, g2, &mut [&mut bob], "four", T0 + 1);
    assert_eq!(read(&mut bob, g2, &cara, &again).as_deref(), Ok("four"));
    let (share, _) = send(&mut bob, g1, &mut [&mut alice], "five", T0 + 1);
    assert!(share.devices.is_empty(), "still shared with Alice");

    let other = GroupSessions::new(alice.id)
        .pickle_part(Part::Outbound, &KEY)
        .unwrap();
    assert_eq!(
        bob.sessions.merge(&other, &KEY),
        Err(GroupError::BadPickle),
        "another device's state"
    );
}

#[test]
fn a_sender_keeps_at_most_its_newest_sessions_here() {
    let g = group(1);
    let (mut alice, mut bob) = (dev(), dev());
    let (first, m1) = send(&mut alice, g, &mut [&mut bob], "first", T0);
    for n in 1..=MAX_SESSIONS_PER_SENDER {
        // A new session each time, as a hostile member could send.
        alice.sessions.forget_group(g);
        send(&mut alice, g, &mut [&mut bob], "more", T0 + n as Millis);
    }
    assert_eq!(
        read(&mut bob, g, &alice, &m1),
        Err(GroupError::UnknownSession),
        "the oldest went"
    );
    assert!(
        bob.sessions
            .sender_ed25519(g, alice.id, &first.key.session_id)
            .is_none()
    );
    let (_, last) = send(&mut alice, g, &mut [&mut bob], "last", T0 + 100);
    assert_eq!(read(&mut bob, g, &alice, &last).as_deref(), Ok("last"));
}

#[test]
fn a_key_on_its_way_is_not_sent_again_but_is_after_a_reload() {
    let g = group(1);
    let (mut alice, bob, cara) = (dev(), dev(), dev());
    let members = [bob.id, cara.id];
    let share = alice.sessions.prepare(g, &members, T0);
    alice
        .sessions
        .mark_pending(g, &share.key.session_id, &share.devices);
    // A second message before the server answered: no second share.
    let again = alice.sessions.prepare(g, &members, T0);
    assert_eq!((again.rotated, again.devices.len()), (None, 0));
    // Restored before the answer came: the share may not have left.
    let text = alice.sessions.pickle(&KEY).unwrap();
    let mut restored = GroupSessions::unpickle(&text, &KEY).unwrap();
    let after = restored.prepare(g, &members, T0);
    assert_eq!(after.key.session_id, share.key.session_id);
    assert_eq!(after.devices, sorted(members.to_vec()));
    // A device the key went to that is no longer a member's: rotate.
    let gone = alice.sessions.prepare(g, &[bob.id], T0);
    assert_eq!(gone.rotated, Some(Rotation::DeviceGone(cara.id)));
}
