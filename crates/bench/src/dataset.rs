//! The dataset: one large tenant and many small ones, written by the release
//! `auditlog seed` so that the same seed and end give the same entries on every run.

use std::{
    collections::VecDeque,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Instant,
};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    args::{Args, BackendKind},
    backend::Target,
};

/// The tenant that every read scenario queries (auditlog's default tenant, which the
/// bootstrap key belongs to).
pub const MAIN_TENANT: Uuid = Uuid::from_u128(1);

/// The id of the i-th other tenant (from 1).
pub fn other_tenant(i: u32) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(i))
}

/// One `auditlog seed` invocation.
#[derive(Debug, Clone)]
struct SeedJob {
    tenant: Uuid,
    count: u64,
    seed: u64,
}

/// How seeding went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedReport {
    pub entries: u64,
    pub seconds: f64,
    pub entries_per_sec: f64,
    /// The main tenant alone, as `auditlog seed` reported it.
    pub main_tenant_line: String,
    pub jobs: usize,
    pub reused: bool,
}

/// The jobs of the whole dataset: the main tenant first (the longest), then the others
/// with N2 split as evenly as whole entries allow.
fn jobs(args: &Args) -> Vec<SeedJob> {
    let mut jobs = vec![SeedJob {
        tenant: MAIN_TENANT,
        count: args.n1,
        seed: args.seed,
    }];
    let others = u64::from(args.other_tenants);
    for i in 1..=args.other_tenants {
        let n = u64::from(i);
        let count = args.n2 / others + u64::from(n <= args.n2 % others);
        if count > 0 {
            jobs.push(SeedJob {
                tenant: other_tenant(i),
                count,
                seed: args.seed + n,
            });
        }
    }
    jobs
}

/// Seeds `target` (already empty) with the dataset, `args.seed_jobs` processes at a
/// time, after the migrations ran once.
pub async fn seed(args: &Args, target: &Target) -> anyhow::Result<SeedReport> {
    let expected = args.n1 + args.n2;
    // S6 adds entries to a dataset, so a reused one may hold more than was seeded.
    if args.reuse && target.stored_entries().await >= Some(expected) {
        return Ok(SeedReport {
            entries: expected,
            seconds: 0.0,
            entries_per_sec: 0.0,
            main_tenant_line: String::new(),
            jobs: 0,
            reused: true,
        });
    }
    target.recreate().await?;
    run_auditlog(&args.auditlog_bin, &target.url, &["migrate"]).await?;

    let started = Instant::now();
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs(args))));
    // SQLite has one writer at a time: a second process only waits for the lock, and
    // fails when a long import holds it past the busy timeout.
    let jobs_at_once = match target.kind {
        BackendKind::Sqlite => 1,
        BackendKind::Postgres => args.seed_jobs.max(1),
    };
    let lanes = (0..jobs_at_once).map(|_| {
        let queue = Arc::clone(&queue);
        let bin = args.auditlog_bin.clone();
        let url = target.url.clone();
        let (days, end) = (args.days.to_string(), args.end.clone());
        tokio::spawn(async move {
            let mut main_line = None;
            loop {
                let job = match queue.lock() {
                    Ok(mut queue) => queue.pop_front(),
                    Err(_) => bail!("a seeding lane panicked"),
                };
                let Some(job) = job else { break };
                let tenant = job.tenant.to_string();
                let (count, seed) = (job.count.to_string(), job.seed.to_string());
                let out = run_auditlog(
                    &bin,
                    &url,
                    &[
                        "seed", "--tenant", &tenant, "--count", &count, "--days", &days, "--seed",
                        &seed, "--end", &end,
                    ],
                )
                .await?;
                if job.tenant == MAIN_TENANT {
                    main_line = out
                        .lines()
                        .rev()
                        .find(|l| l.contains("seeded"))
                        .map(str::to_owned);
                }
            }
            anyhow::Ok(main_line)
        })
    });
    let mut main_tenant_line = String::new();
    for lane in futures::future::join_all(lanes).await {
        if let Some(line) = lane.context("a seeding lane panicked")?? {
            main_tenant_line = line;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let stored = target.stored_entries().await.unwrap_or(0);
    if stored != expected {
        bail!("seeding stored {stored} entries, expected {expected}");
    }
    Ok(SeedReport {
        entries: expected,
        seconds,
        entries_per_sec: expected as f64 / seconds.max(1e-9),
        main_tenant_line,
        jobs: jobs_at_once,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn jobs_split_n2_exactly_over_distinct_tenants() {
        let args = Args::parse_from([
            "bench",
            "--n1",
            "10",
            "--n2",
            "1000",
            "--other-tenants",
            "99",
        ]);
        let jobs = jobs(&args);
        assert_eq!(jobs.len(), 100);
        assert_eq!(jobs.iter().map(|j| j.count).sum::<u64>(), 1010);
        let mut tenants: Vec<Uuid> = jobs.iter().map(|j| j.tenant).collect();
        tenants.sort();
        tenants.dedup();
        assert_eq!(tenants.len(), 100);
        assert_eq!(
            jobs[0].tenant.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
    }
}
