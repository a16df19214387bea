//! What every section of docs/benchmarks.md has: its date, and the raw
//! results folded away at its end.

use std::fmt::Write as _;
use std::process::Command;

/// Now, as the sections of docs/benchmarks.md are dated.
pub fn date_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The results as they came, folded away at the end of a section.
pub fn raw_json(out: &mut String, results: &[serde_json::Value]) {
    let _ = writeln!(
        out,
        "\n<details><summary>Raw JSON lines</summary>\n\n```json"
    );
    for r in results {
        let _ = writeln!(out, "{r}");
    }
    let _ = writeln!(out, "```\n</details>\n");
}
