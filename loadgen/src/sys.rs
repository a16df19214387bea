//! Process statistics from /proc: CPU time and resident memory.

use std::fs;

/// Clock ticks per second for /proc/*/stat times (fixed on Linux).
const TICKS: f64 = 100.0;

/// User + system CPU seconds of a process.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start at ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (utime + stime) / TICKS
}

/// CPU seconds of every process named `postgres`.
pub fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// Resident set size in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The highest resident set size the process has had, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Raises this process's open-file limit: to 2^20 where allowed (root may
/// raise the hard limit), else to the hard limit. Returns the limit in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const WANTED: u64 = 1 << 20;
    if setrlimit(Resource::RLIMIT_NOFILE, WANTED, WANTED).is_err()
        && let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(0)
}

/// CPU split over an interval: seconds used by each party.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSample {
    /// The server process.
    pub server: f64,
    /// PostgreSQL (all its processes).
    pub postgres: f64,
    /// This load generator.
    pub loadgen: f64,
}

impl CpuSample {
    /// Now.
    pub fn take(server_pid: Option<u32>) -> Self {
        Self {
            server: server_pid.map(cpu_seconds).unwrap_or(0.0),
            postgres: postgres_cpu_seconds(),
            loadgen: cpu_seconds(std::process::id()),
        }
    }

    /// Usage since `earlier`, as percent of one core over `wall` seconds.
    pub fn since(self, earlier: CpuSample, wall: f64) -> serde_json::Value {
        let pct = |a: f64, b: f64| ((a - b) / wall.max(1e-9) * 100.0).round();
        serde_json::json!({
            "server_pct": pct(self.server, earlier.server),
            "postgres_pct": pct(self.postgres, earlier.postgres),
            "loadgen_pct": pct(self.loadgen, earlier.loadgen),
        })
    }
}
