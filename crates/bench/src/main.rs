//! `auditlog-bench`: seeds a dataset on SQLite and PostgreSQL, drives HTTP load at the
//! release server with wrk, times Hanko's query pattern on the same data, measures the
//! server's log (catch-up, checkpoint lag, `auditlog verify`), and writes BENCHMARKS.md. `make bench` runs it; `--help` lists the settings.
//!
//! The modules depend one way; each uses only modules on the lines above it:
//! 1. `args`, `keyset`, `server`, `stats`, `verify`
//! 2. `backend`, `closed_loop`, `figures`, `wrk`
//! 3. `baseline_schema`, `bench`, `catch_up`, `checkpoint_lag`, `dataset`, `machine`
//! 4. `params`
//! 5. `results`, `scenario`
//! 6. `hanko_sql`, `targets`
//! 7. `ingest`, `report`
//! 8. `run`, and this file, which wires them together
#![forbid(unsafe_code)]

mod args;
mod backend;
mod baseline_schema;
mod bench;
mod catch_up;
mod checkpoint_lag;
mod closed_loop;
mod dataset;
mod figures;
mod hanko_sql;
mod ingest;
mod keyset;
mod machine;
mod params;
mod report;
mod results;
mod run;
mod scenario;
mod server;
mod stats;
mod targets;
mod verify;
mod wrk;

use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;

/// The heading of the report's last part, written by hand from runs of two builds side
/// by side (which one run of this harness cannot make): a new report keeps it.
const KEPT_SECTION: &str = "\n## The log's cost, measured alternately\n";

/// `report`, followed by the kept section of the report at `out`, if it has one.
fn kept(out: &std::path::Path, mut report: String) -> String {
    let old = std::fs::read_to_string(out).unwrap_or_default();
    if let Some(at) = old.find(KEPT_SECTION) {
        if !report.ends_with('\n') {
            report.push('\n');
        }
        report.push_str(&old[at..]);
    }
    report
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args::Args::parse();
    let started = Instant::now();
    let json = args.dir.join("results.json");
    if args.render_only {
        let text = std::fs::read_to_string(&json)
            .with_context(|| format!("cannot read {}", json.display()))?;
        let report: results::Report = serde_json::from_str(&text)
            .with_context(|| format!("cannot read {}", json.display()))?;
        std::fs::write(&args.out, kept(&args.out, report::markdown(&report)))
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        eprintln!("wrote {} from {}", args.out.display(), json.display());
        return Ok(());
    }
    if !args.auditlog_bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p auditlog`",
            args.auditlog_bin.display()
        );
    }
    if tokio::process::Command::new("wrk")
        .arg("-v")
        .output()
        .await
        .is_err()
    {
        bail!("wrk is missing: `apt-get install -y wrk` (make bench does it)");
    }
    if args.secs == 0 || args.concurrency.contains(&0) || args.producers == 0 || args.batch == 0 {
        bail!("BENCH_SECS, BENCH_CONCURRENCY, BENCH_PRODUCERS and BENCH_BATCH must be positive");
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;

    let mut backends = Vec::new();
    let mut targets = Vec::new();
    for &kind in &args.backends {
        backends.push(run::backend(&args, kind).await?);
        targets.push(backend::Target::new(kind, &args)?);
    }
    let report = results::Report {
        machine: machine::describe(&targets).await,
        settings: results::Settings::from_args(&args),
        backends,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", json.display()))?;
    std::fs::write(&args.out, kept(&args.out, report::markdown(&report)))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "wrote {} and {} in {:.1} minutes",
        args.out.display(),
        json.display(),
        report.wall_seconds / 60.0
    );
    Ok(())
}
