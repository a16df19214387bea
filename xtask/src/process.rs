//! Running child processes, printing what runs, and Ctrl-C handling.

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Prints one progress line of xtask's own.
pub fn say(msg: impl std::fmt::Display) {
    println!("xtask: {msg}");
    let _ = std::io::stdout().flush();
}

/// `program arg arg`, with the program shortened to its file name.
pub fn show(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    let mut line = program;
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        line.push(' ');
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            line.push_str(&format!("'{arg}'"));
        } else {
            line.push_str(&arg);
        }
    }
    line
}

/// Runs a command with inherited stdio, printing it first; fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", show(cmd));
    }
    Ok(())
}

/// Runs a command with inherited stdio, printing it first, and returns its exit status.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    println!("$ {}", show(cmd));
    let _ = std::io::stdout().flush();
    cmd.stdin(Stdio::null())
        .status()
        .with_context(|| format!("could not start `{}`", show(cmd)))
}

/// Runs a command quietly, capturing its output; on failure the error carries its output.
pub fn run_captured(cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{}`", show(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}{}",
            show(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// The stdout of a command that exited 0, or `None` (missing program, failure).
pub fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command, echoing its stdout line by line while handing each line to `on_line`.
/// Stderr is inherited. Returns the exit status.
pub fn run_tee(cmd: &mut Command, mut on_line: impl FnMut(&str)) -> Result<ExitStatus> {
    println!("$ {}", show(cmd));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", show(cmd)))?;
    if let Some(stdout) = child.stdout.take() {
        let mut out = std::io::stdout();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            on_line(&line);
        }
    }
    child
        .wait()
        .with_context(|| format!("waiting for `{}`", show(cmd)))
}

/// Whether xtask runs as root.
pub fn is_root() -> bool {
    Uid::effective().is_root()
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static FORWARD_TO: AtomicU32 = AtomicU32::new(0);

/// The signal forwarded on the `n`-th interruption (1-based): first a polite SIGTERM
/// (graceful shutdown), then SIGINT, then SIGKILL for a server that does not stop.
pub fn escalation(n: u32) -> Signal {
    match n {
        0 | 1 => Signal::SIGTERM,
        2 => Signal::SIGINT,
        _ => Signal::SIGKILL,
    }
}

/// Installs the Ctrl-C / SIGTERM / SIGHUP handler: it records the interruption and
/// forwards a signal (see [`escalation`]) to the child registered with
/// [`forward_interrupts_to`].
///
/// Children started in xtask's own process group get the terminal's Ctrl-C directly.
pub fn install_interrupt_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        let n = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
        let pid = FORWARD_TO.load(Ordering::SeqCst);
        if pid != 0 {
            let signal = escalation(n);
            if n == 1 {
                say("stopping the server (Ctrl-C again to force)");
            }
            signal_child(pid, signal);
        }
    })
    .context("installing the Ctrl-C handler")
}

/// Sends a signal to a child process, ignoring a child that is already gone.
pub fn signal_child(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 0
    {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

/// Registers the child (in its own process group) that gets the signal on Ctrl-C; 0 clears.
pub fn forward_interrupts_to(pid: u32) {
    FORWARD_TO.store(pid, Ordering::SeqCst);
}

/// Whether Ctrl-C (or SIGTERM/SIGHUP) was received.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails when an interruption was received, so that a long sequence stops between steps.
pub fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_escalate() {
        assert_eq!(escalation(1), Signal::SIGTERM);
        assert_eq!(escalation(2), Signal::SIGINT);
        assert_eq!(escalation(3), Signal::SIGKILL);
        assert_eq!(escalation(7), Signal::SIGKILL);
    }

    #[test]
    fn shows_commands() {
        let mut cmd = Command::new("/usr/bin/pg_ctl");
        cmd.args(["-o", "-p 5432", "start"]);
        assert_eq!(show(&cmd), "pg_ctl -o '-p 5432' start");
    }
}
