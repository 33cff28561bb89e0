//! The dataset: one large tenant and many small ones, written by the release
//! `auditlog seed` so that the same seed and end give the same entries on every run.

use std::{path::Path, process::Stdio, time::Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{args::Args, backend::Target};

/// The tenant that every read scenario queries (auditlog's default tenant, which the
/// bootstrap key belongs to).
pub const MAIN_TENANT: Uuid = Uuid::from_u128(1);

/// How seeding went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedReport {
    pub entries: u64,
    pub seconds: f64,
    pub entries_per_sec: f64,
    /// What `auditlog seed` reported of its phases.
    pub lines: Vec<String>,
    pub reused: bool,
}

/// Seeds `target` (emptied first, then migrated) with the dataset, by one
/// `auditlog seed` process.
pub async fn seed(args: &Args, target: &Target) -> anyhow::Result<SeedReport> {
    let expected = args.n1 + args.n2;
    // S6 adds entries to a dataset, so a reused one may hold more than was seeded.
    if args.reuse && target.stored_entries().await >= Some(expected) {
        return Ok(SeedReport {
            entries: expected,
            seconds: 0.0,
            entries_per_sec: 0.0,
            lines: Vec::new(),
            reused: true,
        });
    }
    target.recreate().await?;
    run_auditlog(&args.auditlog_bin, &target.url, &["migrate"]).await?;

    // One process for the whole dataset: into an empty store it loads in one
    // transaction and builds the indexes once, at the end.
    let started = Instant::now();
    let (n1, n2, others) = (
        args.n1.to_string(),
        args.n2.to_string(),
        args.other_tenants.to_string(),
    );
    let (days, seed, tenant) = (
        args.days.to_string(),
        args.seed.to_string(),
        MAIN_TENANT.to_string(),
    );
    let out = run_auditlog(
        &args.auditlog_bin,
        &target.url,
        &[
            "seed",
            "--tenant",
            &tenant,
            "--count",
            &n1,
            "--other-tenants",
            &others,
            "--other-count",
            &n2,
            "--days",
            &days,
            "--seed",
            &seed,
            "--end",
            &args.end,
        ],
    )
    .await?;
    let lines: Vec<String> = out
        .lines()
        .filter(|l| {
            ["inserted", "seeded", "built"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(str::to_owned)
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let stored = target.stored_entries().await.unwrap_or(0);
    if stored != expected {
        bail!("seeding stored {stored} entries, expected {expected}");
    }
    Ok(SeedReport {
        entries: expected,
        seconds,
        entries_per_sec: expected as f64 / seconds.max(1e-9),
        lines,
        reused: false,
    })
}

/// Runs `auditlog ARGS...` on `url`; its standard error is returned (it reports there).
async fn run_auditlog(bin: &Path, url: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(bin)
        .args(args)
        .env("AUDITLOG_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        // The error, not the backtrace that RUST_BACKTRACE may add.
        let message: Vec<&str> = stderr
            .lines()
            .take_while(|l| !l.starts_with("Stack backtrace"))
            .take(20)
            .collect();
        bail!(
            "`auditlog {}` failed ({}):\n{}",
            args.first().unwrap_or(&""),
            output.status,
            message.join("\n")
        );
    }
    Ok(stderr)
}
