//! `Signal::decode`: a call signal's plaintext, as the peer's device wrote
//! it. What decodes is within its bounds and re-encodes to bytes that decode
//! the same.

use super::round_trip;
use crate::engine::{Broken, Target, Verdict};
use parley_client::call::{Candidate, Signal};
use uuid::Uuid;

const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
                   a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
                   a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\na=mid:0\r\n";

struct Signals;

impl Target for Signals {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let call = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_00ca);
        [
            Signal::Offer {
                call,
                video: true,
                sdp: SDP.into(),
            },
            Signal::Ringing { call },
            Signal::Answer {
                call,
                sdp: SDP.into(),
            },
            Signal::Handled {
                call,
                answered: true,
            },
            Signal::Decline { call },
            Signal::Busy { call },
            Signal::Cancel { call },
            Signal::Hangup { call },
            Signal::Ice {
                call,
                candidate: Candidate {
                    candidate: "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                },
            },
            Signal::Ice {
                call,
                candidate: Candidate {
                    candidate: String::new(),
                    sdp_mid: None,
                    sdp_m_line_index: None,
                },
            },
            Signal::Renegotiate {
                call,
                sdp: SDP.into(),
            },
            Signal::Reanswer {
                call,
                sdp: SDP.into(),
            },
            Signal::Media {
                call,
                video: false,
                audio: true,
            },
        ]
        .iter()
        // A value that cannot encode fails the round trip instead.
        .filter_map(|signal| signal.encode().ok())
        .collect()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[&[1], &[16], &[0x80, 0x80, 0x02], &[0x81, 0x08], b"\r\n"]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Ok(signal) = Signal::decode(input) else {
            return Ok(Verdict::Rejected);
        };
        if signal.check().is_err() {
            return Err(Broken::new(
                "decoded signal is within bounds",
                format!("{signal:?}"),
            ));
        }
        let _ = signal.call();
        round_trip(&signal, Signal::encode, Signal::decode)?;
        Ok(Verdict::Accepted)
    }
}

/// The `call_signal` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(Signals))
}
