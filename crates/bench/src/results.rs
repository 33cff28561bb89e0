//! What a run produced, as results.json holds it: a row per scenario, a result per
//! backend, and the report around them.

use serde::{Deserialize, Serialize};

use crate::{
    args::{Args, BackendKind},
    baseline_schema::BaselineBuild,
    catch_up::CatchUp,
    checkpoint_lag::Lag,
    dataset::SeedReport,
    keyset::Keyset,
    machine::Machine,
    params::Params,
    stats::Measurement,
    verify::Verify,
};

/// Everything one run produced (also written as results.json).
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub backends: Vec<BackendResult>,
    pub wall_seconds: f64,
}

/// The settings that shape the figures.
#[derive(Debug, Serialize, Deserialize)]
pub struct Settings {
    pub n1: u64,
    pub n2: u64,
    pub other_tenants: u32,
    pub days: u32,
    pub seed: u64,
    pub end: String,
    pub secs: u64,
    pub concurrency: Vec<usize>,
    pub producers: usize,
    pub batch: usize,
    pub pool: u32,
    pub default_dataset: bool,
}

impl Settings {
    /// The settings of a run with these arguments.
    pub fn from_args(args: &Args) -> Self {
        Self {
            n1: args.n1,
            n2: args.n2,
            other_tenants: args.other_tenants,
            days: args.days,
            seed: args.seed,
            end: args.end.clone(),
            secs: args.secs,
            concurrency: args.concurrency.clone(),
            producers: args.producers,
            batch: args.batch,
            pool: args.pool,
            default_dataset: args.n1 == 1_000_000
                && args.n2 == 1_000_000
                && args.other_tenants == 99
                && args.days == 90,
        }
    }
}

/// Everything measured on one backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendResult {
    pub backend: BackendKind,
    pub seed: SeedReport,
    pub baseline_build: Option<BaselineBuild>,
    pub params: Params,
    pub keyset: Option<Keyset>,
    pub rows: Vec<Row>,
    pub rss_high_water_kib: Option<u64>,
    pub seconds: f64,
    /// The log's catch-up with the seeded entries, before the scenarios.
    #[serde(default)]
    pub catch_up: Option<CatchUp>,
    /// Acknowledgement to checkpoint during S6 (none without S6 or a log).
    #[serde(default)]
    pub checkpoint_lag: Option<Lag>,
    /// `auditlog verify` of the main tenant, after the scenarios (none without a log).
    #[serde(default)]
    pub verify: Option<Verify>,
}

/// One scenario's figures on one backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub name: String,
    /// `X-Total-Count` of auditlog's answer, and the baseline's `COUNT(*)`.
    pub matches: Option<u64>,
    pub baseline_matches: Option<u64>,
    /// One per concurrency level.
    pub auditlog: Vec<Measurement>,
    pub baseline: Vec<Measurement>,
    /// Why a side was not measured, or how the baseline differs.
    pub notes: Vec<String>,
}
