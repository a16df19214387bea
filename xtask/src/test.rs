//! `cargo xtask test`: formatting, lints, Rust tests and the Playwright suite, ending
//! with one line `xtask: N passed, M failed`.
//!
//! N and M add up the Rust tests (`test result:` lines) and the Playwright tests. A check
//! that fails without a test count of its own (formatting, clippy, a build, a crash)
//! counts as one failure, so M is 0 exactly when everything passed.

use crate::build;
use crate::postgres::{Cluster, Mode};
use crate::process::{self, check_interrupted, run_tee, say, status};
use crate::tools::{self, ClusterTools, Needs};
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

pub const USAGE: &str = "cargo xtask test
    Installs missing tools (and Chromium), checks formatting and clippy (native crates and
    the wasm32 frontend), runs `cargo test --workspace` against a private PostgreSQL
    cluster, builds the client and the server, and runs the Playwright suite in e2e/.";

/// The wasm-only browser client: linted for wasm32, never built natively.
const FRONTEND: &str = "parley-web";

#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    problems: Vec<String>,
    notes: Vec<String>,
}

impl Tally {
    fn step_failed(&mut self, what: impl Into<String>) {
        self.failed += 1;
        self.problems.push(what.into());
    }
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    if !args.is_empty() {
        bail!("`cargo xtask test` takes no arguments\n\n{USAGE}");
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    if let Err(err) = run_all(&mut tally) {
        eprintln!("xtask: error: {err:#}");
        tally.step_failed(format!("{err}"));
    }
    say(format!("finished in {:.0?}", started.elapsed()));
    for note in &tally.notes {
        say(note);
    }
    for problem in &tally.problems {
        say(format!("FAILED: {problem}"));
    }
    println!("xtask: {} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs a check with a plain pass/fail outcome; a failure counts as one failed test.
fn check(tally: &mut Tally, what: &str, cmd: &mut Command) -> Result<()> {
    say(what);
    let ok = status(cmd)?.success();
    check_interrupted()?;
    if !ok {
        tally.step_failed(what);
    }
    Ok(())
}

fn run_all(tally: &mut Tally) -> Result<()> {
    let ws = Workspace::locate()?;
    process::install_interrupt_handler()?;
    let tools = tools::ensure(
        &ws,
        Needs {
            postgres: true,
            browser: true,
            cluster: true,
        },
    )?;
    check_interrupted()?;
    build::cargo_fetch(&ws)?;
    check_interrupted()?;

    check(
        tally,
        "cargo fmt --check",
        ws.cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    check(
        tally,
        "clippy (native crates)",
        ws.cargo().args([
            "clippy",
            "--workspace",
            "--exclude",
            FRONTEND,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    check(
        tally,
        "clippy (frontend, wasm32)",
        ws.cargo().args([
            "clippy",
            "-p",
            FRONTEND,
            "--target",
            "wasm32-unknown-unknown",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;

    let pg_bin = tools
        .pg_bin
        .as_deref()
        .context("PostgreSQL was not set up")?;
    let mut cluster = Cluster::start(&ws, pg_bin, "pg-test", Mode::Fresh)?;
    check_interrupted()?;

    let cluster_tools = tools
        .cluster
        .clone()
        .context("NATS and HAProxy were not set up")?;
    cargo_test(&ws, tally, &cluster.url(Some("postgres")), &cluster_tools)?;

    say("building the client and the server for the browser tests");
    let client = build::trunk_build(&ws, build::Client::WithTestHooks);
    check_interrupted()?;
    let server = build::server(&ws, false);
    check_interrupted()?;
    match (client, server) {
        (Ok(dist), Ok(server_bin)) => {
            let chromium = tools
                .chromium
                .as_deref()
                .context("Chromium was not set up")?;
            playwright(
                &ws,
                tally,
                &server_bin,
                &dist,
                &cluster.url(None),
                chromium,
                &cluster_tools,
            )?;
        }
        (client, server) => {
            for err in [client.err(), server.err()].into_iter().flatten() {
                eprintln!("xtask: error: {err:#}");
                tally.step_failed(format!("{err}"));
            }
            tally
                .notes
                .push("Playwright tests skipped: the build failed".to_owned());
        }
    }
    cluster.stop()?;
    Ok(())
}

/// The (passed, failed) counts of a `test result:` line of libtest.
pub fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result:")?;
    let words: Vec<&str> = rest
        .split_whitespace()
        .map(|w| w.trim_end_matches([';', ',', '.']))
        .collect();
    let count = |label: &str| {
        words
            .windows(2)
            .find(|pair| pair[1] == label)
            .and_then(|pair| pair[0].parse::<u64>().ok())
    };
    Some((count("passed")?, count("failed")?))
}

fn cargo_test(
    ws: &Workspace,
    tally: &mut Tally,
    database_url: &str,
    cluster: &ClusterTools,
) -> Result<()> {
    say("cargo test");
    let (mut passed, mut failed) = (0, 0);
    let mut cmd = ws.cargo();
    cmd.args([
        "test",
        "--workspace",
        "--exclude",
        FRONTEND,
        "--no-fail-fast",
    ])
    .env("DATABASE_URL", database_url)
    .env("PARLEY_NATS_SERVER", &cluster.nats)
    .env("PARLEY_HAPROXY", &cluster.haproxy)
    .env("PARLEY_S3_SERVER", &cluster.s3);
    let status = run_tee(&mut cmd, |line| {
        if let Some((p, f)) = parse_test_result(line) {
            passed += p;
            failed += f;
        }
    })?;
    check_interrupted()?;
    tally.passed += passed;
    tally.failed += failed;
    if failed > 0 {
        tally
            .problems
            .push(format!("cargo test: {failed} test(s) failed"));
    } else if !status.success() {
        tally.step_failed(format!("cargo test exited with {status} (build failure?)"));
    }
    say(format!("cargo test: {passed} passed, {failed} failed"));
    Ok(())
}

/// (passed, failed) from Playwright's JSON report: passed = expected + flaky.
pub fn playwright_counts(report: &str) -> Result<(u64, u64)> {
    let report: serde_json::Value =
        serde_json::from_str(report).context("parsing the Playwright JSON report")?;
    let stats = report
        .get("stats")
        .context("the Playwright JSON report has no stats")?;
    let get = |key: &str| {
        stats
            .get(key)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Ok((get("expected") + get("flaky"), get("unexpected")))
}

fn playwright(
    ws: &Workspace,
    tally: &mut Tally,
    server_bin: &Path,
    dist: &Path,
    pg_url: &str,
    chromium: &Path,
    cluster: &ClusterTools,
) -> Result<()> {
    say("playwright test");
    let e2e = ws.root.join("e2e");
    // Written by the json reporter configured in e2e/playwright.config.ts.
    let report_path = e2e.join("output").join("results.json");
    let _ = fs::remove_file(&report_path);
    let mut cmd = ws.command("playwright")?;
    cmd.current_dir(&e2e)
        .arg("test")
        .env("PARLEY_SERVER_BIN", server_bin)
        .env("PARLEY_DIST", dist)
        .env("PARLEY_PG_URL", pg_url)
        .env("CHROMIUM_PATH", chromium)
        .env("PARLEY_NATS_SERVER", &cluster.nats)
        .env("PARLEY_HAPROXY", &cluster.haproxy)
        .env("PARLEY_S3_SERVER", &cluster.s3)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    let exit = status(&mut cmd)?;
    check_interrupted()?;
    let counts = fs::read_to_string(&report_path)
        .with_context(|| format!("reading {}", report_path.display()))
        .and_then(|text| playwright_counts(&text));
    match counts {
        Ok((passed, failed)) => {
            tally.passed += passed;
            tally.failed += failed;
            say(format!("playwright: {passed} passed, {failed} failed"));
            if failed > 0 {
                tally
                    .problems
                    .push(format!("playwright: {failed} test(s) failed"));
            } else if !exit.success() {
                tally.step_failed(format!("playwright exited with {exit}"));
            }
        }
        Err(err) => tally.step_failed(format!("playwright ({exit}): {err:#}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libtest_summaries() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.31s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_test_result(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s"
            ),
            Some((3, 2))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(parse_test_result("test foo ... ok"), None);
    }

    #[test]
    fn parses_playwright_stats() -> Result<()> {
        let report = r#"{"config":{},"suites":[],"errors":[],
            "stats":{"startTime":"2026-11-23T07:00:00.000Z","duration":1234.5,
                     "expected":7,"skipped":1,"unexpected":2,"flaky":1}}"#;
        assert_eq!(playwright_counts(report)?, (8, 2));
        assert!(playwright_counts("{}").is_err());
        Ok(())
    }
}
