//! Where things are: the repository root, Cargo's target directory, and the
//! `PATH` every child process gets (project-local tools first).

use anyhow::{Context, Result, bail};
use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository and the environment the commands run in.
#[derive(Debug)]
pub struct Workspace {
    /// Repository root (the directory of the workspace `Cargo.toml`).
    pub root: PathBuf,
    /// Cargo's target directory (honours `CARGO_TARGET_DIR` and Cargo config).
    pub target_dir: PathBuf,
    /// `node_modules/.bin`, Cargo's bin directory, then the inherited `PATH`.
    path_env: OsString,
}

impl Workspace {
    /// Finds the repository from the xtask manifest and asks Cargo for the target directory.
    pub fn locate() -> Result<Self> {
        let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .context("xtask's manifest directory has no parent")?
            .to_path_buf();
        if !root.join("Cargo.toml").is_file() {
            bail!("no Cargo.toml at the repository root {}", root.display());
        }

        let mut dirs = vec![root.join("node_modules").join(".bin"), cargo_bin_dir()];
        dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
        let path_env = env::join_paths(dirs).context("PATH contains an invalid entry")?;

        let mut ws = Workspace {
            target_dir: root.join("target"),
            root,
            path_env,
        };
        ws.target_dir = ws.query_target_dir()?;
        Ok(ws)
    }

    fn query_target_dir(&self) -> Result<PathBuf> {
        let out = self
            .cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .output()
            .context("running cargo metadata")?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
        let dir = meta
            .get("target_directory")
            .and_then(serde_json::Value::as_str)
            .context("cargo metadata has no target_directory")?;
        Ok(PathBuf::from(dir))
    }

    /// A `cargo` command (the same Cargo that runs xtask) at the repository root.
    ///
    /// When the backend ships sqlx offline data (`.sqlx/`), `SQLX_OFFLINE=true` keeps its
    /// query macros from checking against whatever `DATABASE_URL` the command gets.
    pub fn cargo(&self) -> Command {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root).env("PATH", &self.path_env);
        if self.has_sqlx_offline_data() {
            cmd.env("SQLX_OFFLINE", "true");
        }
        cmd
    }

    /// A command for a program looked up on the workspace `PATH`, run at the repository root.
    pub fn command(&self, program: &str) -> Result<Command> {
        let path = self
            .find_program(program)
            .with_context(|| format!("`{program}` not found on PATH"))?;
        let mut cmd = Command::new(path);
        cmd.current_dir(&self.root).env("PATH", &self.path_env);
        Ok(cmd)
    }

    /// The full path of a program on the workspace `PATH`, if any.
    pub fn find_program(&self, program: &str) -> Option<PathBuf> {
        if program.contains('/') {
            let path = PathBuf::from(program);
            return is_executable(&path).then_some(path);
        }
        env::split_paths(&self.path_env)
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
    }

    /// `target/{debug,release}/parley-server`.
    pub fn server_bin(&self, release: bool) -> PathBuf {
        self.target_dir
            .join(if release { "release" } else { "debug" })
            .join("parley-server")
    }

    /// Project-local state (`.parley/`).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".parley")
    }

    /// Whether the backend keeps sqlx offline query data (then builds must not need a database).
    fn has_sqlx_offline_data(&self) -> bool {
        self.root.join(".sqlx").is_dir() || self.root.join("backend").join(".sqlx").is_dir()
    }
}

/// `$CARGO_HOME/bin`, where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> PathBuf {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
