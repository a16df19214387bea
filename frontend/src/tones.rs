//! The ring tone (callee), the ring-back tone (caller) and the new-message
//! chime, synthesised with Web Audio: no sound file to download or cache.

use leptos::prelude::{IntervalHandle, set_interval_with_handle};
use std::time::Duration;
use web_sys::{AudioContext, OscillatorType};

/// Which tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// An incoming call: a two-note chime every two seconds.
    Ring,
    /// The caller's "it is ringing over there": one long low tone every four.
    Ringback,
    /// A new message: two short high notes, once.
    Message,
}

/// A tone playing until dropped.
pub struct Ringer {
    context: AudioContext,
    timer: Option<IntervalHandle>,
}

impl Ringer {
    /// Starts playing. `None` when the browser has no Web Audio; a context
    /// that autoplay rules keep suspended simply stays silent.
    pub fn start(tone: Tone) -> Option<Self> {
        let context = AudioContext::new().ok()?;
        let _ = context.resume();
        let period = match tone {
            Tone::Ring | Tone::Message => Duration::from_secs(2),
            Tone::Ringback => Duration::from_secs(4),
        };
        let ctx = context.clone();
        play(&ctx, tone);
        let timer = set_interval_with_handle(move || play(&ctx, tone), period).ok();
        Some(Self { context, timer })
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.clear();
        }
        let _ = self.context.close();
    }
}

/// Plays [`Tone::Message`] once.
pub fn chime() {
    let Ok(context) = AudioContext::new() else {
        return;
    };
    let _ = context.resume();
    play(&context, Tone::Message);
    // The context is closed once the notes have played.
    let _ = leptos::prelude::set_timeout_with_handle(
        move || {
            let _ = context.close();
        },
        Duration::from_secs(1),
    );
}

/// Schedules one burst of the tone.
fn play(ctx: &AudioContext, tone: Tone) {
    let notes: &[(f32, f64, f64)] = match tone {
        // (frequency, start, length) in Hz and seconds
        Tone::Ring => &[(880.0, 0.0, 0.18), (660.0, 0.22, 0.3)],
        Tone::Ringback => &[(425.0, 0.0, 1.2)],
        Tone::Message => &[(1046.5, 0.0, 0.09), (1318.5, 0.11, 0.14)],
    };
    let now = ctx.current_time();
    for &(frequency, start, length) in notes {
        let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else {
            return;
        };
        osc.set_type(OscillatorType::Sine);
        osc.frequency().set_value(frequency);
        let level = gain.gain();
        let _ = level.set_value_at_time(0.0, now + start);
        let _ = level.linear_ramp_to_value_at_time(0.2, now + start + 0.02);
        let _ = level.linear_ramp_to_value_at_time(0.0, now + start + length);
        if osc.connect_with_audio_node(&gain).is_err()
            || gain.connect_with_audio_node(&ctx.destination()).is_err()
        {
            return;
        }
        let _ = osc.start_with_when(now + start);
        let _ = osc.stop_with_when(now + start + length + 0.05);
    }
}
