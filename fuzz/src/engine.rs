//! The fuzzing loop: a corpus grown from valid encodings, stacked mutations,
//! panics caught with the input that caused them, and a greedy shrinker.
//!
//! There is no coverage feedback on stable Rust; instead every input a target
//! accepts (it decoded) joins the corpus, so mutations keep building on
//! well-formed values and reach past the first parse error.

use crate::mutate;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

/// What one input did to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It decoded: worth mutating further, so it joins the corpus.
    Accepted,
    /// It was refused with an error, as garbage should be.
    Rejected,
}

/// A property of a decoder that an input broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Which property, in a few stable words (inputs that break the same one
    /// count as the same finding while shrinking).
    pub property: &'static str,
    /// What happened.
    pub detail: String,
}

impl Broken {
    /// A broken `property`, with what happened.
    pub fn new(property: &'static str, detail: impl Into<String>) -> Self {
        Self {
            property,
            detail: detail.into(),
        }
    }
}

/// One decoder of untrusted input and its properties.
pub trait Target {
    /// Valid encodings to start from, built in code from real values.
    fn seeds(&mut self) -> Vec<Vec<u8>>;
    /// Byte strings worth splicing in (tags, field names, boundary values).
    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[]
    }
    /// Feeds one input. `Err` names a broken property; a panic is caught by
    /// the engine and reported the same way.
    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken>;
}

/// A target as the command line and the tests name it.
#[derive(Debug)]
pub struct Spec {
    /// Short name (`client_frame`).
    pub name: &'static str,
    /// What it feeds and what it checks, in a line.
    pub about: &'static str,
    /// Builds a fresh target (keys, sessions and seeds are made here).
    pub make: fn() -> Result<Box<dyn Target>, String>,
    /// Mutated inputs are cut to this length (or the longest seed's, if
    /// longer): beyond the decoder's own limit they only cost time.
    pub max_len: usize,
    /// Inputs per short run in `cargo test` (about a second in a debug build).
    pub test_runs: u64,
}

/// How long to fuzz.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop after this many mutated inputs.
    pub runs: Option<u64>,
    /// Stop after this long.
    pub time: Option<Duration>,
    /// One input taking longer than this is a finding (a decoder that can be
    /// made to spin is a denial of service).
    pub slow: Duration,
}

/// A panic, a broken property, a slow input or a failed set-up.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The input, shrunk as far as it still fails the same way.
    pub input: Vec<u8>,
    /// Where it panicked (`file:line:column`) or which property broke.
    pub kind: String,
    /// The panic message or the property's detail.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail: String = self.detail.chars().take(2_000).collect();
        write!(
            f,
            "{}: {detail}\n  input ({} bytes): {}",
            self.kind,
            self.input.len(),
            hex(&self.input)
        )
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    /// Inputs fed, seeds and replays included.
    pub runs: u64,
    /// How many of them decoded.
    pub accepted: u64,
    /// Distinct inputs kept to mutate.
    pub corpus: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The first failure, which ends the run.
    pub finding: Option<Finding>,
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hex (whitespace ignored); `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            (pair.len() == 2).then_some(())?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

/// FNV-1a: a hash that stays the same across Rust versions, for seeds and
/// file names.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

thread_local! {
    /// Set while a target runs: its panics are recorded here, not printed.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Records panics of targets (location and message) instead of printing one
/// backtrace per mutated input; other panics go to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("panic at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_else(|| "panic".to_owned());
                let message = info.payload_as_str().unwrap_or("(no message)").to_owned();
                LAST_PANIC.with(|last| *last.borrow_mut() = Some((location, message)));
            } else {
                previous(info);
            }
        }));
    });
}

/// A target that can be rebuilt after a panic left it in an unknown state.
struct Harness<'a> {
    spec: &'a Spec,
    target: Box<dyn Target>,
    slow: Duration,
}

impl Harness<'_> {
    /// Feeds `input`; `Err((kind, detail))` for a panic, a broken property or
    /// a slow input.
    fn run(&mut self, input: &[u8]) -> Result<Verdict, (String, String)> {
        CATCHING.with(|c| c.set(true));
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.target.check(input)));
        let took = started.elapsed();
        CATCHING.with(|c| c.set(false));
        match result {
            Ok(Ok(_)) if took > self.slow => Err((
                "slow input".to_owned(),
                format!("one input took {took:.1?} (limit {:.1?})", self.slow),
            )),
            Ok(Ok(verdict)) => Ok(verdict),
            Ok(Err(broken)) => Err((
                format!("property broken: {}", broken.property),
                broken.detail,
            )),
            Err(_) => {
                let (kind, detail) = LAST_PANIC
                    .with(|last| last.borrow_mut().take())
                    .unwrap_or_else(|| ("panic".to_owned(), String::new()));
                // Whatever the target held may be half-updated.
                if let Ok(fresh) = (self.spec.make)() {
                    self.target = fresh;
                }
                Err((kind, detail))
            }
        }
    }

    /// Removes chunks of `input` while it still fails with the same `kind`.
    fn shrink(&mut self, mut input: Vec<u8>, kind: &str, deadline: Instant) -> Vec<u8> {
        if kind == "slow input" {
            return input;
        }
        let mut chunk = input.len().div_ceil(2);
        while chunk > 0 && Instant::now() < deadline {
            let mut at = 0;
            let mut shrank = false;
            while at + chunk <= input.len() && Instant::now() < deadline {
                let mut candidate = input[..at].to_vec();
                candidate.extend_from_slice(&input[at + chunk..]);
                match self.run(&candidate) {
                    Err((k, _)) if k == kind => {
                        input = candidate;
                        shrank = true;
                    }
                    _ => at += chunk,
                }
            }
            if !shrank {
                chunk /= 2;
            }
        }
        input
    }
}

/// Inputs worth mutating: the seeds, then what decoded.
struct Corpus {
    entries: Vec<Vec<u8>>,
    seen: HashSet<u64>,
    seeds: usize,
}

/// Most inputs kept; past it a new one replaces a random non-seed entry.
const CORPUS_CAP: usize = 4_096;

impl Corpus {
    fn new(seeds: &[Vec<u8>]) -> Self {
        let mut corpus = Self {
            entries: Vec::new(),
            seen: HashSet::new(),
            seeds: 0,
        };
        for seed in seeds {
            corpus.add(seed.clone(), &mut SmallRng::seed_from_u64(0));
        }
        corpus.seeds = corpus.entries.len();
        corpus
    }

    fn add(&mut self, input: Vec<u8>, rng: &mut SmallRng) {
        if !self.seen.insert(stable_hash(&input)) {
            return;
        }
        if self.entries.len() < CORPUS_CAP {
            self.entries.push(input);
        } else if self.seeds < self.entries.len() {
            let at = rng.random_range(self.seeds..self.entries.len());
            self.entries[at] = input;
        }
    }

    fn pick(&self, rng: &mut SmallRng) -> Vec<u8> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        self.entries[rng.random_range(0..self.entries.len())].clone()
    }
}

/// Fuzzes `spec` from `seed` within `budget`, after feeding `replay` (earlier
/// findings) and the seeds as they are. Stops at the first finding.
pub fn fuzz(spec: &Spec, seed: u64, budget: Budget, replay: &[Vec<u8>]) -> Outcome {
    install_panic_hook();
    let started = Instant::now();
    let mut outcome = Outcome {
        runs: 0,
        accepted: 0,
        corpus: 0,
        elapsed: Duration::ZERO,
        finding: None,
    };
    let target = match (spec.make)() {
        Ok(target) => target,
        Err(err) => {
            outcome.finding = Some(Finding {
                input: Vec::new(),
                kind: "set-up failed".to_owned(),
                detail: err,
            });
            return outcome;
        }
    };
    let mut harness = Harness {
        spec,
        target,
        slow: budget.slow,
    };
    let seeds = harness.target.seeds();
    let dictionary = harness.target.dictionary();
    let max_len = seeds.iter().map(Vec::len).fold(spec.max_len, usize::max);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut corpus = Corpus::new(&seeds);

    let fixed: Vec<&Vec<u8>> = replay.iter().chain(&seeds).collect();
    loop {
        let mutated_runs = outcome.runs.saturating_sub(fixed.len() as u64);
        let within_runs = budget.runs.is_none_or(|runs| mutated_runs < runs);
        let within_time = budget.time.is_none_or(|time| started.elapsed() < time);
        if !within_runs || !within_time {
            break;
        }
        let input = match usize::try_from(outcome.runs)
            .ok()
            .and_then(|i| fixed.get(i))
        {
            Some(input) => input.to_vec(),
            None => next_input(&mut rng, &corpus, dictionary, max_len),
        };
        outcome.runs += 1;
        match harness.run(&input) {
            Ok(Verdict::Accepted) => {
                outcome.accepted += 1;
                corpus.add(input, &mut rng);
            }
            Ok(Verdict::Rejected) => {}
            Err((kind, detail)) => {
                let deadline = Instant::now() + Duration::from_secs(30);
                let input = harness.shrink(input, &kind, deadline);
                // The detail of the shrunk input, which is the one reported.
                let detail = match harness.run(&input) {
                    Err((k, d)) if k == kind => d,
                    _ => detail,
                };
                outcome.finding = Some(Finding {
                    input,
                    kind,
                    detail,
                });
                break;
            }
        }
    }
    outcome.corpus = corpus.entries.len();
    outcome.elapsed = started.elapsed();
    outcome
}

/// A corpus entry with 1, 2, 4 or 8 mutations stacked, or now and then a
/// few random bytes.
fn next_input(
    rng: &mut SmallRng,
    corpus: &Corpus,
    dictionary: &[&[u8]],
    max_len: usize,
) -> Vec<u8> {
    if rng.random_ratio(1, 100) {
        let len = rng.random_range(0..64);
        return (0..len).map(|_| rng.random()).collect();
    }
    let mut input = corpus.pick(rng);
    for _ in 0..1 << rng.random_range(0..4) {
        mutate::mutate(&mut input, rng, &corpus.entries, dictionary, max_len);
    }
    input
}
