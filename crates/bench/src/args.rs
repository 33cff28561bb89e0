//! The settings of one run, from flags or `BENCH_*` environment variables.

use std::{fmt, path::PathBuf, str::FromStr};

use clap::Parser;

/// Measures auditlog against Hanko's query pattern on the same data and writes
/// BENCHMARKS.md. Every size and duration is adjustable; the defaults are the
/// published run.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Args {
    /// Entries in the main tenant (the one every read scenario queries).
    #[arg(long, env = "BENCH_N1", default_value_t = 1_000_000)]
    pub n1: u64,
    /// Entries spread evenly over the other tenants.
    #[arg(long, env = "BENCH_N2", default_value_t = 1_000_000)]
    pub n2: u64,
    /// How many other tenants share N2.
    #[arg(long, env = "BENCH_OTHER_TENANTS", default_value_t = 99)]
    pub other_tenants: u32,
    /// Over how many days before --end the entries are spread.
    #[arg(long, env = "BENCH_DAYS", default_value_t = 90)]
    pub days: u32,
    /// The generator's seed; tenant i is seeded with seed + i.
    #[arg(long, env = "BENCH_SEED", default_value_t = 20_260_101)]
    pub seed: u64,
    /// The newest possible entry time (RFC 3339), fixed so that runs are reproducible.
    #[arg(long, env = "BENCH_END", default_value = "2026-01-01T00:00:00Z")]
    pub end: String,
    /// Seconds of load per measurement (whole seconds, as wrk takes them).
    #[arg(long, env = "BENCH_SECS", default_value_t = 5)]
    pub secs: u64,
    /// The concurrency levels of the read scenarios.
    #[arg(
        long,
        env = "BENCH_CONCURRENCY",
        default_value = "1,32",
        value_delimiter = ','
    )]
    pub concurrency: Vec<usize>,
    /// Concurrent producers in the ingestion scenario (S6).
    #[arg(long, env = "BENCH_PRODUCERS", default_value_t = 8)]
    pub producers: usize,
    /// Entries per request in the ingestion scenario (S6).
    #[arg(long, env = "BENCH_BATCH", default_value_t = 500)]
    pub batch: usize,
    /// The backends to measure, in order.
    #[arg(
        long,
        env = "BENCH_BACKENDS",
        default_value = "sqlite,postgres",
        value_delimiter = ','
    )]
    pub backends: Vec<BackendKind>,
    /// The PostgreSQL database of the benchmark; it is dropped and recreated.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/auditlog_bench"
    )]
    pub postgres_url: String,
    /// Connections in the pool of the server (`AUDITLOG_DB_MAX_CONNECTIONS`) and of
    /// the baseline alike.
    #[arg(long, env = "BENCH_POOL", default_value_t = 10)]
    pub pool: u32,
    /// The loopback port the server listens on.
    #[arg(long, env = "BENCH_PORT", default_value_t = 18_471)]
    pub port: u16,
    /// Keep a dataset that already has the expected number of entries instead of
    /// seeding it again (for iterating on the harness; the report says so).
    #[arg(long, env = "BENCH_REUSE", default_value_t = false)]
    pub reuse: bool,
    /// Measure nothing: write the report again from the results.json of the last run.
    #[arg(long, env = "BENCH_RENDER_ONLY", default_value_t = false)]
    pub render_only: bool,
    /// Only these scenarios (e.g. `S1,S5`); all when empty.
    #[arg(long, env = "BENCH_SCENARIOS", value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// The release binary of auditlog.
    #[arg(
        long,
        env = "BENCH_AUDITLOG_BIN",
        default_value = "target/release/auditlog"
    )]
    pub auditlog_bin: PathBuf,
    /// Where the SQLite file, the server logs and results.json go.
    #[arg(long, env = "BENCH_DIR", default_value = "target/bench")]
    pub dir: PathBuf,
    /// The report.
    #[arg(long, env = "BENCH_OUT", default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
}

impl Args {
    /// Whether scenario `id` (e.g. `S4`) is selected.
    pub fn wants(&self, id: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s.eq_ignore_ascii_case(id))
    }
}

/// A database that auditlog runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            other => Err(format!("unknown backend '{other}': use sqlite or postgres")),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}
