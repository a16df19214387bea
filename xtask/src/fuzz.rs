//! `cargo xtask fuzz`: builds the fuzz targets (`fuzz/`, crate `parley-fuzz`)
//! in the `fuzz` profile and runs each decoder of untrusted input for a while.
//! A stable harness: no nightly toolchain or cargo-fuzz needed.

use crate::process::{self, check_interrupted, run, say, status};
use crate::workspace::Workspace;
use anyhow::Result;
use std::process::{Command, ExitCode};

pub const USAGE: &str = "cargo xtask fuzz [--seconds N] [--seed S] [--jobs J] [--list] [TARGET…]
    Builds fuzz/ in the `fuzz` profile (optimised, with overflow checks and debug assertions)
    and runs every fuzz target (or the TARGETs named; --list names them) for N seconds each
    (default 180), J at a time (default: one per core), from seed S (default: from the clock,
    printed). A panic or a broken property is shrunk, printed in hex and saved under
    fuzz/crashes/<target>/, which later runs replay first. `cargo xtask test` runs a short,
    seeded version of every target.";

pub fn main(args: &[String]) -> Result<ExitCode> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let ws = Workspace::locate()?;
    process::install_interrupt_handler()?;
    say("building the fuzz targets");
    run(ws.cargo().args([
        "build",
        "--profile",
        "fuzz",
        "--package",
        "parley-fuzz",
        "--bin",
        "parley-fuzz",
    ]))?;
    check_interrupted()?;
    // The fuzzer shares xtask's process group, so Ctrl-C reaches it directly.
    let fuzzer = ws.target_dir.join("fuzz").join("parley-fuzz");
    let exit = status(Command::new(fuzzer).current_dir(&ws.root).args(args))?;
    check_interrupted()?;
    Ok(if exit.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
