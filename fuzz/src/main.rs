//! `parley-fuzz`: runs fuzz targets for a while each, several at once, and
//! saves what fails under `fuzz/crashes/<target>/`. Usually started by
//! `cargo xtask fuzz`.

use parley_fuzz::TARGETS;
use parley_fuzz::engine::{self, Budget, Finding, Spec, stable_hash};
use parley_fuzz::targets::find;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const USAGE: &str = "parley-fuzz [--seconds N] [--seed S] [--jobs J] [--list] [TARGET…]
    Fuzzes each TARGET (default: all) for N seconds (default 180), J at a time (default: the
    number of cores), from seed S (default: from the clock; printed). Inputs saved under
    fuzz/crashes/<target>/ are replayed first.";

struct Options {
    seconds: u64,
    seed: u64,
    jobs: usize,
    targets: Vec<&'static Spec>,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut options = Options {
        seconds: 180,
        seed: clock,
        jobs: cores,
        targets: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |what: &str| -> Result<u64, String> {
            it.next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{what} needs a number\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = number("--seconds")?,
            "--seed" => options.seed = number("--seed")?,
            "--jobs" => options.jobs = usize::try_from(number("--jobs")?.max(1)).unwrap_or(1),
            "--list" => {
                for spec in TARGETS {
                    println!("{:<14} {}", spec.name, spec.about);
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            name => options.targets.push(find(name).ok_or_else(|| {
                let names: Vec<&str> = TARGETS.iter().map(|s| s.name).collect();
                format!("unknown target `{name}`; targets: {}", names.join(", "))
            })?),
        }
    }
    if options.targets.is_empty() {
        options.targets = TARGETS.iter().collect();
    }
    Ok(Some(options))
}

fn crash_dir(spec: &Spec) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crashes")
        .join(spec.name)
}

/// Inputs saved by earlier runs.
fn saved(spec: &Spec) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(crash_dir(spec)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

fn save(spec: &Spec, finding: &Finding) -> String {
    let dir = crash_dir(spec);
    let path = dir.join(format!("{:016x}.bin", stable_hash(&finding.input)));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &finding.input)) {
        Ok(()) => format!("saved to {}", path.display()),
        Err(err) => format!("could not save it to {}: {err}", path.display()),
    }
}

fn run(spec: &Spec, options: &Options) -> bool {
    let replay = saved(spec);
    let budget = Budget {
        runs: None,
        time: Some(Duration::from_secs(options.seconds)),
        slow: Duration::from_secs(1),
    };
    let outcome = engine::fuzz(
        spec,
        options.seed ^ stable_hash(spec.name.as_bytes()),
        budget,
        &replay,
    );
    let secs = outcome.elapsed.as_secs_f64().max(0.001);
    let summary = format!(
        "{}: {} inputs ({:.0}/s), {} decoded, corpus {}{}",
        spec.name,
        outcome.runs,
        outcome.runs as f64 / secs,
        outcome.accepted,
        outcome.corpus,
        if replay.is_empty() {
            String::new()
        } else {
            format!(", {} saved inputs replayed", replay.len())
        },
    );
    match &outcome.finding {
        None => {
            println!("{summary}: no finding");
            true
        }
        Some(finding) => {
            println!(
                "{summary}: FOUND {finding}\n  {} (replayed first by the next run of `{}`)",
                save(spec, finding),
                spec.name,
            );
            false
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parley-fuzz: {err}");
            return ExitCode::from(2);
        }
    };
    println!(
        "parley-fuzz: {} target(s), {} s each, {} at a time, seed {}",
        options.targets.len(),
        options.seconds,
        options.jobs,
        options.seed
    );
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.min(options.targets.len()) {
            scope.spawn(|| {
                while let Some(spec) = options.targets.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if !run(spec, &options)
                        && let Ok(mut failed) = failed.lock()
                    {
                        failed.push(spec.name);
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_default();
    if failed.is_empty() {
        println!("parley-fuzz: no finding");
        ExitCode::SUCCESS
    } else {
        println!("parley-fuzz: findings in {}", failed.join(", "));
        ExitCode::FAILURE
    }
}
