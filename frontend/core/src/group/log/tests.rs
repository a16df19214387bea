//! Logs signed by real vodozemac accounts, replayed and tampered with.

use super::*;
use parley_protocol::GroupId;
use parley_protocol::group::{GroupEvent, Role, SignedGroupEvent};
use std::collections::HashMap;
use vodozemac::olm::Account;

/// A person with one device.
struct Person {
    user: UserId,
    device: DeviceId,
    account: Account,
}

impl Person {
    fn new(n: u128) -> Self {
        Self {
            user: UserId::from_uuid(uuid::Uuid::from_u128(n)),
            device: DeviceId::from_uuid(uuid::Uuid::from_u128(1000 + n)),
            account: Account::new(),
        }
    }

    fn key(&self) -> String {
        self.account.identity_keys().ed25519.to_base64()
    }
}

/// Signs `event` with `signer`'s account, and has the server name
/// `signer_key` as the key it checked.
fn record(event: GroupEvent, signer: &Account, signer_key: String) -> GroupRecord {
    let signature = signer.sign(event.signing_text().unwrap()).to_base64();
    let at = 1_700_000_000_000 + i64::try_from(event.seq).unwrap();
    GroupRecord {
        signed: SignedGroupEvent { event, signature },
        signer_key,
        at,
    }
}

/// A log as the server builds it: each event names the last one's hash.
struct Chain {
    group: GroupId,
    records: Vec<GroupRecord>,
}

impl Chain {
    fn new() -> Self {
        Self {
            group: GroupId::from_uuid(uuid::Uuid::from_u128(77)),
            records: Vec::new(),
        }
    }

    /// The next event, unsigned and not appended.
    fn event(&self, by: &Person, change: GroupChange) -> GroupEvent {
        let prev = self
            .records
            .last()
            .map_or([0; 32], |r| r.signed.hash().unwrap());
        GroupEvent {
            group: self.group,
            seq: self.records.len() as u64 + 1,
            prev,
            by: by.user,
            by_device: by.device,
            change,
        }
    }

    /// The next event signed by `by`'s device, appended.
    fn next(&mut self, by: &Person, change: GroupChange) -> GroupRecord {
        let record = record(self.event(by, change), &by.account, by.key());
        self.records.push(record.clone());
        record
    }
}

/// Every device's owner and key, pinned.
fn pins(people: &[&Person]) -> HashMap<DeviceId, (UserId, String)> {
    people
        .iter()
        .map(|p| (p.device, (p.user, p.key())))
        .collect()
}

fn create(chain: &mut Chain, by: &Person, members: &[&Person]) -> GroupRecord {
    chain.next(
        by,
        GroupChange::Create {
            name: "Hikers".into(),
            description: String::new(),
            members: members.iter().map(|p| p.user).collect(),
        },
    )
}

#[test]
fn a_signed_log_replays_with_a_notice_per_change() {
    let (alice, bob, carol, dave) = (
        Person::new(1),
        Person::new(2),
        Person::new(3),
        Person::new(4),
    );
    let pins = pins(&[&alice, &bob, &carol, &dave]);
    let pinned = |d: DeviceId| pins.get(&d).cloned();
    let mut chain = Chain::new();
    create(&mut chain, &alice, &[&bob, &carol]);
    chain.next(
        &alice,
        GroupChange::Add {
            users: vec![dave.user],
        },
    );
    chain.next(&alice, GroupChange::Promote { user: bob.user });
    chain.next(&bob, GroupChange::Remove { user: carol.user });
    chain.next(
        &bob,
        GroupChange::Rename {
            name: "Trail".into(),
        },
    );
    chain.next(
        &bob,
        GroupChange::Describe {
            description: "Sundays".into(),
        },
    );
    chain.next(
        &alice,
        GroupChange::Restrict {
            admins_send: true,
            admins_edit: false,
        },
    );
    chain.next(&alice, GroupChange::Demote { user: bob.user });
    chain.next(&alice, GroupChange::Leave);

    let (group, history) = VerifiedGroup::replay(&chain.records, pinned).unwrap();
    let notices: Vec<Vec<Notice>> = history.iter().map(|a| a.notices.clone()).collect();
    let (a, b, c, d) = (alice.user, bob.user, carol.user, dave.user);
    assert_eq!(
        notices,
        vec![
            vec![
                Notice::Created {
                    by: a,
                    name: "Hikers".into()
                },
                Notice::Added {
                    by: a,
                    users: vec![b, c]
                },
            ],
            vec![Notice::Added {
                by: a,
                users: vec![d]
            }],
            vec![Notice::Promoted { by: a, user: b }],
            vec![Notice::Removed { by: b, user: c }],
            vec![Notice::Renamed {
                by: b,
                name: "Trail".into()
            }],
            vec![Notice::Described { by: b }],
            vec![Notice::Restricted {
                by: a,
                admins_send: true,
                admins_edit: false
            }],
            vec![Notice::Demoted { by: a, user: b }],
            // No admin left: Bob, a member since the creation, takes over.
            vec![Notice::Left { user: a }, Notice::AutoPromoted { user: b }],
        ]
    );
    assert_eq!(
        history.iter().map(|h| h.seq).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
    assert_eq!(history[3].at, chain.records[3].at);

    // "You were removed" / "You left", for the right person only.
    assert_eq!(history[3].departure(c), Some(Departure::Removed { by: b }));
    assert_eq!(history[3].departure(b), None);
    assert_eq!(history[8].departure(a), Some(Departure::Left));
    assert_eq!(history[8].departure(b), None);
    assert!(history.iter().all(|h| h.departure(d).is_none()));

    let roster = group.roster();
    assert_eq!(roster.seq, 9);
    assert_eq!(roster.name, "Trail");
    assert_eq!(roster.description, "Sundays");
    assert!(roster.admins_send);
    assert_eq!(roster.role(b), Some(Role::Admin));
    assert_eq!(roster.role(d), Some(Role::Member));
    assert!(!roster.is_member(a) && !roster.is_member(c));

    // Applying one record at a time comes to the same.
    let (mut step, _) = VerifiedGroup::create(&chain.records[0], pinned).unwrap();
    for (record, expected) in chain.records[1..].iter().zip(&history[1..]) {
        assert_eq!(&step.apply(record, pinned).unwrap(), expected);
    }
    assert_eq!(step, group);
}

#[test]
fn an_add_by_a_non_admin_is_refused_and_changes_nothing() {
    let (alice, bob, mallory) = (Person::new(1), Person::new(2), Person::new(9));
    let pins = pins(&[&alice, &bob, &mallory]);
    let pinned = |d: DeviceId| pins.get(&d).cloned();
    let mut chain = Chain::new();
    let (mut group, _) =
        VerifiedGroup::create(&create(&mut chain, &alice, &[&bob]), pinned).unwrap();
    let before = group.clone();

    // Validly signed by Bob's own device, but Bob is no admin.
    let by_member = record(
        chain.event(
            &bob,
            GroupChange::Add {
                users: vec![mallory.user],
            },
        ),
        &bob.account,
        bob.key(),
    );
    assert_eq!(
        group.apply(&by_member, pinned),
        Err(LogError::Rule(RuleError::NotAdmin))
    );
    assert_eq!(group, before);
    assert!(!group.roster().is_member(mallory.user));

    // The log goes on from where it was.
    let by_admin = chain.next(
        &alice,
        GroupChange::Add {
            users: vec![mallory.user],
        },
    );
    assert!(group.apply(&by_admin, pinned).is_ok());
    assert!(group.roster().is_member(mallory.user));
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let (alice, bob, mallory) = (Person::new(1), Person::new(2), Person::new(9));
    let pins = pins(&[&alice, &bob]);
    let pinned = |d: DeviceId| pins.get(&d).cloned();
    let mut chain = Chain::new();
    let (mut group, _) =
        VerifiedGroup::create(&create(&mut chain, &alice, &[&bob]), pinned).unwrap();
    let before = group.clone();
    let add = chain.event(
        &alice,
        GroupChange::Add {
            users: vec![mallory.user],
        },
    );

    // Mallory signs as Alice's device; the server names Alice's key.
    let forged = record(add.clone(), &mallory.account, alice.key());
    assert_eq!(group.apply(&forged, pinned), Err(LogError::BadSignature));
    // Without any pin too: the signature itself fails.
    assert_eq!(group.apply(&forged, |_| None), Err(LogError::BadSignature));

    // Alice's signature, on an event changed afterwards.
    let mut changed = record(add.clone(), &alice.account, alice.key());
    changed.signed.event.change = GroupChange::Add {
        users: vec![mallory.user, Person::new(10).user],
    };
    assert_eq!(group.apply(&changed, pinned), Err(LogError::BadSignature));

    // No signature to speak of.
    for signature in ["", "not base64!", "AAAA"] {
        let mut garbage = record(add.clone(), &alice.account, alice.key());
        garbage.signed.signature = signature.into();
        assert_eq!(group.apply(&garbage, pinned), Err(LogError::BadSignature));
    }
    assert_eq!(group, before);
}

#[test]
fn a_signer_key_swapped_by_the_server_is_caught_by_the_pin() {
    let (alice, bob, server) = (Person::new(1), Person::new(2), Person::new(99));
    let pins = pins(&[&alice, &bob]);
    let pinned = |d: DeviceId| pins.get(&d).cloned();
    let mut chain = Chain::new();
    let (mut group, _) =
        VerifiedGroup::create(&create(&mut chain, &alice, &[&bob]), pinned).unwrap();
    let before = group.clone();

    // The server signs an event as Alice's device with a key of its own,
    // and names that key as the signer's: the signature verifies.
    let add = chain.event(
        &alice,
        GroupChange::Add {
            users: vec![server.user],
        },
    );
    let swapped = record(add, &server.account, server.key());
    assert_eq!(group.apply(&swapped, pinned), Err(LogError::KeyMismatch));
    assert_eq!(group, before);

    // A device this one never pinned is taken at the server's word (the
    // safety number is how people check it).
    let mut unpinned = group.clone();
    assert!(unpinned.apply(&swapped, |_| None).is_ok());
    assert!(unpinned.roster().is_member(server.user));

    // A creation record is checked the same way.
    let other = Chain::new();
    let event = other.event(
        &alice,
        GroupChange::Create {
            name: "Hikers".into(),
            description: String::new(),
            members: vec![server.user],
        },
    );
    let swapped = record(event, &server.account, server.key());
    assert_eq!(
        VerifiedGroup::create(&swapped, pinned).map(|_| ()),
        Err(LogError::KeyMismatch)
    );
}

#[test]
fn a_member_device_acting_as_an_admin_is_refused() {
    let (alice, bob, mallory) = (Person::new(1), Person::new(2), Person::new(3));
    let pins = pins(&[&alice, &bob]);
    let pinned = |d: DeviceId| pins.get(&d).cloned();
    let mut chain = Chain::new();
    let (mut group, _) =
        VerifiedGroup::create(&create(&mut chain, &alice, &[&bob]), pinned).unwrap();
    let before = group.clone();
    // Bob's own device signs, correctly, an event that names Alice, the
    // admin, as the one who adds Mallory; a server in league with Bob
    // would store it.
    let mut add = chain.event(
        &alice,
        GroupChange::Add {
            users: vec![mallory.user],
        },
    );
    add.by_device = bob.device;
    let forged = record(add, &bob.account, bob.key());
    assert_eq!(group.apply(&forged, pinned), Err(LogError::NotTheirDevice));
    assert_eq!(group, before);
    assert!(!group.roster().is_member(mallory.user));
}

#[test]
fn a_broken_chain_is_refused() {
    let (alice, bob, carol) = (Person::new(1), Person::new(2), Person::new(3));
    let pins = pins(&[&alice, &bob]);
    let pinned = |d: DeviceId| pins.get(&d).cloned();
    let mut chain = Chain::new();
    let (mut group, _) =
        VerifiedGroup::create(&create(&mut chain, &alice, &[&bob]), pinned).unwrap();
    let before = group.clone();

    // Properly signed, but naming another previous event.
    let mut add = chain.event(
        &alice,
        GroupChange::Add {
            users: vec![carol.user],
        },
    );
    add.prev = [9; 32];
    let broken = record(add.clone(), &alice.account, alice.key());
    assert_eq!(
        group.apply(&broken, pinned),
        Err(LogError::Rule(RuleError::BrokenChain))
    );
    // Or skipping a place in the log.
    let mut skipped = chain.event(
        &alice,
        GroupChange::Add {
            users: vec![carol.user],
        },
    );
    skipped.seq = 3;
    let skipped = record(skipped, &alice.account, alice.key());
    assert_eq!(
        group.apply(&skipped, pinned),
        Err(LogError::Rule(RuleError::NotNext))
    );
    assert_eq!(group, before);

    // In a replay, the whole log is refused.
    chain.records.push(broken);
    assert_eq!(
        VerifiedGroup::replay(&chain.records, pinned).map(|_| ()),
        Err(LogError::Rule(RuleError::BrokenChain))
    );
}

#[test]
fn a_malformed_signer_key_is_refused_without_a_panic() {
    let alice = Person::new(1);
    let mut chain = Chain::new();
    let create = create(&mut chain, &alice, &[]);
    // 44 unpadded characters: vodozemac's own parser panics on these.
    for key in [String::new(), "A".repeat(44), "A".repeat(42), "nope".into()] {
        let bad = GroupRecord {
            signer_key: key.clone(),
            ..create.clone()
        };
        assert_eq!(
            VerifiedGroup::create(&bad, |_| None).map(|_| ()),
            Err(LogError::MalformedKey),
            "{key}"
        );
    }
    // A pin that is no key is no match.
    assert_eq!(
        VerifiedGroup::create(&create, |_| Some((create.signed.event.by, "A".repeat(44))))
            .map(|_| ()),
        Err(LogError::KeyMismatch)
    );
}

#[test]
fn a_log_starts_with_its_creation() {
    let (alice, bob) = (Person::new(1), Person::new(2));
    assert_eq!(
        VerifiedGroup::replay(&[], |_| None).map(|_| ()),
        Err(LogError::Empty)
    );
    let mut chain = Chain::new();
    let first = chain.next(
        &alice,
        GroupChange::Add {
            users: vec![bob.user],
        },
    );
    assert_eq!(
        VerifiedGroup::replay(&[first], |_| None).map(|_| ()),
        Err(LogError::Rule(RuleError::NotCreation))
    );
}
