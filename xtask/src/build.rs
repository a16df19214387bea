//! Building the browser client (Trunk) and the server (Cargo).

use crate::emoji;
use crate::precompress;
use crate::process::{run, say};
use crate::service_worker;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};

/// Downloads every crate the workspace needs: Trunk runs Cargo offline.
pub fn cargo_fetch(ws: &Workspace) -> Result<()> {
    run(ws.cargo().arg("fetch"))
}

/// Where `trunk build` runs (the directory of `Trunk.toml`) and where it writes.
#[derive(Debug)]
pub struct TrunkDirs {
    pub work_dir: PathBuf,
    pub dist: PathBuf,
}

/// Finds `Trunk.toml` (repository root, else `frontend/`) and its `dist` setting.
pub fn trunk_dirs(ws: &Workspace) -> Result<TrunkDirs> {
    let work_dir = [ws.root.clone(), ws.root.join("frontend")]
        .into_iter()
        .find(|dir| dir.join("Trunk.toml").is_file())
        .context("no Trunk.toml at the repository root or in frontend/")?;
    let config = fs::read_to_string(work_dir.join("Trunk.toml")).context("reading Trunk.toml")?;
    let dist = dist_setting(&config).unwrap_or_else(|| "dist".to_owned());
    Ok(TrunkDirs {
        dist: normalize(&work_dir.join(dist)),
        work_dir,
    })
}

/// The `dist = "…"` value of Trunk.toml's `[build]` table, if set.
pub fn dist_setting(config: &str) -> Option<String> {
    let mut table = String::new();
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            table = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            continue;
        }
        if table != "build" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "dist" {
            let value = value.split('#').next().unwrap_or_default().trim();
            return Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned());
        }
    }
    None
}

/// Drops `.` and resolves `..` lexically, so printed paths stay readable.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// What the client is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// What people run.
    Release,
    /// The same, plus the hooks the browser suite calls (the core's store
    /// suite on IndexedDB), which people need not download.
    WithTestHooks,
}

/// `trunk build --release`, with `node_modules/.bin` (wasm-opt 132) first on PATH and
/// offline (a missing tool is an error, never a download), then the `.br` and `.gz`
/// copies the server sends (see `precompress`). Returns the output directory.
pub fn trunk_build(ws: &Workspace, client: Client) -> Result<PathBuf> {
    let dirs = trunk_dirs(ws)?;
    let emoji = emoji::before_trunk(&ws.root)?;
    let mut cmd = ws.command("trunk")?;
    cmd.current_dir(&dirs.work_dir)
        .args(["build", "--release"])
        .env("TRUNK_OFFLINE", "true");
    if client == Client::WithTestHooks {
        cmd.args(["--features", "test-hooks"]);
    }
    run(&mut cmd)?;
    if !dirs.dist.join("index.html").is_file() {
        bail!(
            "trunk build succeeded but {} has no index.html",
            dirs.dist.display()
        );
    }
    emoji.copy_to(&dirs.dist)?;
    service_worker::link(&dirs.dist)?;
    let totals = precompress::dist(&dirs.dist)?;
    say(format!(
        "precompressed {} files in {}: {} B raw, {} B brotli, {} B gzip",
        totals.files,
        dirs.dist.display(),
        totals.raw,
        totals.brotli,
        totals.gzip
    ));
    Ok(dirs.dist)
}

/// `cargo build [--release] -p parley-server`; returns the binary's path.
pub fn server(ws: &Workspace, release: bool) -> Result<PathBuf> {
    let mut cmd = ws.cargo();
    cmd.args(["build", "-p", "parley-server"]);
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd)?;
    let bin = ws.server_bin(release);
    if !bin.is_file() {
        bail!("cargo build succeeded but {} does not exist", bin.display());
    }
    Ok(bin)
}

/// Usage of `cargo xtask build`.
pub const USAGE: &str = "cargo xtask build [--test-hooks]
    Installs missing tools and builds the client into dist/ (release, or with the test
    hooks the browser suite uses) and the server (debug): what `run` and `test` build,
    without starting anything. For working on one Playwright spec at a time.";

/// `cargo xtask build`.
pub fn main(args: &[String]) -> Result<std::process::ExitCode> {
    let client = match args {
        [] => Client::Release,
        [flag] if flag == "--test-hooks" => Client::WithTestHooks,
        _ => bail!("usage: {USAGE}"),
    };
    let ws = Workspace::locate()?;
    crate::tools::ensure(
        &ws,
        crate::tools::Needs {
            postgres: false,
            browser: false,
            cluster: false,
        },
    )?;
    cargo_fetch(&ws)?;
    let dist = trunk_build(&ws, client)?;
    let server = server(&ws, false)?;
    say(format!(
        "client in {}, server at {}",
        dist.display(),
        server.display()
    ));
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dist_from_the_build_table() {
        let config = "[build]\ntarget = \"frontend/index.html\"\ndist = \"../dist\" # served\noffline = true\n[tools]\ndist = \"nope\"\n";
        assert_eq!(dist_setting(config).as_deref(), Some("../dist"));
        assert_eq!(dist_setting("[tools]\nwasm_opt = \"version_132\"\n"), None);
    }

    #[test]
    fn normalizes_parent_components() {
        assert_eq!(
            normalize(Path::new("/r/frontend/../dist")),
            PathBuf::from("/r/dist")
        );
        assert_eq!(normalize(Path::new("/r/./dist")), PathBuf::from("/r/dist"));
    }
}
