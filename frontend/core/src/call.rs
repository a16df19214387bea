//! One-to-one calls: the signals two devices exchange and the state machine
//! that decides what to send, to whom, and how a call ends.
//!
//! Sans-I/O like the rest of the core: the browser feeds it user actions,
//! decrypted signals and the clock, and carries out the [`Action`]s it
//! returns (WebRTC, media, the chat history). Signals travel inside
//! end-to-end encrypted payloads of `Signal` frames, one per device, so the
//! server can neither read nor swap an offer's DTLS fingerprint.
//!
//! The flow, with Alice calling Bob, who has two devices:
//! 1. Alice's device sends [`Signal::Offer`] to every device of Bob's, and
//!    sends it again every [`OFFER_RESEND_MS`] until one rings: a device
//!    that had not published its keys yet, or a frame lost while a socket
//!    reconnected, must not cost the call. Once one rings the copies go on,
//!    every [`RINGING_OFFER_RESEND_MS`] and to the other devices only, until
//!    the call is answered or over: a device that signs in or reconnects
//!    while Bob's phone rings rings too.
//! 2. Each of Bob's devices rings and answers [`Signal::Ringing`] (or
//!    [`Signal::Busy`] when it is in a call already).
//! 3. Bob accepts on one: it sends [`Signal::Answer`] to Alice's device and
//!    [`Signal::Handled`] to his other devices, which stop ringing. Alice's
//!    device also tells the devices that did not answer.
//! 4. ICE candidates trickle between the two devices; Alice's wait until she
//!    knows which device answered.
//! 5. Either side hangs up ([`Signal::Hangup`]); before an answer the caller
//!    cancels ([`Signal::Cancel`]) and the callee declines
//!    ([`Signal::Decline`]). Unanswered after [`RING_TIMEOUT_MS`], the call
//!    ends as missed.

use parley_protocol::codec::{self, DecodeError, EncodeError};
use parley_protocol::{DeviceId, Millis, UserId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use thiserror::Error;
use uuid::Uuid;

/// A call's id, chosen by the caller (a UUID v7). Also the id of the call's
/// entry in the chat history.
pub type CallId = Uuid;

/// An unanswered call ends as missed after this long (counted from the
/// moment the offer goes out, not from the camera prompt).
pub const RING_TIMEOUT_MS: Millis = 45_000;
/// An answered call whose media has not flowed after this long failed.
pub const CONNECT_TIMEOUT_MS: Millis = 30_000;
/// A call whose connection dropped ends if it is not back within this long.
pub const RECONNECT_GRACE_MS: Millis = 15_000;
/// An offer no device has rung for yet goes out again after this long.
pub const OFFER_RESEND_MS: Millis = 3_000;
/// Once a device rings, the offer still goes out this often (to the callee's
/// other devices) until an answer, so a device that appears meanwhile rings.
pub const RINGING_OFFER_RESEND_MS: Millis = 6_000;
/// Longest SDP offer or answer, in bytes.
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// Longest ICE candidate line or media id, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Candidates a caller keeps while no device has answered yet.
const MAX_PENDING_CANDIDATES: usize = 64;
/// Ended calls remembered, so a re-sent offer does not ring again.
const RECENT_CALLS: usize = 16;

/// Signal format version (first byte of every plaintext).
const VERSION: u8 = 1;

/// A trickled ICE candidate, as `RTCIceCandidateInit` has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The `candidate:` line.
    pub candidate: String,
    /// The media section's id.
    pub sdp_mid: Option<String>,
    /// The media section's index.
    pub sdp_m_line_index: Option<u16>,
}

/// What one device tells another about a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// A new call, to every device of the callee.
    Offer {
        /// The call.
        call: CallId,
        /// Video (or voice only).
        video: bool,
        /// The caller's SDP offer.
        sdp: String,
    },
    /// This device of the callee is ringing.
    Ringing {
        /// The call.
        call: CallId,
    },
    /// Accepted on this device: the SDP answer.
    Answer {
        /// The call.
        call: CallId,
        /// The SDP answer.
        sdp: String,
    },
    /// Answered or declined on another device: stop ringing.
    Handled {
        /// The call.
        call: CallId,
        /// Answered (or declined) there.
        answered: bool,
    },
    /// The callee declined.
    Decline {
        /// The call.
        call: CallId,
    },
    /// The callee's device is in another call.
    Busy {
        /// The call.
        call: CallId,
    },
    /// The caller gave up before an answer.
    Cancel {
        /// The call.
        call: CallId,
    },
    /// Either side ended an answered call.
    Hangup {
        /// The call.
        call: CallId,
    },
    /// A trickled ICE candidate.
    Ice {
        /// The call.
        call: CallId,
        /// The candidate.
        candidate: Candidate,
    },
    /// A new offer during the call (video switched on or off).
    Renegotiate {
        /// The call.
        call: CallId,
        /// The new SDP offer.
        sdp: String,
    },
    /// The answer to a [`Signal::Renegotiate`].
    Reanswer {
        /// The call.
        call: CallId,
        /// The SDP answer.
        sdp: String,
    },
    /// The sender's camera and microphone are on or off (so the other side
    /// shows an avatar instead of a frozen picture, and a muted mark).
    Media {
        /// The call.
        call: CallId,
        /// Camera on.
        video: bool,
        /// Microphone on.
        audio: bool,
    },
}

/// A payload that is not a valid signal.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignalError {
    /// Empty, unknown version or undecodable.
    #[error("unreadable call signal")]
    Unreadable(#[source] DecodeError),
    /// An SDP or a candidate over its limit.
    #[error("call signal too large")]
    TooLarge,
}

impl Signal {
    /// The call it is about.
    pub fn call(&self) -> CallId {
        match self {
            Self::Offer { call, .. }
            | Self::Ringing { call }
            | Self::Answer { call, .. }
            | Self::Handled { call, .. }
            | Self::Decline { call }
            | Self::Busy { call }
            | Self::Cancel { call }
            | Self::Hangup { call }
            | Self::Ice { call, .. }
            | Self::Renegotiate { call, .. }
            | Self::Reanswer { call, .. }
            | Self::Media { call, .. } => *call,
        }
    }

    /// Encodes with the version byte.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        codec::encode(VERSION, self)
    }

    /// Decodes and checks bounds.
    pub fn decode(bytes: &[u8]) -> Result<Self, SignalError> {
        let signal: Signal = codec::decode(VERSION, bytes).map_err(SignalError::Unreadable)?;
        signal.check()?;
        Ok(signal)
    }

    /// Checks the limits.
    pub fn check(&self) -> Result<(), SignalError> {
        let fits = match self {
            Self::Offer { sdp, .. }
            | Self::Answer { sdp, .. }
            | Self::Renegotiate { sdp, .. }
            | Self::Reanswer { sdp, .. } => sdp.len() <= MAX_SDP_BYTES,
            Self::Ice { candidate, .. } => {
                candidate.candidate.len() <= MAX_CANDIDATE_BYTES
                    && candidate
                        .sdp_mid
                        .as_ref()
                        .is_none_or(|m| m.len() <= MAX_CANDIDATE_BYTES)
            }
            _ => true,
        };
        if fits {
            Ok(())
        } else {
            Err(SignalError::TooLarge)
        }
    }
}

/// Which devices a signal goes to. All of them belong to the call peer or
/// to this account (the only targets the server relays to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One device.
    Device(DeviceId),
    /// Every device of the peer.
    Peer,
    /// Every device of the peer but this one (the one that answered).
    PeerExcept(DeviceId),
    /// This account's other devices.
    Own,
}

/// How a call ended, as the chat history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Answered; the duration says for how long media flowed.
    Answered,
    /// Incoming, never answered (timed out, cancelled, or busy here).
    Missed,
    /// The callee declined (either side's view).
    Declined,
    /// Outgoing: the callee was in another call.
    Busy,
    /// Outgoing: nobody answered in time.
    NoAnswer,
    /// Outgoing: the caller hung up before an answer.
    Cancelled,
    /// Incoming: answered or declined on another of this account's devices.
    Elsewhere,
    /// Camera, microphone or the connection failed.
    Failed,
}

/// A finished call, for the chat history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLog {
    /// The call.
    pub call: CallId,
    /// The other person.
    pub peer: UserId,
    /// This account called.
    pub outgoing: bool,
    /// Video (or voice).
    pub video: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// When it started ringing (this device's clock).
    pub started_at: Millis,
    /// How long media flowed, for answered calls.
    pub duration_ms: Millis,
}

impl CallLog {
    /// "Missed video call", "Outgoing voice call"…
    pub fn describe(&self) -> String {
        let kind = if self.video {
            "video call"
        } else {
            "voice call"
        };
        match (self.outcome, self.outgoing) {
            (Outcome::Missed, _) => format!("Missed {kind}"),
            (Outcome::Declined, false) => format!("Declined {kind}"),
            (Outcome::Elsewhere, _) => format!("Incoming {kind} · answered on another device"),
            (Outcome::Busy, _) => format!("Outgoing {kind} · busy"),
            (Outcome::NoAnswer, _) => format!("Outgoing {kind} · no answer"),
            (Outcome::Declined, true) => format!("Outgoing {kind} · declined"),
            (Outcome::Cancelled, _) => format!("Cancelled {kind}"),
            (Outcome::Failed, _) => format!("Failed {kind}"),
            (Outcome::Answered, true) => format!("Outgoing {kind}"),
            (Outcome::Answered, false) => format!("Incoming {kind}"),
        }
    }

    /// [`CallLog::describe`], with the duration of an answered call.
    pub fn summary(&self) -> String {
        // An answered call that ended before media flowed has no length.
        if self.outcome == Outcome::Answered && self.duration_ms > 0 {
            format!("{} · {}", self.describe(), duration_text(self.duration_ms))
        } else {
            self.describe()
        }
    }
}

/// A call's length as a clock shows it: `0:07`, `12:30`, `1:02:03`.
pub fn duration_text(ms: Millis) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Outgoing: offer sent, no device of the callee rings yet.
    Calling,
    /// Outgoing: a device of the callee rings.
    Ringing,
    /// Incoming: this device rings.
    Incoming,
    /// Answered: media is connecting.
    Connecting,
    /// Media flows.
    Active,
}

/// The call this device is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Its id.
    pub id: CallId,
    /// The other person.
    pub peer: UserId,
    /// Their device in this call: the caller's, or the callee's that answered.
    pub peer_device: Option<DeviceId>,
    /// This device called.
    pub outgoing: bool,
    /// Started as a video call.
    pub video: bool,
    /// Where it stands.
    pub phase: Phase,
    /// When it started ringing.
    pub started_at: Millis,
    /// When media first flowed.
    pub connected_at: Option<Millis>,
    /// When the current wait began: the offer went out or came in, or the
    /// call was answered.
    since: Millis,
    /// When the connection dropped, while it is down.
    interrupted_at: Option<Millis>,
    /// The caller's offer: incoming, until accepted; outgoing, until
    /// answered (it goes out again for devices that do not ring yet).
    offer: Option<String>,
    /// Outgoing: when the offer goes out again, until an answer.
    resend_at: Option<Millis>,
    /// Outgoing: the first of the callee's devices that rang, which the
    /// offer's later copies skip.
    first_ringing: Option<DeviceId>,
    /// Candidates waiting for the other device: the caller's own before an
    /// answer, or the caller's at the callee before it accepts.
    waiting: Vec<Candidate>,
    /// This side's SDP (offer or answer) went out.
    offered: bool,
}

/// What the browser must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Encrypt `signal` for the `target` devices and send it (the frame's
    /// `to` is `peer`).
    Send {
        /// The call peer (who the frame is addressed to).
        peer: UserId,
        /// Which devices.
        target: Target,
        /// What to tell them.
        signal: Signal,
    },
    /// An incoming call: show it and ring.
    Ring,
    /// Set the remote description to this answer.
    ApplyAnswer(String),
    /// Set the remote description to this offer, then answer it with
    /// [`Calls::reanswer`].
    ApplyOffer(String),
    /// Add the peer's candidate.
    AddCandidate(Candidate),
    /// The peer's camera or microphone went on or off.
    RemoteMedia {
        /// Camera on.
        video: bool,
        /// Microphone on.
        audio: bool,
    },
    /// The current call is over: stop ringing, close the connection, release
    /// camera and microphone.
    Close,
    /// Put this call in the chat history.
    Record(CallLog),
}

/// Why a call cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CallError {
    /// This device is in a call already.
    #[error("you are already in a call")]
    InCall,
    /// The action does not fit the call's state (it ended meanwhile).
    #[error("this call is over")]
    NoSuchCall,
    /// Calling oneself.
    #[error("you cannot call yourself")]
    SelfCall,
}

/// One device's calls: at most one at a time.
#[derive(Debug, Clone)]
pub struct Calls {
    me: UserId,
    device: DeviceId,
    current: Option<Call>,
    /// Calls that ended here (or were answered busy), newest last.
    recent: VecDeque<CallId>,
}

impl Calls {
    /// For this signed-in device.
    pub fn new(me: UserId, device: DeviceId) -> Self {
        Self {
            me,
            device,
            current: None,
            recent: VecDeque::with_capacity(RECENT_CALLS),
        }
    }

    /// The call in progress.
    pub fn current(&self) -> Option<&Call> {
        self.current.as_ref()
    }

    /// When [`Calls::tick`] has something to do: the offer's next copy, the
    /// ring timeout, the connect timeout, or the end of a dropped
    /// connection's grace.
    pub fn deadline(&self) -> Option<Millis> {
        self.current.as_ref().and_then(|c| match c.phase {
            // The ring clock starts when the offer goes out.
            Phase::Calling | Phase::Ringing => c
                .offered
                .then_some(c.since + RING_TIMEOUT_MS)
                .map(|end| c.resend_at.map_or(end, |at| at.min(end))),
            Phase::Incoming => Some(c.since + RING_TIMEOUT_MS),
            Phase::Connecting => Some(c.since + CONNECT_TIMEOUT_MS),
            Phase::Active => c.interrupted_at.map(|at| at + RECONNECT_GRACE_MS),
        })
    }

    /// Starts an outgoing call; send the offer with [`Calls::offer`] once
    /// camera and microphone are open.
    pub fn start(
        &mut self,
        id: CallId,
        peer: UserId,
        video: bool,
        now: Millis,
    ) -> Result<(), CallError> {
        if peer == self.me {
            return Err(CallError::SelfCall);
        }
        if self.current.is_some() {
            return Err(CallError::InCall);
        }
        self.current = Some(Call::new(id, peer, None, video, None, now));
        Ok(())
    }

    /// The caller's offer is ready: ring every device of the peer.
    pub fn offer(&mut self, id: CallId, sdp: String, now: Millis) -> Vec<Action> {
        let Some(call) = self
            .current
            .as_mut()
            .filter(|c| c.id == id && c.outgoing && !c.offered)
        else {
            return Vec::new();
        };
        call.offered = true;
        call.since = now;
        call.offer = Some(sdp);
        call.send_offer(now)
    }

    /// A local ICE candidate: to the other device, or kept until the caller
    /// knows which device answered.
    pub fn local_candidate(&mut self, id: CallId, candidate: Candidate) -> Vec<Action> {
        let Some(call) = self.current.as_mut().filter(|c| c.id == id) else {
            return Vec::new();
        };
        match call.peer_device {
            Some(device) if call.phase != Phase::Incoming => vec![Action::Send {
                peer: call.peer,
                target: Target::Device(device),
                signal: Signal::Ice {
                    call: id,
                    candidate,
                },
            }],
            _ => {
                if call.waiting.len() < MAX_PENDING_CANDIDATES {
                    call.waiting.push(candidate);
                }
                Vec::new()
            }
        }
    }

    /// The person accepts the ringing call: the caller's offer and the
    /// candidates that came with it, to build the answer from.
    pub fn accept(
        &mut self,
        id: CallId,
        now: Millis,
    ) -> Result<(String, Vec<Candidate>), CallError> {
        let call = self
            .current
            .as_mut()
            .filter(|c| c.id == id && c.phase == Phase::Incoming)
            .ok_or(CallError::NoSuchCall)?;
        call.phase = Phase::Connecting;
        call.since = now;
        let offer = call.offer.take().unwrap_or_default();
        Ok((offer, std::mem::take(&mut call.waiting)))
    }

    /// The callee's answer is ready: to the caller's device, and "handled"
    /// to this account's other devices so they stop ringing.
    pub fn answered(&mut self, id: CallId, sdp: String) -> Vec<Action> {
        let Some(call) = self
            .current
            .as_mut()
            .filter(|c| c.id == id && !c.outgoing && c.phase == Phase::Connecting)
        else {
            return Vec::new();
        };
        let Some(device) = call.peer_device else {
            return Vec::new();
        };
        call.offered = true;
        vec![
            Action::Send {
                peer: call.peer,
                target: Target::Device(device),
                signal: Signal::Answer { call: id, sdp },
            },
            Action::Send {
                peer: call.peer,
                target: Target::Own,
                signal: Signal::Handled {
                    call: id,
                    answered: true,
                },
            },
        ]
    }

    /// A renegotiation offer of this side (video switched on).
    pub fn renegotiate(&self, id: CallId, sdp: String) -> Vec<Action> {
        self.to_peer_device(id, Signal::Renegotiate { call: id, sdp })
    }

    /// The answer to the peer's renegotiation.
    pub fn reanswer(&self, id: CallId, sdp: String) -> Vec<Action> {
        self.to_peer_device(id, Signal::Reanswer { call: id, sdp })
    }

    /// This side's camera or microphone went on or off.
    pub fn media(&self, id: CallId, video: bool, audio: bool) -> Vec<Action> {
        self.to_peer_device(
            id,
            Signal::Media {
                call: id,
                video,
                audio,
            },
        )
    }

    fn to_peer_device(&self, id: CallId, signal: Signal) -> Vec<Action> {
        match self.current.as_ref().filter(|c| c.id == id) {
            Some(Call {
                peer,
                peer_device: Some(device),
                phase: Phase::Connecting | Phase::Active,
                ..
            }) => vec![Action::Send {
                peer: *peer,
                target: Target::Device(*device),
                signal,
            }],
            _ => Vec::new(),
        }
    }

    /// Media flows: the call is on, and its duration counts from now (or
    /// it is back after a drop).
    pub fn connected(&mut self, id: CallId, now: Millis) {
        if let Some(call) = self.current.as_mut().filter(|c| c.id == id)
            && matches!(call.phase, Phase::Connecting | Phase::Active)
        {
            call.phase = Phase::Active;
            call.connected_at.get_or_insert(now);
            call.interrupted_at = None;
        }
    }

    /// The connection dropped (the network changed, the other side went
    /// away without a word): the call ends unless it is back within
    /// [`RECONNECT_GRACE_MS`].
    pub fn interrupted(&mut self, id: CallId, now: Millis) {
        if let Some(call) = self.current.as_mut().filter(|c| c.id == id)
            && call.phase == Phase::Active
        {
            call.interrupted_at.get_or_insert(now);
        }
    }

    /// The person declines the ringing call.
    pub fn decline(&mut self, id: CallId, now: Millis) -> Vec<Action> {
        match self.current.as_ref() {
            Some(c) if c.id == id && c.phase == Phase::Incoming => {
                self.decline_current(Outcome::Declined, now)
            }
            _ => Vec::new(),
        }
    }

    fn decline_current(&mut self, outcome: Outcome, now: Millis) -> Vec<Action> {
        let Some(call) = self.current.as_ref() else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        if let Some(device) = call.peer_device {
            actions.push(Action::Send {
                peer: call.peer,
                target: Target::Device(device),
                signal: Signal::Decline { call: call.id },
            });
        }
        actions.push(Action::Send {
            peer: call.peer,
            target: Target::Own,
            signal: Signal::Handled {
                call: call.id,
                answered: false,
            },
        });
        actions.extend(self.end(outcome, now));
        actions
    }

    /// Camera or microphone were refused: a call that never left this
    /// device is forgotten (nothing to tell, nothing to keep); any other
    /// fails.
    pub fn abandon(&mut self, id: CallId, now: Millis) -> Vec<Action> {
        match &self.current {
            Some(c) if c.id == id && c.outgoing && !c.offered => {
                self.current = None;
                vec![Action::Close]
            }
            _ => self.fail(id, now),
        }
    }

    /// The person hangs up (or cancels, or declines: whatever fits).
    pub fn hang_up(&mut self, id: CallId, now: Millis) -> Vec<Action> {
        self.stop(id, now, false)
    }

    /// Camera, microphone or the connection failed: end the call the way
    /// hanging up would, recorded as failed.
    pub fn fail(&mut self, id: CallId, now: Millis) -> Vec<Action> {
        self.stop(id, now, true)
    }

    fn stop(&mut self, id: CallId, now: Millis, failed: bool) -> Vec<Action> {
        let Some(call) = self.current.as_ref().filter(|c| c.id == id) else {
            return Vec::new();
        };
        let pick = |normal: Outcome| if failed { Outcome::Failed } else { normal };
        match call.phase {
            Phase::Incoming => self.decline_current(pick(Outcome::Declined), now),
            Phase::Calling | Phase::Ringing => {
                let mut actions = Vec::new();
                if call.offered {
                    actions.push(Action::Send {
                        peer: call.peer,
                        target: Target::Peer,
                        signal: Signal::Cancel { call: id },
                    });
                }
                actions.extend(self.end(pick(Outcome::Cancelled), now));
                actions
            }
            // Accepted, but the answer never went out (no microphone):
            // for the caller that is a decline.
            Phase::Connecting if !call.outgoing && !call.offered => {
                self.decline_current(pick(Outcome::Declined), now)
            }
            Phase::Connecting | Phase::Active => {
                let mut actions = Vec::new();
                if let Some(device) = call.peer_device {
                    actions.push(Action::Send {
                        peer: call.peer,
                        target: Target::Device(device),
                        signal: Signal::Hangup { call: id },
                    });
                }
                let outcome = if call.connected_at.is_some() {
                    Outcome::Answered
                } else {
                    pick(Outcome::Answered)
                };
                actions.extend(self.end(outcome, now));
                actions
            }
        }
    }

    /// The clock moved: an unanswered offer goes out again; an unanswered
    /// call past [`RING_TIMEOUT_MS`] ends as missed; one that
    /// never connected, or dropped and did not come back, fails.
    pub fn tick(&mut self, now: Millis) -> Vec<Action> {
        if self.deadline().is_none_or(|d| now < d) {
            return Vec::new();
        }
        let Some(call) = self.current.as_mut() else {
            return Vec::new();
        };
        match call.phase {
            // Before the ring clock runs out, only a resend falls due.
            Phase::Calling | Phase::Ringing if now < call.since + RING_TIMEOUT_MS => {
                call.send_offer(now)
            }
            Phase::Calling | Phase::Ringing => {
                let mut actions = vec![Action::Send {
                    peer: call.peer,
                    target: Target::Peer,
                    signal: Signal::Cancel { call: call.id },
                }];
                actions.extend(self.end(Outcome::NoAnswer, now));
                actions
            }
            Phase::Incoming => self.end(Outcome::Missed, now),
            Phase::Connecting | Phase::Active => {
                let id = call.id;
                self.fail(id, now)
            }
        }
    }

    /// Ends the current call.
    fn end(&mut self, outcome: Outcome, now: Millis) -> Vec<Action> {
        let Some(call) = self.current.take() else {
            return Vec::new();
        };
        self.remember(call.id);
        let duration_ms = call.connected_at.map_or(0, |at| (now - at).max(0));
        vec![
            Action::Close,
            Action::Record(CallLog {
                call: call.id,
                peer: call.peer,
                outgoing: call.outgoing,
                video: call.video,
                outcome,
                started_at: call.started_at,
                duration_ms,
            }),
        ]
    }

    /// A decrypted signal from `from`'s device `from_device`.
    pub fn receive(
        &mut self,
        from: UserId,
        from_device: DeviceId,
        signal: Signal,
        now: Millis,
    ) -> Vec<Action> {
        if from_device == self.device {
            return Vec::new();
        }
        if let Signal::Offer { call, video, sdp } = signal {
            return self.offered(from, from_device, call, video, sdp, now);
        }
        let id = signal.call();
        let Some(call) = self.current.as_mut().filter(|c| c.id == id) else {
            // An answer to a call that is over here (cancelled as the callee
            // accepted): end it over there too, or it would wait in vain.
            if matches!(signal, Signal::Answer { .. }) && from != self.me {
                return vec![Action::Send {
                    peer: from,
                    target: Target::Device(from_device),
                    signal: Signal::Hangup { call: id },
                }];
            }
            return Vec::new();
        };
        // Only the peer's devices (and for `Handled`, this account's) speak
        // about a call; within it, only the one device taking part.
        let own = from == self.me;
        if from != call.peer && !own {
            return Vec::new();
        }
        let from_partner = !own && call.peer_device == Some(from_device);
        let waiting = matches!(call.phase, Phase::Calling | Phase::Ringing);
        match signal {
            Signal::Offer { .. } => Vec::new(),
            Signal::Ringing { .. } if call.outgoing && !own => {
                // The offer keeps going out, at a gentler pace and past this
                // device, for the callee's devices that do not ring yet.
                if call.phase == Phase::Calling {
                    call.phase = Phase::Ringing;
                    call.first_ringing = Some(from_device);
                    call.resend_at = Some(now + RINGING_OFFER_RESEND_MS);
                }
                Vec::new()
            }
            Signal::Answer { sdp, .. } if call.outgoing && !own => {
                if waiting {
                    call.phase = Phase::Connecting;
                    call.since = now;
                    call.peer_device = Some(from_device);
                    call.resend_at = None;
                    call.offer = None;
                    let peer = call.peer;
                    let mut actions = vec![
                        Action::ApplyAnswer(sdp),
                        Action::Send {
                            peer,
                            target: Target::PeerExcept(from_device),
                            signal: Signal::Handled {
                                call: id,
                                answered: true,
                            },
                        },
                    ];
                    actions.extend(std::mem::take(&mut call.waiting).into_iter().map(
                        |candidate| Action::Send {
                            peer,
                            target: Target::Device(from_device),
                            signal: Signal::Ice {
                                call: id,
                                candidate,
                            },
                        },
                    ));
                    actions
                } else if !from_partner {
                    // A second device answered too late.
                    vec![Action::Send {
                        peer: call.peer,
                        target: Target::Device(from_device),
                        signal: Signal::Hangup { call: id },
                    }]
                } else {
                    Vec::new()
                }
            }
            // Ringing here: another device of this account took it, or the
            // caller says one did. Accepted here too: only the caller can
            // say which device it chose.
            Signal::Handled { answered, .. }
                if !call.outgoing
                    && call.connected_at.is_none()
                    && match call.phase {
                        Phase::Incoming => own || from_partner,
                        Phase::Connecting => from_partner,
                        _ => false,
                    } =>
            {
                let outcome = if answered {
                    Outcome::Elsewhere
                } else {
                    Outcome::Declined
                };
                self.end(outcome, now)
            }
            Signal::Decline { .. } if call.outgoing && waiting && !own => {
                let mut actions = vec![Action::Send {
                    peer: call.peer,
                    target: Target::PeerExcept(from_device),
                    signal: Signal::Handled {
                        call: id,
                        answered: false,
                    },
                }];
                actions.extend(self.end(Outcome::Declined, now));
                actions
            }
            Signal::Busy { .. } if call.outgoing && waiting && !own => {
                let mut actions = vec![Action::Send {
                    peer: call.peer,
                    target: Target::PeerExcept(from_device),
                    signal: Signal::Cancel { call: id },
                }];
                actions.extend(self.end(Outcome::Busy, now));
                actions
            }
            Signal::Cancel { .. } if !call.outgoing && from_partner => {
                // Cancelled while this side was accepting: never connected.
                let outcome = if call.connected_at.is_some() {
                    Outcome::Answered
                } else {
                    Outcome::Missed
                };
                self.end(outcome, now)
            }
            Signal::Hangup { .. } if from_partner => {
                let outcome = if call.phase == Phase::Incoming {
                    Outcome::Missed
                } else {
                    Outcome::Answered
                };
                self.end(outcome, now)
            }
            Signal::Ice { candidate, .. } if from_partner => {
                if call.phase == Phase::Incoming {
                    if call.waiting.len() < MAX_PENDING_CANDIDATES {
                        call.waiting.push(candidate);
                    }
                    Vec::new()
                } else {
                    vec![Action::AddCandidate(candidate)]
                }
            }
            Signal::Renegotiate { sdp, .. }
                if from_partner && matches!(call.phase, Phase::Connecting | Phase::Active) =>
            {
                vec![Action::ApplyOffer(sdp)]
            }
            Signal::Reanswer { sdp, .. }
                if from_partner && matches!(call.phase, Phase::Connecting | Phase::Active) =>
            {
                vec![Action::ApplyAnswer(sdp)]
            }
            Signal::Media { video, audio, .. } if from_partner => {
                vec![Action::RemoteMedia { video, audio }]
            }
            _ => Vec::new(),
        }
    }

    fn offered(
        &mut self,
        from: UserId,
        from_device: DeviceId,
        id: CallId,
        video: bool,
        sdp: String,
        now: Millis,
    ) -> Vec<Action> {
        // Offers go to the callee's devices only; a copy to one's own
        // device would be a confused (or malicious) sender.
        if from == self.me || self.recent.contains(&id) {
            return Vec::new();
        }
        if let Some(call) = &self.current {
            if call.id == id {
                // The caller sent it again: its ringing signal was lost.
                return if call.phase == Phase::Incoming && call.peer_device == Some(from_device) {
                    vec![ringing(from, from_device, id)]
                } else {
                    Vec::new()
                };
            }
            let crossing = call.outgoing
                && call.peer == from
                && matches!(call.phase, Phase::Calling | Phase::Ringing);
            if crossing && call.offered && call.id < id {
                // Both called each other at once: the lower call id goes
                // on, and the other side gives way to ours.
                return Vec::new();
            }
            if crossing {
                // Ours gives way: cancel it and ring for theirs.
                let mut actions = Vec::new();
                if call.offered {
                    actions.push(Action::Send {
                        peer: call.peer,
                        target: Target::Peer,
                        signal: Signal::Cancel { call: call.id },
                    });
                }
                actions.push(Action::Close);
                self.current = None;
                actions.extend(self.ring(from, from_device, id, video, sdp, now));
                return actions;
            }
            // In a call already: the caller hears "busy", and this device
            // keeps a missed call (once, however often the offer comes).
            self.remember(id);
            return vec![
                Action::Send {
                    peer: from,
                    target: Target::Device(from_device),
                    signal: Signal::Busy { call: id },
                },
                Action::Record(CallLog {
                    call: id,
                    peer: from,
                    outgoing: false,
                    video,
                    outcome: Outcome::Missed,
                    started_at: now,
                    duration_ms: 0,
                }),
            ];
        }
        self.ring(from, from_device, id, video, sdp, now)
    }

    /// Keeps an ended call's id, so the offer cannot ring for it again.
    fn remember(&mut self, id: CallId) {
        if self.recent.len() == RECENT_CALLS {
            self.recent.pop_front();
        }
        self.recent.push_back(id);
    }

    /// Rings for an offer.
    fn ring(
        &mut self,
        from: UserId,
        from_device: DeviceId,
        id: CallId,
        video: bool,
        sdp: String,
        now: Millis,
    ) -> Vec<Action> {
        self.current = Some(Call::new(
            id,
            from,
            Some(from_device),
            video,
            Some(sdp),
            now,
        ));
        vec![Action::Ring, ringing(from, from_device, id)]
    }
}

/// "This device rings for `call`", to the caller's device.
fn ringing(caller: UserId, device: DeviceId, call: CallId) -> Action {
    Action::Send {
        peer: caller,
        target: Target::Device(device),
        signal: Signal::Ringing { call },
    }
}

impl Call {
    /// The offer to every device of the peer, again after [`OFFER_RESEND_MS`];
    /// once one rings, to the others, again after [`RINGING_OFFER_RESEND_MS`].
    /// The target names no device list: the browser fetches it afresh for
    /// each copy, so a device that appeared since gets it. A device that
    /// rings already answers a copy with `Ringing` and does not ring anew.
    fn send_offer(&mut self, now: Millis) -> Vec<Action> {
        let (target, pace) = match self.first_ringing {
            Some(device) => (Target::PeerExcept(device), RINGING_OFFER_RESEND_MS),
            None => (Target::Peer, OFFER_RESEND_MS),
        };
        self.resend_at = Some(now + pace);
        self.offer
            .clone()
            .map(|sdp| Action::Send {
                peer: self.peer,
                target,
                signal: Signal::Offer {
                    call: self.id,
                    video: self.video,
                    sdp,
                },
            })
            .into_iter()
            .collect()
    }

    /// A call that starts now: outgoing when `from_device` is unknown (this
    /// device calls), incoming with the caller's device and offer otherwise.
    fn new(
        id: CallId,
        peer: UserId,
        from_device: Option<DeviceId>,
        video: bool,
        offer: Option<String>,
        now: Millis,
    ) -> Self {
        let outgoing = from_device.is_none();
        Self {
            id,
            peer,
            peer_device: from_device,
            outgoing,
            video,
            phase: if outgoing {
                Phase::Calling
            } else {
                Phase::Incoming
            },
            started_at: now,
            connected_at: None,
            since: now,
            interrupted_at: None,
            offer,
            resend_at: None,
            first_ringing: None,
            waiting: Vec::new(),
            offered: false,
        }
    }
}
