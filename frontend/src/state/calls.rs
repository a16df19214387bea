//! What the call screen renders. Written by the call controller, read by the
//! views.

use leptos::prelude::*;
use parley_client::call::CallId;
use parley_protocol::{Millis, UserId};

/// Where the call on screen stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Outgoing, no device of the callee rings yet.
    Calling,
    /// Outgoing, ringing over there.
    Ringing,
    /// Incoming, ringing here.
    Incoming,
    /// Answered, media connecting.
    Connecting,
    /// Media flows.
    Active,
    /// Over; the text says how (shown briefly).
    Ended(String),
}

impl Stage {
    /// For `data-stage` in the markup (tests and styles).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Calling => "calling",
            Self::Ringing => "ringing",
            Self::Incoming => "incoming",
            Self::Connecting => "connecting",
            Self::Active => "active",
            Self::Ended(_) => "ended",
        }
    }
}

/// The call on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// Which call.
    pub id: CallId,
    /// The other person.
    pub peer: UserId,
    /// This side called.
    pub outgoing: bool,
    /// Started as a video call.
    pub video: bool,
    /// Where it stands.
    pub stage: Stage,
    /// When media started flowing (for the duration).
    pub connected_at: Option<Millis>,
    /// This side's microphone is off.
    pub muted: bool,
    /// This side sends video.
    pub camera: bool,
    /// The other side sends video.
    pub remote_video: bool,
    /// The other side's microphone is on.
    pub remote_audio: bool,
}

/// What the call screen renders. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct CallUi {
    /// The call on screen, if any.
    pub view: RwSignal<Option<CallView>>,
    /// Why the last call could not start or go on (camera refused…).
    pub error: RwSignal<Option<String>>,
    /// Bumped whenever the local or remote stream changed: the video
    /// elements pick them up from the call controller.
    pub streams: RwSignal<u32>,
}

impl CallUi {
    /// No call.
    pub fn new() -> Self {
        Self {
            view: RwSignal::new(None),
            error: RwSignal::new(None),
            streams: RwSignal::new(0),
        }
    }

    /// Nothing on screen (signed out).
    pub fn clear(self) {
        self.view.set(None);
        self.error.set(None);
    }
}

impl Default for CallUi {
    fn default() -> Self {
        Self::new()
    }
}
