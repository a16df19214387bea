//! A group's signed log as it travels in JSON, picked by the first byte:
//!
//! - even: a `SignedGroupEvent`, the body of `POST /groups` and
//!   `POST /groups/{id}/events`, through the checks the server makes before
//!   it stores it (`groups::service`: the caller's device signed it, with
//!   `keys::verify`, then `Roster::create` or `Roster::apply` at the point of
//!   the log it names);
//! - odd: a `Vec<GroupRecord>`, the answer of `GET /groups/{id}/events`,
//!   replayed by the client (`VerifiedGroup::replay`, every signer's key
//!   pinned).
//!
//! Nothing may panic; what decodes re-encodes to JSON that decodes the same;
//! an event's signing text is deterministic and names that event only (or a
//! changed field could keep its signature); a refused event changes nothing;
//! an event the server stores, every member's client accepts (or one member
//! could stop the group for all); and a log the client accepts holds only
//! events their devices really signed.

use crate::engine::{Broken, Target, Verdict};
use parley_client::group::VerifiedGroup;
use parley_protocol::group::{GroupChange, GroupEvent, GroupRecord, Roster, SignedGroupEvent};
use parley_protocol::limits::MAX_JSON_BODY;
use parley_protocol::{DeviceId, GroupId, UserId};
use parley_server::keys::verify;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use uuid::Uuid;
use vodozemac::olm::Account;

/// One person with one device.
struct Person {
    user: UserId,
    device: DeviceId,
    account: Account,
}

impl Person {
    fn new(n: u128) -> Self {
        Self {
            user: Uuid::from_u128(n).into(),
            device: Uuid::from_u128(0xd0 + n).into(),
            account: Account::new(),
        }
    }

    /// The Ed25519 key the directory publishes for the device.
    fn key(&self) -> String {
        self.account.identity_keys().ed25519.to_base64()
    }
}

const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;
const DAVE: usize = 3;
const ERIN: usize = 4;

struct GroupEvents {
    people: Vec<Person>,
    /// Every device's owner and key, pinned by the client.
    pins: HashMap<DeviceId, (UserId, String)>,
    /// The group after each event of the real log: `rosters[n]` after
    /// `n + 1` events (the server's state when it stored event `n + 2`).
    rosters: Vec<Roster>,
    /// The same as the client verified it.
    verified: Vec<VerifiedGroup>,
    /// Every text a device signed, with the event it signed.
    signed: HashMap<String, GroupEvent>,
    seeds: Vec<Vec<u8>>,
}

fn with_kind(kind: u8, json: Result<Vec<u8>, serde_json::Error>) -> Result<Vec<u8>, String> {
    let mut input = vec![kind];
    input.extend(json.map_err(|e| e.to_string())?);
    Ok(input)
}

/// The real log: a creation, adds, a promotion, a removal, a rename, a
/// restriction, a new description, a demotion, and two departures (the
/// last admin's, so the longest-standing member takes over).
fn changes(people: &[Person]) -> Vec<(usize, GroupChange)> {
    let user = |n: usize| people[n].user;
    vec![
        (
            ALICE,
            GroupChange::Create {
                name: "Hikers".into(),
                description: "Weekend walks\nand maps".into(),
                members: vec![user(BOB), user(CAROL)],
            },
        ),
        (
            ALICE,
            GroupChange::Add {
                users: vec![user(DAVE), user(ERIN)],
            },
        ),
        (ALICE, GroupChange::Promote { user: user(BOB) }),
        (BOB, GroupChange::Remove { user: user(CAROL) }),
        (
            BOB,
            GroupChange::Rename {
                name: "Trail 🥾".into(),
            },
        ),
        (
            ALICE,
            GroupChange::Restrict {
                admins_send: false,
                admins_edit: true,
            },
        ),
        (
            BOB,
            GroupChange::Describe {
                description: String::new(),
            },
        ),
        (ALICE, GroupChange::Demote { user: user(BOB) }),
        (DAVE, GroupChange::Leave),
        (ALICE, GroupChange::Leave),
    ]
}

impl GroupEvents {
    /// `change` as the next event after `log`, signed by `by`'s device.
    fn sign(
        &mut self,
        group: GroupId,
        log: &[GroupRecord],
        by: usize,
        change: GroupChange,
    ) -> Result<GroupRecord, String> {
        let prev = match log.last() {
            Some(record) => record.signed.hash().map_err(|e| e.to_string())?,
            None => [0; 32],
        };
        let person = &self.people[by];
        let event = GroupEvent {
            group,
            seq: log.len() as u64 + 1,
            prev,
            by: person.user,
            by_device: person.device,
            change,
        };
        let text = event.signing_text().map_err(|e| e.to_string())?;
        let signature = person.account.sign(&text).to_base64();
        self.signed.insert(text, event.clone());
        Ok(GroupRecord {
            signed: SignedGroupEvent { event, signature },
            signer_key: person.key(),
            at: 1_700_000_000_000 + log.len() as i64,
        })
    }
}

fn setup() -> Result<GroupEvents, String> {
    let people: Vec<Person> = (1..=5).map(Person::new).collect();
    let pins = people
        .iter()
        .map(|p| (p.device, (p.user, p.key())))
        .collect();
    let group = GroupId::from_uuid(Uuid::from_u128(0x9_0000));
    let changes = changes(&people);
    let mut target = GroupEvents {
        people,
        pins,
        rosters: Vec::new(),
        verified: Vec::new(),
        signed: HashMap::new(),
        seeds: Vec::new(),
    };
    let mut log: Vec<GroupRecord> = Vec::new();
    for (by, change) in changes {
        let record = target.sign(group, &log, by, change)?;
        let pinned = |d: DeviceId| target.pins.get(&d).cloned();
        let verified = match target.verified.last() {
            None => VerifiedGroup::create(&record, pinned).map(|(group, _)| group),
            Some(last) => {
                let mut next = last.clone();
                next.apply(&record, pinned).map(|_| next)
            }
        }
        .map_err(|e| format!("the real log is refused at {}: {e}", log.len() + 1))?;
        target.rosters.push(verified.roster().clone());
        target.verified.push(verified);
        log.push(record);
    }
    // Signed, but against the rules: a member adding someone, someone
    // removed changing the name.
    let erin_adds = target.sign(
        group,
        &log,
        ERIN,
        GroupChange::Add {
            users: vec![target.people[CAROL].user],
        },
    )?;
    let carol_renames = target.sign(
        group,
        &log[..5],
        CAROL,
        GroupChange::Rename {
            name: "Mine".into(),
        },
    )?;
    // A second group, made by Erin.
    let other = target.sign(
        GroupId::from_uuid(Uuid::from_u128(0x9_0001)),
        &[],
        ERIN,
        GroupChange::Create {
            name: "Erin's".into(),
            description: String::new(),
            members: Vec::new(),
        },
    )?;
    let mut seeds = Vec::new();
    for record in log.iter().chain([&erin_adds, &carol_renames, &other]) {
        seeds.push(with_kind(0, serde_json::to_vec(&record.signed))?);
    }
    for record in &log {
        if target.server(&record.signed).ok().flatten().is_none() {
            return Err(format!("the server refuses {record:?}"));
        }
    }
    let mut refused = log.clone();
    refused.push(erin_adds);
    for records in [&log[..], &log[..3], &refused[..], &[other][..]] {
        seeds.push(with_kind(1, serde_json::to_vec(records))?);
    }
    target.seeds = seeds;
    Ok(target)
}

/// Parses `json` as `T`; if it parses, checks that it re-encodes to JSON
/// that parses the same and re-encodes the same.
fn parse<T>(json: &[u8]) -> Result<Option<T>, Broken>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(json) else {
        return Ok(None);
    };
    let encoded = serde_json::to_value(&value).map_err(|e| e.to_string());
    let again = encoded.clone().and_then(|json| {
        let again = serde_json::from_value::<T>(json).map_err(|e| e.to_string())?;
        let json = serde_json::to_value(&again).map_err(|e| e.to_string())?;
        Ok((again, json))
    });
    match (&encoded, again) {
        (Ok(json), Ok((again, json_again))) if again == value && json_again == *json => {
            Ok(Some(value))
        }
        (_, other) => Err(Broken::new(
            "what decodes re-encodes to JSON that decodes the same",
            format!("{value:?} came back as {other:?}"),
        )),
    }
}

/// The group as the real log made it when event `seq` would be next (or
/// its last state, for an event further on).
fn point<T>(states: &[T], seq: u64) -> Result<&T, Broken> {
    let at = usize::try_from(seq.saturating_sub(2)).unwrap_or(usize::MAX);
    states
        .get(at)
        .or(states.last())
        .ok_or_else(|| Broken::new("the real log is there", "no state"))
}

impl GroupEvents {
    /// The signing text is the same every time, and names one event: a
    /// text some device signed is the text of the event it signed only.
    fn signing_text(&self, signed: &SignedGroupEvent) -> Result<Option<String>, Broken> {
        let event = &signed.event;
        let text = event.signing_text().ok();
        let again = event.clone().signing_text().ok();
        if text != again || signed.hash().ok() != signed.clone().hash().ok() {
            return Err(Broken::new(
                "the signing text and hash are deterministic",
                format!("{event:?}: {text:?} then {again:?}"),
            ));
        }
        if let Some(original) = text.as_ref().and_then(|t| self.signed.get(t))
            && original != event
        {
            return Err(Broken::new(
                "a signing text names one event",
                format!("{event:?} has the text signed for {original:?}"),
            ));
        }
        Ok(text)
    }

    /// The signing text of an event the client accepted was signed by the
    /// device the event names.
    fn really_signed(&self, signed: &SignedGroupEvent, text: Option<&str>) -> Result<(), Broken> {
        match text.and_then(|t| self.signed.get(t)) {
            Some(event) if event.by_device == signed.event.by_device => Ok(()),
            _ => Err(Broken::new(
                "the client accepts only events their device signed",
                format!("{signed:?}"),
            )),
        }
    }

    /// The server's checks of a body (`groups::service`), at the point of
    /// the real log where the event would be next: the caller is the
    /// device the event names, if it is one of ours. Answers the roster it
    /// stores and the record it serves, if it stores it.
    fn server(&self, signed: &SignedGroupEvent) -> Result<Option<(Roster, GroupRecord)>, Broken> {
        let event = &signed.event;
        let rules = match &event.change {
            GroupChange::Create { .. } => Roster::create(signed),
            _ => {
                let before = point(&self.rosters, event.seq)?;
                let mut roster = before.clone();
                match roster.apply(signed) {
                    Ok(_) => Ok(roster),
                    Err(err) if roster == *before => Err(err),
                    Err(err) => {
                        return Err(Broken::new(
                            "a refused event changes nothing",
                            format!("{err}: {before:?} became {roster:?}"),
                        ));
                    }
                }
            }
        };
        let Some(caller) = self
            .people
            .iter()
            .find(|p| p.user == event.by && p.device == event.by_device)
        else {
            return Ok(None);
        };
        let Ok(key) = verify::key(&caller.key()) else {
            return Err(Broken::new("a device's own key decodes", caller.key()));
        };
        let Ok(text) = event.signing_text() else {
            return Ok(None);
        };
        let Ok(signature) = verify::signature(&signed.signature) else {
            return Ok(None);
        };
        if verify::signed(&key, &text, &signature).is_err() {
            return Ok(None);
        }
        let Ok(roster) = rules else {
            return Ok(None);
        };
        let record = GroupRecord {
            signed: signed.clone(),
            signer_key: verify::encode(&key),
            at: 1_800_000_000_000,
        };
        Ok(Some((roster, record)))
    }

    /// A `POST` body.
    fn body(&self, json: &[u8]) -> Result<Verdict, Broken> {
        // actix-web refuses a larger body before parsing it.
        if json.len() > MAX_JSON_BODY {
            return Ok(Verdict::Rejected);
        }
        let Some(signed) = parse::<SignedGroupEvent>(json)? else {
            return Ok(Verdict::Rejected);
        };
        let text = self.signing_text(&signed)?;
        let stored = self.server(&signed)?;
        let pinned = |d: DeviceId| self.pins.get(&d).cloned();
        // What a client makes of it, with the key the server would name.
        let record = match &stored {
            Some((_, record)) => record.clone(),
            None => GroupRecord {
                signed: signed.clone(),
                signer_key: self
                    .pins
                    .get(&signed.event.by_device)
                    .map(|(_, key)| key.clone())
                    .unwrap_or_default(),
                at: 0,
            },
        };
        let client = match &signed.event.change {
            GroupChange::Create { .. } => {
                VerifiedGroup::create(&record, pinned).map(|(group, _)| group)
            }
            _ => {
                let before = point(&self.verified, signed.event.seq)?;
                let mut group = before.clone();
                match group.apply(&record, pinned) {
                    Ok(_) => Ok(group),
                    Err(err) if group == *before => Err(err),
                    Err(err) => {
                        return Err(Broken::new(
                            "a refused event changes nothing",
                            format!("{err}: {before:?} became {group:?}"),
                        ));
                    }
                }
            }
        };
        match (&stored, &client) {
            (Some((roster, _)), Ok(group)) if group.roster() != roster => Err(Broken::new(
                "the client's group is the server's",
                format!("{signed:?}: the server has {roster:?}, the client {group:?}"),
            )),
            (Some(_), Err(err)) => Err(Broken::new(
                "what the server stores, clients accept",
                format!("{signed:?} is refused by the client: {err}"),
            )),
            (_, Ok(_)) => {
                self.really_signed(&signed, text.as_deref())?;
                Ok(Verdict::Accepted)
            }
            (None, Err(_)) => Ok(Verdict::Accepted),
        }
    }

    /// A `GET` answer.
    fn records(&self, json: &[u8]) -> Result<Verdict, Broken> {
        let Some(records) = parse::<Vec<GroupRecord>>(json)? else {
            return Ok(Verdict::Rejected);
        };
        let mut texts = Vec::with_capacity(records.len());
        for record in &records {
            texts.push(self.signing_text(&record.signed)?);
        }
        // The rules alone, as a server would apply them: a refused event
        // changes nothing, the next one applies to the group as it was.
        let mut rules = records.first().map(|r| Roster::create(&r.signed));
        let mut refused = false;
        for record in records.iter().skip(1) {
            let Some(Ok(roster)) = rules.as_mut() else {
                break;
            };
            let before = roster.clone();
            if let Err(err) = roster.apply(&record.signed) {
                refused = true;
                if *roster != before {
                    return Err(Broken::new(
                        "a refused event changes nothing",
                        format!("{err}: {before:?} became {roster:?}"),
                    ));
                }
            }
        }
        let pinned = |d: DeviceId| self.pins.get(&d).cloned();
        let Ok((group, history)) = VerifiedGroup::replay(&records, pinned) else {
            return Ok(Verdict::Accepted);
        };
        for (record, text) in records.iter().zip(&texts) {
            self.really_signed(&record.signed, text.as_deref())?;
        }
        match rules {
            Some(Ok(roster))
                if !refused && roster == *group.roster() && history.len() == records.len() =>
            {
                Ok(Verdict::Accepted)
            }
            other => Err(Broken::new(
                "a verified log is the log the rules make",
                format!("replayed as {group:?}, by the rules alone {other:?} (refused: {refused})"),
            )),
        }
    }
}

impl Target for GroupEvents {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"\"Create\"",
            b"\"Add\"",
            b"\"Remove\"",
            b"\"Leave\"",
            b"\"Promote\"",
            b"\"Demote\"",
            b"\"Rename\"",
            b"\"Describe\"",
            b"\"Restrict\"",
            b"{\"Leave\":null}",
            b"\"seq\":",
            b"\"prev\":",
            b"\"by_device\":",
            b"\"signature\":",
            b"\"signer_key\":",
            b"\"00000000-0000-0000-0000-000000000001\"",
            b"\"00000000-0000-0000-0000-000000000005\"",
            b"\"00000000-0000-0000-0000-0000000000d2\"",
            b"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
            b"true",
            b"null",
            b"[]",
            b"\\n",
            b"\\u0000",
            b"=",
            b"18446744073709551615",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Some((&kind, json)) = input.split_first() else {
            return Ok(Verdict::Rejected);
        };
        if kind % 2 == 0 {
            self.body(json)
        } else {
            self.records(json)
        }
    }
}

/// The `group_event` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    let mut target = setup()?;
    // The real log must pass everywhere, or the target would only ever
    // test refusals.
    for seed in target.seeds() {
        target
            .check(&seed)
            .map_err(|b| format!("{}: {}", b.property, b.detail))?;
    }
    Ok(Box::new(target))
}
