//! The performance targets (PostgreSQL, default dataset, concurrency 1), checked
//! against the run's figures.

use std::fmt::Write;

use crate::{
    args::BackendKind,
    report::{Report, ms, ratio, thousands, times},
    run::BackendResult,
};

/// S1 to S5: p50 at most this.
const P50_MS: f64 = 10.0;
/// ... and at least this many times faster than the baseline where it takes longer
/// than `P50_MS`.
const SPEEDUP: f64 = 10.0;
/// S6: at least this many entries a second.
const INGEST_PER_SEC: f64 = 50_000.0;
/// The server's resident set during the load: below this many bytes.
const RSS_BYTES: f64 = 100e6;
/// `auditlog seed`: at least this many entries a second, on every backend.
const SEED_PER_SEC: f64 = 100_000.0;
/// The whole of `make bench`'s measuring run: under this many minutes.
const BENCH_MINUTES: f64 = 15.0;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// One line per target; returns how many were missed.
fn rows(out: &mut String, pg: &BackendResult) -> usize {
    let mut missed = 0;
    let mut line = |out: &mut String, target: String, measured: String, met: Option<bool>| {
        let v = match met {
            Some(m) => {
                missed += usize::from(!m);
                verdict(m)
            }
            None => "n/a",
        };
        let _ = writeln!(out, "| {target} | {measured} | {v} |");
    };
    for row in pg.rows.iter().filter(|r| r.id != "S6") {
        let a = row.auditlog.iter().find(|m| m.concurrency == 1);
        let b = row.baseline.iter().find(|m| m.concurrency == 1);
        let name = format!("{} {}", row.id, row.name);
        match a.filter(|m| m.has_samples()) {
            Some(a) => line(
                out,
                format!("{name}: p50 <= {P50_MS} ms"),
                if a.errors > 0 {
                    format!("{}, and {} failed request(s)", ms(a.p50_ms), a.errors)
                } else {
                    ms(a.p50_ms)
                },
                Some(a.p50_ms <= P50_MS && a.errors == 0),
            ),
            None => line(
                out,
                format!("{name}: p50 <= {P50_MS} ms"),
                "not measured".into(),
                Some(false),
            ),
        }
        let b_slow = b.filter(|m| m.has_samples()).map(|m| m.p50_ms);
        match (ratio(a, b), b_slow) {
            (Some(r), Some(bp50)) if bp50 > P50_MS => line(
                out,
                format!("{name}: >= {SPEEDUP}x the baseline"),
                format!("{} (baseline {})", times(r), ms(bp50)),
                Some(r >= SPEEDUP),
            ),
            (_, Some(bp50)) => line(
                out,
                format!("{name}: >= {SPEEDUP}x the baseline"),
                format!("baseline takes {} (not above {P50_MS} ms)", ms(bp50)),
                None,
            ),
            _ => line(
                out,
                format!("{name}: >= {SPEEDUP}x the baseline"),
                "n/a".into(),
                None,
            ),
        }
    }
    if let Some(row) = pg.rows.iter().find(|r| r.id == "S6") {
        let a = row.auditlog.first().filter(|m| m.has_samples());
        line(
            out,
            format!(
                "S6 ingestion: >= {} entries/s",
                thousands(INGEST_PER_SEC as u64)
            ),
            a.map_or("not measured".into(), |m| {
                let rate = thousands(m.entries_per_sec().round() as u64);
                if m.errors > 0 {
                    format!("{rate} entries/s, and {} failed request(s)", m.errors)
                } else {
                    format!("{rate} entries/s")
                }
            }),
            Some(a.is_some_and(|m| m.entries_per_sec() >= INGEST_PER_SEC && m.errors == 0)),
        );
    }
    let sampled = pg
        .rows
        .iter()
        .flat_map(|r| r.auditlog.iter().filter_map(|m| m.rss_peak_kib))
        .max();
    let peak = sampled.max(pg.rss_high_water_kib);
    line(
        out,
        "server resident memory < 100 MB during the load".into(),
        peak.map_or("unknown".into(), |kib| {
            format!("{:.1} MB at most", kib as f64 * 1024.0 / 1e6)
        }),
        peak.map(|kib| (kib as f64 * 1024.0) < RSS_BYTES),
    );
    missed
}

/// The "Targets" section.
pub fn section(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Targets\n");
    let Some(pg) = report
        .backends
        .iter()
        .find(|b| b.backend == BackendKind::Postgres)
    else {
        let _ = writeln!(
            out,
            "PostgreSQL was not measured in this run, so the targets were not checked.\n"
        );
        return;
    };
    if !report.settings.default_dataset {
        let _ = writeln!(
            out,
            "This run used a dataset other than the default (1,000,000 + 1,000,000 entries over 90 days); the targets are set for the default one.\n"
        );
    }
    let _ = writeln!(out, "| target | measured | verdict |\n|---|---|---|");
    let mut missed = rows(out, pg);
    for b in report.backends.iter().filter(|b| !b.seed.reused) {
        let met = b.seed.entries_per_sec >= SEED_PER_SEC;
        missed += usize::from(!met);
        let _ = writeln!(
            out,
            "| `auditlog seed` into {}: >= {} entries/s | {} entries/s ({} entries in {:.1} s, indexes, counts and terms included) | {} |",
            b.backend,
            thousands(SEED_PER_SEC as u64),
            thousands(b.seed.entries_per_sec.round() as u64),
            thousands(b.seed.entries),
            b.seed.seconds,
            verdict(met)
        );
    }
    let minutes = report.wall_seconds / 60.0;
    let met = minutes < BENCH_MINUTES;
    missed += usize::from(!met);
    let _ = writeln!(
        out,
        "| the whole run under {BENCH_MINUTES} minutes (build excluded) | {minutes:.1} minutes | {} |",
        verdict(met)
    );
    let _ = writeln!(
        out,
        "\n{}S1 to S6 and memory are measured on PostgreSQL at concurrency 1 (SQLite's figures are below); seeding on both backends. The baseline is Hanko's query pattern on Hanko's schema in the same database (see [Method](#method)); \"n/a\" marks a comparison the target does not ask for.\n",
        if missed == 0 {
            "Every target was met. ".to_owned()
        } else {
            format!("{missed} target(s) missed. ")
        }
    );
}
