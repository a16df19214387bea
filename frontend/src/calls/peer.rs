//! One `RTCPeerConnection`, with the few steps a call needs.

use super::media;
use parley_client::call::Candidate;
use parley_protocol::api::IceConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcIceCandidateInit, RtcIceServer,
    RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState, RtcTrackEvent,
};

/// What the connection reports back.
pub struct Handlers {
    /// A local candidate to trickle to the other side.
    pub candidate: Box<dyn Fn(Candidate)>,
    /// A remote track arrived, with the stream the sender put it in.
    pub track: Box<dyn Fn(MediaStreamTrack, Option<MediaStream>)>,
    /// The connection state changed.
    pub state: Box<dyn Fn(RtcPeerConnectionState)>,
}

/// A peer connection and the closures it calls (kept alive with it).
pub struct Peer {
    pc: RtcPeerConnection,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Peer {
    /// A connection through the server's STUN/TURN; with `relay_only`, only
    /// through its relay (the other side never sees this device's address).
    pub fn new(ice: &IceConfig, relay_only: bool, handlers: Handlers) -> Result<Self, JsValue> {
        let servers = js_sys::Array::new();
        for server in &ice.ice_servers {
            let entry = RtcIceServer::new();
            let urls: js_sys::Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            entry.set_urls(&urls);
            if let Some(username) = &server.username {
                entry.set_username(username);
            }
            if let Some(credential) = &server.credential {
                entry.set_credential(credential);
            }
            servers.push(&entry);
        }
        let config = RtcConfiguration::new();
        config.set_ice_servers(&servers);
        if relay_only {
            config.set_ice_transport_policy(RtcIceTransportPolicy::Relay);
        }
        let pc = RtcPeerConnection::new_with_configuration(&config)?;

        let Handlers {
            candidate,
            track,
            state,
        } = handlers;
        let on_candidate = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let Some(c) = event
                .dyn_ref::<RtcPeerConnectionIceEvent>()
                .and_then(RtcPeerConnectionIceEvent::candidate)
            else {
                return;
            };
            // The empty candidate only marks the end of gathering.
            if !c.candidate().is_empty() {
                candidate(Candidate {
                    candidate: c.candidate(),
                    sdp_mid: c.sdp_mid(),
                    sdp_m_line_index: c.sdp_m_line_index(),
                });
            }
        });
        pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        let on_track = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let Some(event) = event.dyn_ref::<RtcTrackEvent>() {
                let stream = event.streams().get(0).dyn_into::<MediaStream>().ok();
                track(event.track(), stream);
            }
        });
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        let watched = pc.clone();
        let on_state = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            state(watched.connection_state());
        });
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        Ok(Self {
            pc,
            _closures: vec![on_candidate, on_track, on_state],
        })
    }

    /// Sends every track of `stream`.
    pub fn add_stream(&self, stream: &MediaStream) {
        for track in media::tracks(stream, "audio")
            .into_iter()
            .chain(media::tracks(stream, "video"))
        {
            self.pc.add_track_0(&track, stream);
        }
    }

    /// Sends one more track (video switched on).
    pub fn add_track(&self, track: &MediaStreamTrack, stream: &MediaStream) {
        self.pc.add_track_0(track, stream);
    }

    /// Creates an offer and makes it the local description.
    pub async fn offer(&self) -> Result<String, JsValue> {
        self.set_local(RtcSdpType::Offer, self.pc.create_offer())
            .await
    }

    /// Takes the other side's offer and answers it. `polite`: on a clash
    /// with an offer of ours, ours gives way (perfect negotiation).
    /// `None`: ours wins and theirs is ignored.
    pub async fn answer(&self, offer: &str, polite: bool) -> Result<Option<String>, JsValue> {
        if self.pc.signaling_state() == RtcSignalingState::HaveLocalOffer {
            if !polite {
                return Ok(None);
            }
            let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
            JsFuture::from(self.pc.set_local_description(&rollback)).await?;
        }
        self.set_remote(RtcSdpType::Offer, offer).await?;
        self.set_local(RtcSdpType::Answer, self.pc.create_answer())
            .await
            .map(Some)
    }

    /// Takes the other side's answer to our offer.
    pub async fn apply_answer(&self, sdp: &str) -> Result<(), JsValue> {
        if self.pc.signaling_state() != RtcSignalingState::HaveLocalOffer {
            return Ok(());
        }
        self.set_remote(RtcSdpType::Answer, sdp).await
    }

    /// Adds a trickled candidate of the other side. One refused is only
    /// logged: the others may still connect.
    pub async fn add_candidate(&self, candidate: &Candidate) {
        let init = RtcIceCandidateInit::new(&candidate.candidate);
        init.set_sdp_mid(candidate.sdp_mid.as_deref());
        init.set_sdp_m_line_index(candidate.sdp_m_line_index);
        let added = self
            .pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
        if let Err(err) = JsFuture::from(added).await {
            leptos::logging::warn!("call: a candidate was refused: {err:?}");
        }
    }

    /// Ends the connection (no more callbacks).
    pub fn close(&self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_ontrack(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.close();
    }

    /// Makes the offer or answer `created` resolves to the local
    /// description, and gives its SDP for the other side.
    async fn set_local(
        &self,
        kind: RtcSdpType,
        created: js_sys::Promise,
    ) -> Result<String, JsValue> {
        let sdp = sdp_of(&JsFuture::from(created).await?);
        JsFuture::from(self.pc.set_local_description(&description(kind, &sdp))).await?;
        Ok(sdp)
    }

    /// Takes the other side's offer or answer.
    async fn set_remote(&self, kind: RtcSdpType, sdp: &str) -> Result<(), JsValue> {
        JsFuture::from(self.pc.set_remote_description(&description(kind, sdp))).await?;
        Ok(())
    }
}

impl Drop for Peer {
    /// A connection nobody holds any more must not keep camera, microphone
    /// and the network busy.
    fn drop(&mut self) {
        self.close();
    }
}

fn description(kind: RtcSdpType, sdp: &str) -> RtcSessionDescriptionInit {
    let description = RtcSessionDescriptionInit::new(kind);
    description.set_sdp(sdp);
    description
}

fn sdp_of(description: &JsValue) -> String {
    js_sys::Reflect::get(description, &JsValue::from_str("sdp"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}
