//! The call state machine, driven the way two browsers would drive it:
//! every `Send` of one side is delivered to the devices it names.

use parley_client::call::{
    Action, CONNECT_TIMEOUT_MS, CallError, CallLog, Calls, Candidate, OFFER_RESEND_MS, Outcome,
    Phase, RECONNECT_GRACE_MS, RING_TIMEOUT_MS, RINGING_OFFER_RESEND_MS, Signal, SignalError,
    Target,
};
use parley_client::message::{Body, Message};
use parley_protocol::codec::DecodeError;
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use uuid::Uuid;

/// A fresh id of whichever kind the test needs.
fn id<T: From<Uuid>>() -> T {
    Uuid::now_v7().into()
}

struct Device {
    user: UserId,
    device: DeviceId,
    calls: Calls,
}

impl Device {
    /// Starts a call to `to` and sends its offer at once: the call's id and
    /// the offer's actions.
    fn dial(&mut self, to: UserId, video: bool, now: Millis) -> (Uuid, Vec<Action>) {
        let call = id();
        assert_eq!(self.calls.start(call, to, video, now), Ok(()));
        let offer = self.calls.offer(call, "sdp".into(), now);
        (call, offer)
    }

    fn new(user: UserId) -> Self {
        let device = id();
        Self {
            user,
            device,
            calls: Calls::new(user, device),
        }
    }
}

/// The signals among `actions` that reach `to` (a device of `to_user`),
/// given who sent them.
fn reaching(from: &Device, actions: &[Action], to: &Device) -> Vec<Signal> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                peer,
                target,
                signal,
            } => {
                let hits = match *target {
                    Target::Device(d) => d == to.device,
                    Target::Peer => to.user == *peer,
                    Target::PeerExcept(d) => to.user == *peer && d != to.device,
                    Target::Own => to.user == from.user && to.device != from.device,
                };
                hits.then(|| signal.clone())
            }
            _ => None,
        })
        .collect()
}

fn deliver(from: &Device, actions: &[Action], to: &mut Device, now: Millis) -> Vec<Action> {
    let mut out = Vec::new();
    for signal in reaching(from, actions, to) {
        out.extend(to.calls.receive(from.user, from.device, signal, now));
    }
    out
}

fn logs(actions: &[Action]) -> Vec<CallLog> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(log) => Some(log.clone()),
            _ => None,
        })
        .collect()
}

fn candidate(n: u16) -> Candidate {
    Candidate {
        candidate: format!("candidate:{n} 1 udp 1 192.0.2.2 {n} typ host"),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
    }
}

#[test]
fn a_call_rings_every_device_and_one_answer_stops_the_others() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b1 = Device::new(bob);
    let mut b2 = Device::new(bob);
    let call = id();
    a.calls.start(call, bob, true, 1_000).unwrap();
    // Candidates gathered before any answer wait.
    assert!(a.calls.local_candidate(call, candidate(1)).is_empty());
    let offer = a.calls.offer(call, "offer-sdp".into(), 1_000);

    let ring1 = deliver(&a, &offer, &mut b1, 1_010);
    let ring2 = deliver(&a, &offer, &mut b2, 1_010);
    assert!(ring1.contains(&Action::Ring) && ring2.contains(&Action::Ring));
    deliver(&b1, &ring1, &mut a, 1_020);
    assert_eq!(a.calls.current().unwrap().phase, Phase::Ringing);

    let (sdp, early) = b1.calls.accept(call, 1_400).unwrap();
    assert_eq!((sdp.as_str(), early.len()), ("offer-sdp", 0));
    let answer = b1.calls.answered(call, "answer-sdp".into());
    // Bob's other device stops ringing: answered elsewhere.
    let elsewhere = deliver(&b1, &answer, &mut b2, 1_500);
    assert!(elsewhere.contains(&Action::Close));
    assert_eq!(logs(&elsewhere)[0].outcome, Outcome::Elsewhere);
    assert!(b2.calls.current().is_none());

    let at_alice = deliver(&b1, &answer, &mut a, 1_500);
    assert!(at_alice.contains(&Action::ApplyAnswer("answer-sdp".into())));
    // The waiting candidate goes to the device that answered, and only there.
    let ice = reaching(&a, &at_alice, &b1);
    assert!(ice.contains(&Signal::Ice {
        call,
        candidate: candidate(1)
    }));
    assert!(
        reaching(&a, &at_alice, &b2)
            .iter()
            .all(|s| matches!(s, Signal::Handled { .. }))
    );
    // From now on candidates go straight to Bob's first device.
    let later = a.calls.local_candidate(call, candidate(2));
    assert_eq!(reaching(&a, &later, &b1).len(), 1);
    assert!(reaching(&a, &later, &b2).is_empty());

    a.calls.connected(call, 2_000);
    b1.calls.connected(call, 2_000);
    let bye = a.calls.hang_up(call, 62_000);
    let ended = deliver(&a, &bye, &mut b1, 62_000);
    let (mine, theirs) = (&logs(&bye)[0], &logs(&ended)[0]);
    assert_eq!(
        (mine.outcome, mine.duration_ms, mine.outgoing),
        (Outcome::Answered, 60_000, true)
    );
    assert_eq!(
        (theirs.outcome, theirs.duration_ms, theirs.outgoing),
        (Outcome::Answered, 60_000, false)
    );
    assert!(a.calls.current().is_none() && b1.calls.current().is_none());
    assert_eq!(mine.summary(), "Outgoing video call · 1:00");
    assert_eq!(parley_client::call::duration_text(3_723_000), "1:02:03");
    assert_eq!(parley_client::call::duration_text(7_999), "0:07");
}

#[test]
fn an_unanswered_call_is_missed_after_the_timeout() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let (call, offer) = a.dial(bob, false, 0);
    let ringing = deliver(&a, &offer, &mut b, 5);
    deliver(&b, &ringing, &mut a, 6);
    assert_eq!(a.calls.current().unwrap().phase, Phase::Ringing);
    // Copies for Bob's other devices go out meanwhile, never to this one.
    while let Some(next) = a.calls.deadline().filter(|d| *d < RING_TIMEOUT_MS) {
        let copy = a.calls.tick(next);
        assert!(logs(&copy).is_empty() && reaching(&a, &copy, &b).is_empty());
    }
    assert_eq!(a.calls.deadline(), Some(RING_TIMEOUT_MS));
    assert!(a.calls.tick(RING_TIMEOUT_MS - 1).is_empty());
    let timeout = a.calls.tick(RING_TIMEOUT_MS);
    assert_eq!(logs(&timeout)[0].outcome, Outcome::NoAnswer);
    let missed = deliver(&a, &timeout, &mut b, RING_TIMEOUT_MS);
    let log = &logs(&missed)[0];
    assert_eq!(
        (log.outcome, log.outgoing, log.video),
        (Outcome::Missed, false, false)
    );
    let entry = Message::from_call(log, b.device);
    assert_eq!(
        (&entry.body, entry.seen, entry.id),
        (&Body::Call(log.clone()), false, MessageId::from_uuid(call))
    );
    assert_eq!(log.describe(), "Missed voice call");

    // The callee's own clock ends it too, when the cancel never came.
    let (_, offer) = a.dial(bob, true, 100_000);
    deliver(&a, &offer, &mut b, 100_000);
    let own = b.calls.tick(100_000 + RING_TIMEOUT_MS);
    assert_eq!(logs(&own)[0].outcome, Outcome::Missed);
}

#[test]
fn decline_and_busy_end_the_call_for_the_caller() {
    let (alice, bob, carol) = (id(), id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let mut c = Device::new(carol);
    let (call, offer) = a.dial(bob, true, 0);
    deliver(&a, &offer, &mut b, 1);
    let no = b.calls.decline(call, 2);
    assert_eq!(logs(&no)[0].outcome, Outcome::Declined);
    let at_alice = deliver(&b, &no, &mut a, 3);
    let log = &logs(&at_alice)[0];
    assert_eq!((log.outcome, log.outgoing), (Outcome::Declined, true));
    assert_eq!(log.describe(), "Outgoing video call · declined");

    // Bob in a call with Alice; Carol calls him: busy.
    let (call, offer) = a.dial(bob, false, 10);
    deliver(&a, &offer, &mut b, 11);
    b.calls.accept(call, 11).unwrap();
    let (_, offer) = c.dial(bob, false, 12);
    let busy = deliver(&c, &offer, &mut b, 13);
    assert_eq!(
        logs(&busy)[0].outcome,
        Outcome::Missed,
        "Bob keeps a missed call"
    );
    assert_eq!(b.calls.current().unwrap().id, call, "and stays in his call");
    let at_carol = deliver(&b, &busy, &mut c, 14);
    assert_eq!(logs(&at_carol)[0].outcome, Outcome::Busy);
    assert!(c.calls.current().is_none());
    assert_eq!(
        c.calls.start(id(), carol, false, 15),
        Err(CallError::SelfCall)
    );
}

#[test]
fn a_caller_cancels_and_strangers_are_ignored() {
    let (alice, bob, mallory) = (id(), id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let m = Device::new(mallory);
    let call = id();
    a.calls.start(call, bob, true, 0).unwrap();
    assert_eq!(a.calls.start(id(), bob, true, 0), Err(CallError::InCall));
    let offer = a.calls.offer(call, "sdp".into(), 0);
    deliver(&a, &offer, &mut b, 1);
    // Someone else cannot end or answer a call they are not in.
    for signal in [
        Signal::Cancel { call },
        Signal::Hangup { call },
        Signal::Handled {
            call,
            answered: true,
        },
    ] {
        assert!(b.calls.receive(m.user, m.device, signal, 2).is_empty());
    }
    assert!(
        a.calls
            .receive(
                m.user,
                m.device,
                Signal::Answer {
                    call,
                    sdp: "x".into()
                },
                2
            )
            .is_empty()
    );
    assert_eq!(b.calls.current().unwrap().phase, Phase::Incoming);
    // Candidates from the caller before Bob accepts are kept for the answer.
    b.calls.receive(
        alice,
        a.device,
        Signal::Ice {
            call,
            candidate: candidate(7),
        },
        3,
    );
    let cancel = a.calls.hang_up(call, 4);
    assert_eq!(logs(&cancel)[0].outcome, Outcome::Cancelled);
    let missed = deliver(&a, &cancel, &mut b, 5);
    assert_eq!(logs(&missed)[0].outcome, Outcome::Missed);
    assert_eq!(b.calls.accept(call, 6), Err(CallError::NoSuchCall));
}

#[test]
fn signals_round_trip_and_bounds_hold() {
    let call = id();
    let s = Signal::Offer {
        call,
        video: true,
        sdp: "v=0\r\n".into(),
    };
    assert_eq!(Signal::decode(&s.encode().unwrap()), Ok(s));
    assert_eq!(
        Signal::decode(&[]),
        Err(SignalError::Unreadable(DecodeError::Empty))
    );
    assert_eq!(
        Signal::decode(&[9, 1]),
        Err(SignalError::Unreadable(DecodeError::Version { found: 9 }))
    );
    let big = Signal::Answer {
        call,
        sdp: "x".repeat(parley_client::call::MAX_SDP_BYTES + 1),
    };
    assert_eq!(
        Signal::decode(&big.encode().unwrap()),
        Err(SignalError::TooLarge)
    );
}

/// Alice calls Bob on one device, so Bob's `b1` rings; Bob accepts there.
fn answered_call(a: &mut Device, b: &mut Device, now: Millis) -> Uuid {
    let call = id();
    assert_eq!(a.calls.start(call, b.user, true, now), Ok(()));
    let offer = a.calls.offer(call, "offer".into(), now);
    deliver(a, &offer, b, now);
    assert!(b.calls.accept(call, now).is_ok());
    let answer = b.calls.answered(call, "answer".into());
    deliver(b, &answer, a, now);
    call
}

#[test]
fn the_ring_clock_starts_when_the_offer_goes_out() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let call = id();
    a.calls.start(call, bob, true, 0).unwrap();
    // A long camera prompt: no deadline, and the clock does not end it.
    assert_eq!(a.calls.deadline(), None);
    assert!(a.calls.tick(10 * RING_TIMEOUT_MS).is_empty());
    assert_eq!(a.calls.current().unwrap().id, call);
    let offer = a.calls.offer(call, "sdp".into(), 50_000);
    assert_eq!(offer.len(), 1);
    // The same offer is not sent twice.
    assert!(a.calls.offer(call, "sdp".into(), 50_001).is_empty());
    // Nothing rings: the offer goes again every few seconds, and the clock
    // still ends the call 45 s after the first one.
    let mut at = 50_000;
    let mut resent = 0;
    while let Some(next) = a.calls.deadline().filter(|d| *d < 50_000 + RING_TIMEOUT_MS) {
        assert_eq!(next, at + OFFER_RESEND_MS);
        at = next;
        let copy = a.calls.tick(at);
        assert!(matches!(
            reaching(&a, &copy, &Device::new(bob))[..],
            [Signal::Offer { call: c, .. }] if c == call
        ));
        resent += 1;
    }
    assert_eq!(resent, (RING_TIMEOUT_MS - 1) / OFFER_RESEND_MS);
    assert!(a.calls.tick(50_000 + RING_TIMEOUT_MS - 1).is_empty());
    let ended = a.calls.tick(50_000 + RING_TIMEOUT_MS);
    assert_eq!(logs(&ended)[0].outcome, Outcome::NoAnswer);
    assert!(matches!(
        reaching(&a, &ended, &Device::new(bob))[..],
        [Signal::Cancel { .. }]
    ));
}

#[test]
fn a_call_that_never_connects_fails_on_both_sides() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let call = answered_call(&mut a, &mut b, 1_000);
    assert_eq!(a.calls.current().unwrap().phase, Phase::Connecting);
    assert_eq!(b.calls.deadline(), Some(1_000 + CONNECT_TIMEOUT_MS));
    assert_eq!(a.calls.deadline(), Some(1_000 + CONNECT_TIMEOUT_MS));
    assert!(b.calls.tick(1_000 + CONNECT_TIMEOUT_MS - 1).is_empty());
    let failed = b.calls.tick(1_000 + CONNECT_TIMEOUT_MS);
    assert_eq!(logs(&failed)[0].outcome, Outcome::Failed);
    // Alice hears of it at once rather than waiting for her own clock.
    let at_alice = deliver(&b, &failed, &mut a, 1_000 + CONNECT_TIMEOUT_MS);
    assert_eq!(logs(&at_alice)[0].call, call);
    assert!(a.calls.current().is_none() && b.calls.current().is_none());
}

#[test]
fn a_dropped_connection_gets_a_grace_period_then_ends() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let call = answered_call(&mut a, &mut b, 0);
    a.calls.connected(call, 1_000);
    assert_eq!(a.calls.deadline(), None, "a call in progress has no clock");
    // Dropped, then back: the call goes on, its duration unchanged.
    a.calls.interrupted(call, 5_000);
    assert_eq!(a.calls.deadline(), Some(5_000 + RECONNECT_GRACE_MS));
    a.calls.connected(call, 8_000);
    assert_eq!(a.calls.deadline(), None);
    assert_eq!(a.calls.current().unwrap().connected_at, Some(1_000));
    // Dropped for good: it ends as an answered call of the time it lasted.
    a.calls.interrupted(call, 20_000);
    a.calls.interrupted(call, 25_000);
    let ended = a.calls.tick(20_000 + RECONNECT_GRACE_MS);
    let log = &logs(&ended)[0];
    assert_eq!((log.outcome, log.duration_ms), (Outcome::Answered, 34_000));
    assert!(matches!(
        reaching(&a, &ended, &b)[..],
        [Signal::Hangup { .. }]
    ));
}

#[test]
fn when_both_call_each_other_the_lower_call_id_goes_on() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let (low, high) = (id(), id());
    assert!(low < high);
    a.calls.start(low, bob, true, 0).unwrap();
    b.calls.start(high, alice, false, 0).unwrap();
    let a_offer = a.calls.offer(low, "a".into(), 1);
    let b_offer = b.calls.offer(high, "b".into(), 1);
    // Alice keeps hers and ignores Bob's: no busy, no record.
    assert!(deliver(&b, &b_offer, &mut a, 2).is_empty());
    assert_eq!(a.calls.current().unwrap().id, low);
    // Bob gives way: his call is cancelled, and Alice's rings.
    let yielded = deliver(&a, &a_offer, &mut b, 2);
    assert!(yielded.contains(&Action::Close) && yielded.contains(&Action::Ring));
    assert!(logs(&yielded).is_empty());
    let current = b.calls.current().unwrap();
    assert_eq!((current.id, current.phase), (low, Phase::Incoming));
    // The cancel of Bob's call does not touch Alice's.
    let after = deliver(&b, &yielded, &mut a, 3);
    assert!(logs(&after).is_empty());
    assert_eq!(a.calls.current().unwrap().phase, Phase::Ringing);
    b.calls.accept(low, 4).unwrap();

    // One whose offer has not gone out yet always gives way.
    let mut c = Device::new(id());
    let mut d = Device::new(id());
    let (first, second) = (id(), id());
    c.calls.start(first, d.user, true, 0).unwrap();
    d.calls.start(second, c.user, true, 0).unwrap();
    let d_offer = d.calls.offer(second, "d".into(), 1);
    let gave_way = deliver(&d, &d_offer, &mut c, 2);
    assert!(
        reaching(&c, &gave_way, &d)
            .iter()
            .all(|s| matches!(s, Signal::Ringing { .. }))
    );
    assert_eq!(c.calls.current().unwrap().id, second);
}

#[test]
fn a_device_that_accepted_too_late_hears_it_was_answered_elsewhere() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b1 = Device::new(bob);
    let mut b2 = Device::new(bob);
    let (call, offer) = a.dial(bob, true, 0);
    deliver(&a, &offer, &mut b1, 1);
    deliver(&a, &offer, &mut b2, 1);
    b1.calls.accept(call, 2).unwrap();
    b2.calls.accept(call, 2).unwrap();
    let answer1 = b1.calls.answered(call, "one".into());
    let answer2 = b2.calls.answered(call, "two".into());
    // Each one's "handled" reaches the other, which accepted too: only the
    // caller decides, so neither ends on it.
    assert!(deliver(&b1, &answer1, &mut b2, 3).is_empty());
    assert!(deliver(&b2, &answer2, &mut b1, 3).is_empty());
    let chosen = deliver(&b1, &answer1, &mut a, 4);
    let late = deliver(&b2, &answer2, &mut a, 4);
    assert!(matches!(
        reaching(&a, &late, &b2)[..],
        [Signal::Hangup { .. }]
    ));
    assert!(reaching(&a, &late, &b1).is_empty());
    let told = deliver(&a, &chosen, &mut b2, 5);
    let log = &logs(&told)[0];
    assert_eq!(log.outcome, Outcome::Elsewhere);
    assert_eq!(
        log.summary(),
        "Incoming video call · answered on another device"
    );
    assert_eq!(b1.calls.current().unwrap().phase, Phase::Connecting);
    // The late device's trickle is not the call's.
    let stray = a.calls.receive(
        bob,
        b2.device,
        Signal::Ice {
            call,
            candidate: candidate(3),
        },
        6,
    );
    assert!(stray.is_empty());
}

#[test]
fn declining_on_one_device_says_declined_on_the_others() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b1 = Device::new(bob);
    let mut b2 = Device::new(bob);
    let (call, offer) = a.dial(bob, false, 0);
    deliver(&a, &offer, &mut b1, 1);
    deliver(&a, &offer, &mut b2, 1);
    let no = b1.calls.decline(call, 2);
    let other = deliver(&b1, &no, &mut b2, 3);
    assert_eq!(logs(&other)[0].describe(), "Declined voice call");
}

#[test]
fn an_answer_to_a_call_that_is_over_gets_a_hang_up() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let (call, offer) = a.dial(bob, true, 0);
    deliver(&a, &offer, &mut b, 1);
    b.calls.accept(call, 2).unwrap();
    // Alice cancels while Bob's answer is on its way.
    let cancel = a.calls.hang_up(call, 3);
    let answer = b.calls.answered(call, "answer".into());
    let reply = deliver(&b, &answer, &mut a, 4);
    assert!(matches!(
        reaching(&a, &reply, &b)[..],
        [Signal::Hangup { .. }]
    ));
    // Either way Bob's side ends, and not as a call that took place.
    let ended = deliver(&a, &cancel, &mut b, 5);
    assert_eq!(logs(&ended)[0].outcome, Outcome::Missed);
    assert!(b.calls.current().is_none());
}

#[test]
fn refused_media_forgets_a_call_that_never_left_and_fails_an_accepted_one() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let never = id();
    a.calls.start(never, bob, true, 0).unwrap();
    assert_eq!(a.calls.abandon(never, 1), vec![Action::Close]);
    assert!(a.calls.current().is_none());

    let (call, offer) = a.dial(bob, true, 10);
    deliver(&a, &offer, &mut b, 11);
    b.calls.accept(call, 12).unwrap();
    let refused = b.calls.abandon(call, 13);
    assert_eq!(logs(&refused)[0].outcome, Outcome::Failed);
    let at_alice = deliver(&b, &refused, &mut a, 14);
    assert_eq!(logs(&at_alice)[0].outcome, Outcome::Declined);
    assert!(a.calls.current().is_none());
}

#[test]
fn a_lost_offer_or_ringing_is_sent_again_and_rings_once() {
    let (alice, bob, carol) = (id(), id(), id());
    let mut a = Device::new(alice);
    let mut b = Device::new(bob);
    let mut c = Device::new(carol);
    let call = id();
    a.calls.start(call, bob, true, 0).unwrap();
    // The first offer is lost (Bob's device had not published its keys).
    let _lost = a.calls.offer(call, "sdp".into(), 0);
    let again = a.calls.tick(OFFER_RESEND_MS);
    let ringing = deliver(&a, &again, &mut b, OFFER_RESEND_MS);
    assert_eq!(b.calls.current().unwrap().phase, Phase::Incoming);
    // Bob's ringing is lost too: the next copy of the offer asks again,
    // and rings nothing new.
    let again = a.calls.tick(2 * OFFER_RESEND_MS);
    let ringing_again = deliver(&a, &again, &mut b, 2 * OFFER_RESEND_MS);
    assert!(ringing.contains(&Action::Ring));
    assert_eq!(reaching(&b, &ringing, &a), reaching(&b, &ringing_again, &a));
    assert!(!ringing_again.contains(&Action::Ring));
    deliver(&b, &ringing_again, &mut a, 2 * OFFER_RESEND_MS);
    assert_eq!(a.calls.current().unwrap().phase, Phase::Ringing);
    assert_eq!(
        a.calls.deadline(),
        Some(2 * OFFER_RESEND_MS + RINGING_OFFER_RESEND_MS),
        "later copies skip Bob's ringing device, at a gentler pace"
    );

    // A copy still in flight when Bob declined does not ring again.
    let no = b.calls.decline(call, 7_000);
    deliver(&b, &no, &mut a, 7_001);
    assert!(a.calls.current().is_none());
    assert!(deliver(&a, &again, &mut b, 7_002).is_empty());
    assert!(b.calls.current().is_none());

    // Bob busy with Carol: every copy of Alice's offer hears "busy", but
    // only the first leaves a missed call.
    let (with_carol, offer) = c.dial(bob, false, 8_000);
    deliver(&c, &offer, &mut b, 8_000);
    let (_, offer) = a.dial(bob, false, 9_000);
    let busy = deliver(&a, &offer, &mut b, 9_001);
    assert_eq!(logs(&busy).len(), 1);
    assert!(deliver(&a, &offer, &mut b, 9_002).is_empty());
    assert_eq!(b.calls.current().unwrap().id, with_carol);
}

#[test]
fn a_device_that_appears_while_another_rings_rings_too() {
    let (alice, bob) = (id(), id());
    let mut a = Device::new(alice);
    let mut b1 = Device::new(bob);
    let mut b2 = Device::new(bob);
    // Bob's third device is offline for the first offer: it signs in later.
    let mut b3 = Device::new(bob);
    let (call, offer) = a.dial(bob, true, 0);
    let ring1 = deliver(&a, &offer, &mut b1, 10);
    let ring2 = deliver(&a, &offer, &mut b2, 10);
    deliver(&b1, &ring1, &mut a, 20);
    deliver(&b2, &ring2, &mut a, 20);
    assert_eq!(a.calls.current().unwrap().phase, Phase::Ringing);

    // The offer still goes out, at a gentler pace, past the device that rang.
    let at = 20 + RINGING_OFFER_RESEND_MS;
    assert_eq!(a.calls.deadline(), Some(at));
    assert!(a.calls.tick(at - 1).is_empty());
    let copy = a.calls.tick(at);
    assert!(reaching(&a, &copy, &b1).is_empty());
    // A device ringing already does not ring anew; it says it rings.
    let again = deliver(&a, &copy, &mut b2, at);
    assert!(!again.contains(&Action::Ring));
    assert!(matches!(
        reaching(&b2, &again, &a)[..],
        [Signal::Ringing { .. }]
    ));
    // The new device rings.
    let late = deliver(&a, &copy, &mut b3, at);
    assert!(late.contains(&Action::Ring));
    assert_eq!(b3.calls.current().unwrap().phase, Phase::Incoming);
    deliver(&b3, &late, &mut a, at + 10);
    assert_eq!(a.calls.deadline(), Some(at + RINGING_OFFER_RESEND_MS));

    // Bob answers there: the others hear "answered elsewhere", and no copy
    // goes out any more.
    b3.calls.accept(call, at + 100).unwrap();
    let answer = b3.calls.answered(call, "answer".into());
    let at_alice = deliver(&b3, &answer, &mut a, at + 200);
    assert!(at_alice.contains(&Action::ApplyAnswer("answer".into())));
    let told = deliver(&a, &at_alice, &mut b1, at + 300);
    assert_eq!(logs(&told)[0].outcome, Outcome::Elsewhere);
    let own = deliver(&b3, &answer, &mut b2, at + 300);
    assert_eq!(logs(&own)[0].outcome, Outcome::Elsewhere);
    assert!(b1.calls.current().is_none() && b2.calls.current().is_none());
    assert_eq!(a.calls.deadline(), Some(at + 200 + CONNECT_TIMEOUT_MS));
    assert!(a.calls.tick(at + 200 + CONNECT_TIMEOUT_MS - 1).is_empty());
}
