//! Voice notes: recording one in the composer (the microphone button, the
//! time so far, cancel or send) and playing one in its bubble (play and
//! pause, a waveform to seek on, 1× / 1.5× / 2×).
//!
//! The recording is Opus in WebM (`MediaRecorder`); its loudness is sampled
//! ten times a second while it records, and 64 bars of it travel with the
//! file as its waveform. It is sent like any file: encrypted in chunks,
//! uploaded, then the message.

use crate::calls::media::{self, MediaError};
use crate::session::Session;
use crate::state::AppState;
use crate::ui::icon_button::IconButton;
use crate::ui::icons::{IconClose, IconMic, IconSend};
use leptos::html::Audio;
use leptos::prelude::*;
use leptos::task::spawn_local;
use parley_client::attachment::{Kind, MAX_WAVEFORM_BARS};
use parley_protocol::ConversationId;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{
    AnalyserNode, AudioContext, Blob, BlobEvent, File, FilePropertyBag, MediaRecorder,
    MediaRecorderOptions, MediaStream,
};

/// What the recorder writes: Opus in WebM, which Chromium and Firefox play.
const VOICE_TYPE: &str = "audio/webm;codecs=opus";
/// How often loudness is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The longest voice note (an hour), like WhatsApp's.
const MAX_SECONDS: f64 = 3600.0;

/// A recording under way.
struct Recording {
    recorder: MediaRecorder,
    stream: MediaStream,
    context: Option<AudioContext>,
    parts: Rc<RefCell<Vec<Blob>>>,
    levels: Rc<RefCell<Vec<u8>>>,
    started: f64,
    sampler: Option<IntervalHandle>,
    // Kept alive while the recorder may call them.
    _on_data: Closure<dyn FnMut(BlobEvent)>,
}

impl Recording {
    /// Stops everything: the recorder, the microphone, the sampling. The
    /// recorder still gives its last data and says it stopped.
    fn stop(&mut self) {
        if let Some(sampler) = self.sampler.take() {
            sampler.clear();
        }
        if self.recorder.state() != web_sys::RecordingState::Inactive {
            let _ = self.recorder.stop();
        }
        media::stop(&self.stream);
        if let Some(context) = self.context.take() {
            let _ = context.close();
        }
    }
}

/// However a recording ends (sent, cancelled, the composer taken down, a
/// set-up that failed half-way), the microphone goes off, and the
/// recorder no longer calls closures that are about to be freed.
impl Drop for Recording {
    fn drop(&mut self) {
        self.recorder.set_ondataavailable(None);
        self.recorder.set_onstop(None);
        self.recorder.set_onerror(None);
        self.stop();
    }
}

fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// `levels` (one per sample) in at most [`MAX_WAVEFORM_BARS`] bars, each the
/// loudest of the samples it covers, scaled so the loudest bar is full:
/// the shape of the message, whatever the microphone's gain.
pub fn waveform(levels: &[u8]) -> Vec<u8> {
    let bars: Vec<u8> = if levels.len() <= MAX_WAVEFORM_BARS {
        levels.to_vec()
    } else {
        (0..MAX_WAVEFORM_BARS)
            .map(|bar| {
                let from = bar * levels.len() / MAX_WAVEFORM_BARS;
                let to = ((bar + 1) * levels.len() / MAX_WAVEFORM_BARS).max(from + 1);
                levels[from..to].iter().copied().max().unwrap_or(0)
            })
            .collect()
    };
    let loudest = u32::from(bars.iter().copied().max().unwrap_or(0)).max(1);
    bars.into_iter()
        .map(|b| u8::try_from(u32::from(b) * 255 / loudest).unwrap_or(u8::MAX))
        .collect()
}

/// The loudness the analyser hears now, 0-255, on a square-root scale (as
/// ears hear it: a quiet voice still shows).
fn loudness(analyser: &AnalyserNode) -> u8 {
    let mut samples = vec![128u8; analyser.fft_size() as usize];
    analyser.get_byte_time_domain_data(&mut samples);
    let peak = samples
        .iter()
        .map(|s| (i16::from(*s) - 128).unsigned_abs())
        .max()
        .unwrap_or(0);
    let share = (f64::from(peak) / 128.0).clamp(0.0, 1.0);
    (share.sqrt() * 255.0).round() as u8
}

/// "0:07", "12:30" (a call's length is said the same way).
pub fn clock(ms: f64) -> String {
    parley_client::call::duration_text(ms as parley_protocol::Millis)
}

async fn start(elapsed: RwSignal<f64>) -> Result<Recording, String> {
    let stream = media::microphone().await.map_err(|e| match e {
        MediaError::Denied(_) => "Allow the microphone to record a voice message.".to_owned(),
        other => other.to_string(),
    })?;
    let options = MediaRecorderOptions::new();
    if MediaRecorder::is_type_supported(VOICE_TYPE) {
        options.set_mime_type(VOICE_TYPE);
    }
    let recorder =
        match MediaRecorder::new_with_media_stream_and_media_recorder_options(&stream, &options) {
            Ok(recorder) => recorder,
            Err(_) => {
                media::stop(&stream);
                return Err("This browser cannot record audio.".to_owned());
            }
        };
    let parts: Rc<RefCell<Vec<Blob>>> = Rc::default();
    let on_data = {
        let parts = Rc::clone(&parts);
        Closure::<dyn FnMut(BlobEvent)>::new(move |ev: BlobEvent| {
            if let Some(data) = ev.data() {
                parts.borrow_mut().push(data);
            }
        })
    };
    recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
    let mut recording = Recording {
        recorder,
        stream,
        context: None,
        parts,
        levels: Rc::default(),
        started: now_ms(),
        sampler: None,
        _on_data: on_data,
    };
    // From here on, dropping `recording` turns the microphone off.
    recording
        .recorder
        .start_with_time_slice(1000)
        .map_err(|_| "The recording could not start.".to_owned())?;
    // Loudness for the waveform; a recording without it still goes.
    let stream = &recording.stream;
    let context = AudioContext::new().ok();
    if let Some(ctx) = &context {
        // Made after an await, past the click's activation: it may start
        // suspended, hearing only silence.
        let _ = ctx.resume();
    }
    let analyser = context.as_ref().and_then(|ctx| {
        let source = ctx.create_media_stream_source(stream).ok()?;
        let analyser = ctx.create_analyser().ok()?;
        analyser.set_fft_size(1024);
        source.connect_with_audio_node(&analyser).ok()?;
        Some(analyser)
    });
    let started = recording.started;
    recording.sampler = {
        let levels = Rc::clone(&recording.levels);
        set_interval_with_handle(
            move || {
                if let Some(analyser) = &analyser {
                    levels.borrow_mut().push(loudness(analyser));
                }
                elapsed.try_set(now_ms() - started);
            },
            SAMPLE_EVERY,
        )
        .ok()
    };
    recording.context = context;
    Ok(recording)
}

/// Stops `recording` and hands back the file and its kind, once the
/// recorder has given its last data.
async fn finish(mut recording: Recording) -> Result<(File, Kind), String> {
    let duration = now_ms() - recording.started;
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    let done = RefCell::new(Some(done));
    let on_stop = Closure::<dyn FnMut()>::new(move || {
        if let Some(done) = done.borrow_mut().take() {
            let _ = done.send(());
        }
    });
    recording
        .recorder
        .set_onstop(Some(on_stop.as_ref().unchecked_ref()));
    let running = recording.recorder.state() != web_sys::RecordingState::Inactive;
    recording.stop();
    // The last data comes before "stop". A recorder that had stopped on
    // its own (the microphone unplugged) says nothing more: no waiting
    // then, and never more than two seconds.
    if running {
        let _ = futures::future::select(
            wait,
            Box::pin(crate::scope::after(std::time::Duration::from_secs(2))),
        )
        .await;
    }
    let kind_type = recording.recorder.mime_type();
    let parts = js_sys::Array::new();
    for part in recording.parts.borrow().iter() {
        parts.push(part);
    }
    let bag = FilePropertyBag::new();
    bag.set_type(&kind_type);
    let name = format!("Voice message {}.webm", clock(duration).replace(':', "-"));
    let file = File::new_with_blob_sequence_and_options(&parts, &name, &bag)
        .map_err(|_| "The recording could not be saved.".to_owned())?;
    let kind = Kind::Voice {
        duration_ms: duration.round().clamp(0.0, f64::from(u32::MAX)) as u32,
        waveform: waveform(&recording.levels.borrow()),
    };
    Ok((file, kind))
}

/// The microphone button, and the recording bar while it records.
#[component]
pub fn VoiceRecorder(chat: ConversationId) -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let recording: StoredValue<Option<Recording>, LocalStorage> = StoredValue::new_local(None);
    let active = RwSignal::new(false);
    let elapsed = RwSignal::new(0.0);
    let error = RwSignal::new(None::<String>);
    let begin = move |_| {
        if active.get_untracked() {
            return;
        }
        active.set(true);
        error.set(None);
        elapsed.set(0.0);
        spawn_local(async move {
            match start(elapsed).await {
                // Cancelled (or the chat closed) while the browser asked
                // for the microphone: dropping it turns it off again.
                Ok(started) if !active.try_get_untracked().unwrap_or(false) => drop(started),
                Ok(started) => {
                    if let Some(Some(unwanted)) = recording.try_set_value(Some(started)) {
                        drop(unwanted);
                    }
                }
                Err(why) => {
                    active.set(false);
                    error.set(Some(why));
                }
            }
        });
    };
    let cancel = move |_| {
        // Dropped: the microphone goes off, the recording with it.
        drop(recording.try_update_value(Option::take).flatten());
        active.set(false);
    };
    let send = move |_| {
        let Some(r) = recording.try_update_value(Option::take).flatten() else {
            return;
        };
        active.set(false);
        spawn_local(async move {
            match finish(r).await {
                Ok((file, kind)) => {
                    app.media.send(
                        app,
                        chat,
                        file,
                        Some(kind),
                        String::new(),
                        session.file_sender(chat),
                    );
                }
                Err(why) => error.set(Some(why)),
            }
        });
    };
    // An hour at most, then it goes by itself.
    Effect::new(move |_| {
        if active.get() && elapsed.get() >= MAX_SECONDS * 1000.0 {
            send(());
        }
    });
    on_cleanup(move || {
        drop(recording.try_update_value(Option::take).flatten());
    });
    view! {
        <Show
            when=move || active.get()
            fallback=move || {
                view! {
                    <IconButton class="icon-btn voice" test_id="voice-record" label="Record a voice message" on:click=begin>
                        <IconMic />
                    </IconButton>
                    {move || error.get().map(|why| view! {
                        <p class="composer-error" role="alert" data-testid="voice-error">{why}</p>
                    })}
                }
            }
        >
            <div class="recording" data-testid="voice-recording" role="status">
                <IconButton class="icon-btn" test_id="voice-cancel" label="Cancel recording" on:click=cancel>
                    <IconClose />
                </IconButton>
                <span class="recording-dot" aria-hidden="true"></span>
                <span class="recording-time" data-testid="voice-elapsed">{move || clock(elapsed.get())}</span>
                <IconButton class="icon-btn send" test_id="voice-send" label="Send voice message" on:click=move |_| send(())>
                    <IconSend />
                </IconButton>
            </div>
        </Show>
    }
}

/// Playback rates offered, in turn.
const SPEEDS: [f64; 3] = [1.0, 1.5, 2.0];

/// A voice note in its bubble, once here: play, seek on the waveform, speed.
#[component]
pub fn VoicePlayer(url: String, waveform: Vec<u8>, duration_ms: u32) -> impl IntoView {
    let audio: NodeRef<Audio> = NodeRef::new();
    let playing = RwSignal::new(false);
    let position = RwSignal::new(0.0);
    let speed = RwSignal::new(0usize);
    let bars = if waveform.is_empty() {
        vec![0u8; MAX_WAVEFORM_BARS]
    } else {
        waveform
    };
    let count = bars.len();
    let total = f64::from(duration_ms.max(1));
    let toggle = move |_| {
        let Some(el) = audio.get_untracked() else {
            return;
        };
        if el.paused() {
            let _ = el.play();
        } else {
            let _ = el.pause();
        }
    };
    let seek = move |bar: usize| {
        if let Some(el) = audio.get_untracked() {
            let length = if el.duration().is_finite() {
                el.duration()
            } else {
                total / 1000.0
            };
            el.set_current_time(length * bar as f64 / count as f64);
        }
    };
    let faster = move |_| {
        let next = (speed.get_untracked() + 1) % SPEEDS.len();
        speed.set(next);
        if let Some(el) = audio.get_untracked() {
            el.set_playback_rate(SPEEDS[next]);
        }
    };
    let shown = move || {
        let played = position.get() * 1000.0;
        if playing.get() || played > 0.0 {
            clock(played)
        } else {
            clock(total)
        }
    };
    view! {
        <div class="voice-player" data-testid="voice-player">
            <audio
                node_ref=audio
                src=url
                preload="metadata"
                data-testid="voice-audio"
                on:play=move |_| playing.set(true)
                on:pause=move |_| playing.set(false)
                on:ended=move |_| {
                    playing.set(false);
                    position.set(0.0);
                }
                on:timeupdate=move |_| {
                    if let Some(el) = audio.get_untracked() {
                        position.set(el.current_time());
                    }
                }
            ></audio>
            <button
                type="button"
                class="voice-play"
                data-testid="voice-play"
                aria-label=move || if playing.get() { "Pause" } else { "Play" }
                on:click=toggle
            >
                {move || if playing.get() { "⏸" } else { "▶" }}
            </button>
            <span class="voice-waveform" data-testid="voice-waveform" role="group" aria-label="Seek">
                {bars
                    .into_iter()
                    .enumerate()
                    .map(|(bar, level)| {
                        let height = format!("{}%", 12 + u32::from(level) * 88 / 255);
                        let played = move || {
                            position.get() * 1000.0 / total >= bar as f64 / count as f64
                        };
                        view! {
                            <button
                                type="button"
                                class="voice-bar"
                                class:played=played
                                style:height=height
                                tabindex="-1"
                                aria-hidden="true"
                                on:click=move |_| seek(bar)
                            ></button>
                        }
                    })
                    .collect_view()}
            </span>
            <span class="voice-time" data-testid="voice-time">{shown}</span>
            <button type="button" class="voice-speed" data-testid="voice-speed" on:click=faster>
                {move || format!("{}×", SPEEDS[speed.get()])}
            </button>
        </div>
    }
}
