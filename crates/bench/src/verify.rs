//! The speed of `auditlog verify`: after the scenarios, the release binary checks one
//! tenant's log against its entries, timed from outside, and its closing line gives the
//! leaves it checked and its own rate.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest a verification may take.
const LIMIT: Duration = Duration::from_secs(30 * 60);

/// How `auditlog verify` went.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verify {
    /// The log matched its entries.
    Verified {
        leaves: u64,
        /// The time and rate it reports (from its connection on).
        seconds: f64,
        entries_per_sec: f64,
        /// The whole process, start to exit.
        wall_seconds: f64,
    },
    /// It failed, or printed no figures; `detail` says what it said.
    Failed { detail: String, wall_seconds: f64 },
}

/// The figures of verify's closing line `N leaves checked in X s (Y a second)`.
pub fn parse_summary(line: &str) -> Option<(u64, f64, f64)> {
    let (leaves, rest) = line.trim().split_once(" leaves checked in ")?;
    let (seconds, rest) = rest.split_once(" s (")?;
    let rate = rest.strip_suffix(" a second)")?;
    Some((
        leaves.parse().ok()?,
        seconds.parse().ok()?,
        rate.parse().ok()?,
    ))
}

/// Runs `bin verify --tenant TENANT --signing-key-file KEY` on `database_url`.
pub async fn run(
    bin: &Path,
    database_url: &str,
    tenant: Uuid,
    signing_key: &Path,
) -> anyhow::Result<Verify> {
    let started = Instant::now();
    let child = tokio::process::Command::new(bin)
        .arg("verify")
        .arg("--tenant")
        .arg(tenant.to_string())
        .arg("--signing-key-file")
        .arg(signing_key)
        .env("AUDITLOG_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let Ok(output) = tokio::time::timeout(LIMIT, child.wait_with_output()).await else {
        return Ok(Verify::Failed {
            detail: format!("not done within {} minutes", LIMIT.as_secs() / 60),
            wall_seconds: started.elapsed().as_secs_f64(),
        });
    };
    let output = output.context("`auditlog verify` failed to run")?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().rev().find_map(parse_summary);
    Ok(match (output.status.success(), summary) {
        (true, Some((leaves, seconds, entries_per_sec))) => Verify::Verified {
            leaves,
            seconds,
            entries_per_sec,
            wall_seconds,
        },
        (success, _) => Verify::Failed {
            detail: failure(success, &stdout, &String::from_utf8_lossy(&output.stderr)),
            wall_seconds,
        },
    })
}

/// What a failed verification said: its report's findings and its error with its
/// causes (as anyhow prints them), in short.
fn failure(success: bool, stdout: &str, stderr: &str) -> String {
    let mut said: Vec<String> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("FAILED") || l.starts_with("first:"))
        .take(2)
        .map(str::to_owned)
        .collect();
    let error: Vec<&str> = stderr
        .lines()
        .take_while(|l| !l.starts_with("Stack backtrace"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "Caused by:")
        .map(|l| l.strip_prefix("Error: ").unwrap_or(l))
        // Several causes are numbered `0: ...`.
        .map(|l| match l.split_once(": ") {
            Some((n, rest)) if n.parse::<u32>().is_ok() => rest,
            _ => l,
        })
        .take(3)
        .collect();
    if !error.is_empty() {
        said.push(error.join(": "));
    }
    match (success, said.is_empty()) {
        (true, _) => "it printed no `N leaves checked` line".to_owned(),
        (false, true) => "it failed without a message".to_owned(),
        (false, false) => said.join(" / "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_closing_line() {
        assert_eq!(
            parse_summary("1000000 leaves checked in 4.2 s (238095 a second)"),
            Some((1_000_000, 4.2, 238_095.0))
        );
        assert_eq!(
            parse_summary("  0 leaves checked in 0.0 s (0 a second)\n"),
            Some((0, 0.0, 0.0))
        );
        assert_eq!(
            parse_summary("tenant 00000000-0000-0000-0000-000000000001: verified: 5 entries"),
            None
        );
        assert_eq!(
            parse_summary("x leaves checked in 1.0 s (2 a second)"),
            None
        );
        assert_eq!(parse_summary("3 leaves checked in 1.0 s"), None);
    }

    #[test]
    fn failures_quote_the_report_and_the_error() {
        let stdout = "tenant 1: FAILED: 3 entries, 2 leaves, 0 queued, 1 checkpoints (newest of size 2)\n  first: leaf 1: changed\n  also:  leaf 2: missing\n3 leaves checked in 0.1 s (30 a second)\n";
        let stderr = "Error: the log of 1 tenant(s) does not match its entries\n\nStack backtrace:\n  0: x\n";
        assert_eq!(
            failure(false, stdout, stderr),
            "tenant 1: FAILED: 3 entries, 2 leaves, 0 queued, 1 checkpoints (newest of size 2) / first: leaf 1: changed / the log of 1 tenant(s) does not match its entries"
        );
        let stderr = "Error: reading the signing key file k (or give --key)\n\nCaused by:\n    No such file or directory (os error 2)\n";
        assert_eq!(
            failure(false, "", stderr),
            "reading the signing key file k (or give --key): No such file or directory (os error 2)"
        );
        let stderr = "Error: connecting\n\nCaused by:\n    0: pool timed out\n    1: refused\n";
        assert_eq!(
            failure(false, "", stderr),
            "connecting: pool timed out: refused"
        );
        assert_eq!(failure(false, "", ""), "it failed without a message");
        assert_eq!(
            failure(true, "done\n", ""),
            "it printed no `N leaves checked` line"
        );
    }
}
