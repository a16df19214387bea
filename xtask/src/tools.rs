//! Installs what the build and tests need, each step skipped when already satisfied.

use crate::postgres;
use crate::process::{self, is_root, run, say, stdout_of};
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Trunk 0.22 needs a newer rustc than the project's 1.95.
pub const TRUNK_VERSION: &str = "0.21.14";
/// The wasm-bindgen CLI must equal the `wasm-bindgen` crate in Cargo.lock; this is the fallback.
const WASM_BINDGEN_FALLBACK: &str = "0.2.130";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// `@playwright/test` 1.65 declares `node >= 20`.
const MIN_NODE_MAJOR: u32 = 20;

/// Paths of the installed system tools.
#[derive(Debug)]
pub struct Tools {
    /// PostgreSQL's server binaries (`initdb`, `pg_ctl`, `postgres`), when asked for.
    pub pg_bin: Option<PathBuf>,
    /// The Chromium executable Playwright drives (only when asked for).
    pub chromium: Option<PathBuf>,
    /// `nats-server` and `haproxy`, for several nodes (only when asked for).
    pub cluster: Option<ClusterTools>,
}

/// What runs several nodes as one: NATS between them, HAProxy in front,
/// and an S3-compatible store for the attachments they share.
#[derive(Debug, Clone)]
pub struct ClusterTools {
    /// The `nats-server` binary.
    pub nats: PathBuf,
    /// The `haproxy` binary.
    pub haproxy: PathBuf,
    /// The `s3s-fs` binary: an S3 server over a directory (crates.io).
    pub s3: PathBuf,
}

/// `s3s-fs` 0.15 and later need a newer rustc than the project's 1.95.
const S3S_FS_VERSION: &str = "0.14.1";

/// The system tools a command needs besides the build tools.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// PostgreSQL server binaries for a private cluster.
    pub postgres: bool,
    /// Chromium for the Playwright suite.
    pub browser: bool,
    /// NATS, HAProxy and an S3 server for several nodes.
    pub cluster: bool,
}

/// Checks and installs everything, printing one line per tool.
pub fn ensure(ws: &Workspace, needs: Needs) -> Result<Tools> {
    let mut apt = Apt::default();
    ensure_wasm_target(ws)?;
    process::check_interrupted()?;
    ensure_cargo_tool(ws, "trunk", "trunk", TRUNK_VERSION, &[], true)?;
    process::check_interrupted()?;
    let bindgen = wasm_bindgen_version(ws);
    // Its published lockfile names a crate version the registry lacks: no --locked.
    ensure_cargo_tool(ws, "wasm-bindgen", "wasm-bindgen-cli", &bindgen, &[], false)?;
    process::check_interrupted()?;
    // Node.js and node_modules serve the Playwright suite only.
    if needs.browser {
        ensure_node_modules(ws)?;
        process::check_interrupted()?;
    }
    let pg_bin = if needs.postgres {
        Some(ensure_postgres(&mut apt)?)
    } else {
        None
    };
    process::check_interrupted()?;
    let chromium = if needs.browser {
        Some(ensure_chromium(&mut apt)?)
    } else {
        None
    };
    process::check_interrupted()?;
    let cluster = if needs.cluster {
        Some(ensure_cluster(ws, &mut apt)?)
    } else {
        None
    };
    Ok(Tools {
        pg_bin,
        chromium,
        cluster,
    })
}

/// The first of `candidates` that is a file.
fn first_file(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

fn ensure_cluster(ws: &Workspace, apt: &mut Apt) -> Result<ClusterTools> {
    ensure_cargo_tool(ws, "s3s-fs", "s3s-fs", S3S_FS_VERSION, &["binary"], true)?;
    const NATS: &[&str] = &[
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ];
    const HAPROXY: &[&str] = &["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"];
    let mut missing = Vec::new();
    if first_file(NATS).is_none() {
        missing.push("nats-server");
    }
    if first_file(HAPROXY).is_none() {
        missing.push("haproxy");
    }
    if !missing.is_empty() {
        say(format!(
            "{}: missing; installing the Debian package(s)",
            missing.join(", ")
        ));
        apt.install("NATS and HAProxy", &missing)?;
    }
    let tools = ClusterTools {
        nats: first_file(NATS).context("nats-server installed but not found")?,
        haproxy: first_file(HAPROXY).context("haproxy installed but not found")?,
        s3: ws
            .find_program("s3s-fs")
            .context("s3s-fs installed but not found")?,
    };
    say(format!(
        "nats-server: {}; haproxy: {}; s3s-fs: {}",
        tools.nats.display(),
        tools.haproxy.display(),
        tools.s3.display()
    ));
    Ok(tools)
}

fn ensure_wasm_target(ws: &Workspace) -> Result<()> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = stdout_of(Command::new(&rustc).args(["--print", "sysroot"]))
        .map(|s| PathBuf::from(s.trim()))
        .context("`rustc --print sysroot` failed")?;
    let target_lib = sysroot
        .join("lib")
        .join("rustlib")
        .join(WASM_TARGET)
        .join("lib");
    if target_lib.is_dir() {
        say(format!("rust target {WASM_TARGET}: installed"));
        return Ok(());
    }
    say(format!("rust target {WASM_TARGET}: adding it with rustup"));
    let mut cmd = ws
        .command("rustup")
        .context("the wasm32 target is missing and rustup is not available to add it")?;
    run(cmd.args(["target", "add", WASM_TARGET]))
}

/// The first token of `--version` output that looks like a version (`trunk 0.21.14` → `0.21.14`).
pub fn parse_version(output: &str) -> Option<String> {
    output
        .split_whitespace()
        .map(|w| w.trim_start_matches('v'))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

/// The version of package `name` in a Cargo.lock.
pub fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut current: Option<&str> = None;
    for line in lock.lines().map(str::trim) {
        if line == "[[package]]" {
            current = None;
        } else if let Some(value) = line.strip_prefix("name = ") {
            current = Some(value.trim_matches('"'));
        } else if let Some(value) = line.strip_prefix("version = ")
            && current == Some(name)
        {
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

fn wasm_bindgen_version(ws: &Workspace) -> String {
    fs::read_to_string(ws.root.join("Cargo.lock"))
        .ok()
        .and_then(|lock| locked_version(&lock, "wasm-bindgen"))
        .unwrap_or_else(|| WASM_BINDGEN_FALLBACK.to_owned())
}

fn installed_version(ws: &Workspace, bin: &str) -> Option<String> {
    let path = ws.find_program(bin)?;
    stdout_of(Command::new(path).arg("--version")).and_then(|out| parse_version(&out))
}

fn ensure_cargo_tool(
    ws: &Workspace,
    bin: &str,
    krate: &str,
    version: &str,
    features: &[&str],
    locked: bool,
) -> Result<()> {
    let found = installed_version(ws, bin);
    if found.as_deref() == Some(version) {
        say(format!("{bin} {version}: installed"));
        return Ok(());
    }
    let why = match &found {
        Some(other) => format!("found {other}, need {version}"),
        None => "missing".to_owned(),
    };
    say(format!(
        "{bin}: {why}; running cargo install {krate}@{version} (takes minutes)"
    ));
    let mut cmd = ws.cargo();
    cmd.arg("install").arg(format!("{krate}@{version}"));
    if locked {
        cmd.arg("--locked");
    }
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    // Build in a throw-away directory, not in the project's (maybe shared) target dir,
    // and without Trunk's fat LTO with one codegen unit: the tools run fine without it
    // and install minutes faster on two cores.
    cmd.env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
    run(&mut cmd)?;
    match installed_version(ws, bin) {
        Some(v) if v == version => Ok(()),
        other => bail!(
            "after cargo install, `{bin} --version` reports {other:?}, expected {version}; is {} on PATH?",
            crate::workspace::cargo_bin_dir().display()
        ),
    }
}

/// Whether every package in package-lock.json is in node_modules at its locked version.
pub fn node_modules_current(root: &Path) -> Result<bool> {
    let lock_text =
        fs::read_to_string(root.join("package-lock.json")).context("reading package-lock.json")?;
    let lock: serde_json::Value =
        serde_json::from_str(&lock_text).context("parsing package-lock.json")?;
    let packages = lock
        .get("packages")
        .and_then(serde_json::Value::as_object)
        .context("package-lock.json has no \"packages\" (lockfileVersion >= 2 needed)")?;
    for (key, entry) in packages {
        if key.is_empty() {
            continue;
        }
        let Some(locked) = entry.get("version").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let optional = entry.get("optional").and_then(serde_json::Value::as_bool) == Some(true);
        let installed = fs::read_to_string(root.join(key).join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|manifest| {
                manifest
                    .get("version")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            });
        match installed {
            Some(v) if v == locked => {}
            None if optional => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

fn ensure_node_modules(ws: &Workspace) -> Result<()> {
    let node_major = ws
        .find_program("node")
        .and_then(|node| stdout_of(Command::new(node).arg("--version")))
        .and_then(|out| parse_version(&out))
        .and_then(|v| v.split('.').next().and_then(|m| m.parse::<u32>().ok()));
    match node_major {
        Some(major) if major >= MIN_NODE_MAJOR => {}
        Some(major) => {
            bail!("Node.js {major} is too old: Playwright needs Node.js >= {MIN_NODE_MAJOR}")
        }
        None => {
            bail!("Node.js (>= {MIN_NODE_MAJOR}) with npm is required but `node` was not found")
        }
    }
    if node_modules_current(&ws.root)? {
        say("node_modules: up to date with package-lock.json");
        return Ok(());
    }
    say("node_modules: missing or outdated; running npm ci");
    let mut cmd = ws
        .command("npm")
        .context("npm is required (it comes with Node.js)")?;
    run(cmd
        .args(["ci", "--no-audit", "--no-fund"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))
}

fn ensure_postgres(apt: &mut Apt) -> Result<PathBuf> {
    if let Some(bin) = postgres::find_bin_dir() {
        say(format!("postgresql: {}", bin.display()));
        return Ok(bin);
    }
    say("postgresql: server binaries missing; installing the Debian package");
    apt.install("PostgreSQL", &["postgresql"])?;
    postgres::find_bin_dir().context("postgresql installed but no initdb found")
}

/// The Chromium Playwright drives: `CHROMIUM_PATH`, else Debian's binary (skipping its wrapper).
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = env::var_os("CHROMIUM_PATH").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn ensure_chromium(apt: &mut Apt) -> Result<PathBuf> {
    if let Some(path) = find_chromium() {
        say(format!("chromium: {}", path.display()));
        return Ok(path);
    }
    say("chromium: missing; installing the Debian package");
    apt.install("Chromium", &["chromium"])?;
    find_chromium().context("chromium installed but not found in /usr/lib/chromium or /usr/bin")
}

/// apt-get, with one `apt-get update` before the first install.
#[derive(Debug, Default)]
struct Apt {
    updated: bool,
}

impl Apt {
    fn install(&mut self, what: &str, packages: &[&str]) -> Result<()> {
        let list = packages.join(" ");
        if !is_root() {
            bail!(
                "{what} is missing and xtask is not running as root: install it with `sudo apt-get install -y {list}` and run again"
            );
        }
        if !self.updated {
            run(Command::new("apt-get")
                .args(["-q", "update"])
                .env("DEBIAN_FRONTEND", "noninteractive"))?;
            self.updated = true;
        }
        run(Command::new("apt-get")
            .args(["-q", "install", "-y"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tool_versions() {
        assert_eq!(parse_version("trunk 0.21.14\n").as_deref(), Some("0.21.14"));
        assert_eq!(
            parse_version("wasm-bindgen 0.2.130").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(parse_version("v20.20.2\n").as_deref(), Some("20.20.2"));
        assert_eq!(
            parse_version("wasm-opt version 132 (version_132)").as_deref(),
            Some("132")
        );
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn finds_locked_versions() {
        let lock = r#"version = 4

[[package]]
name = "wasm-bindgen-futures"
version = "0.4.50"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            locked_version(lock, "wasm-bindgen-futures").as_deref(),
            Some("0.4.50")
        );
        assert_eq!(locked_version(lock, "leptos"), None);
    }

    #[test]
    fn node_modules_check_compares_versions() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-nm-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("node_modules/a"))?;
        fs::write(
            dir.join("package-lock.json"),
            r#"{"lockfileVersion":3,"packages":{"":{"name":"x"},
               "node_modules/a":{"version":"1.0.0"},
               "node_modules/fsevents":{"version":"2.3.2","optional":true}}}"#,
        )?;
        assert!(!node_modules_current(&dir)?, "a is not installed yet");
        fs::write(
            dir.join("node_modules/a/package.json"),
            r#"{"version":"0.9.0"}"#,
        )?;
        assert!(!node_modules_current(&dir)?, "a has the wrong version");
        fs::write(
            dir.join("node_modules/a/package.json"),
            r#"{"version":"1.0.0"}"#,
        )?;
        assert!(
            node_modules_current(&dir)?,
            "optional fsevents may be absent"
        );
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
