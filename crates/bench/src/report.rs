//! BENCHMARKS.md: the targets, the machine and dataset, a table per backend, and how
//! to reproduce.

use std::fmt::Write;

use crate::{
    args::BackendKind,
    catch_up::CatchUp,
    figures::{lag, ms, ratio, thousands, times},
    results::{BackendResult, Report},
    stats::Measurement,
    targets,
    verify::Verify,
};

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn cell(m: Option<&Measurement>) -> [String; 3] {
    match m {
        Some(m) if m.has_samples() => {
            let rate = if m.entries_per_request > 0 {
                format!(
                    "{} entries/s",
                    thousands(m.entries_per_sec().round() as u64)
                )
            } else if m.rps < 100.0 {
                format!("{:.1}", m.rps)
            } else {
                thousands(m.rps.round() as u64)
            };
            let rate = if m.errors > 0 {
                format!("{rate} (failed: {})", m.errors)
            } else {
                rate
            };
            [ms(m.p50_ms), ms(m.p99_ms), rate]
        }
        // Every worker's first request outlasted the window: the median is longer.
        Some(m) => [
            format!("> {} s (none completed)", m.seconds),
            "".into(),
            "0".into(),
        ],
        None => ["n/a".into(), "n/a".into(), "n/a".into()],
    }
}

fn backend_table(out: &mut String, result: &BackendResult) {
    let _ = writeln!(
        out,
        "| scenario | c | matches | auditlog p50 | auditlog p99 | auditlog req/s | baseline p50 | baseline p99 | baseline req/s | ratio | server RSS |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in &result.rows {
        let levels = row.auditlog.len().max(row.baseline.len());
        for i in 0..levels {
            let a = row.auditlog.get(i);
            let b = row.baseline.get(i);
            let c = a.or(b).map_or(0, |m| m.concurrency);
            let matches = match (row.matches, row.baseline_matches) {
                (Some(x), Some(y)) if x == y => thousands(x),
                (Some(x), Some(y)) => format!("{} / {}", thousands(x), thousands(y)),
                (Some(x), None) | (None, Some(x)) => thousands(x),
                (None, None) => String::new(),
            };
            let [ap50, ap99, arate] = cell(a);
            let [bp50, bp99, brate] = cell(b);
            let r = if row.id == "S6" {
                // Latencies are per batch on one side and per entry on the other: compare
                // throughput instead.
                match (a, b) {
                    (Some(a), Some(b)) if b.entries_per_sec() > 0.0 => {
                        format!(
                            "{} entries/s",
                            times(a.entries_per_sec() / b.entries_per_sec())
                        )
                    }
                    _ => "n/a".to_owned(),
                }
            } else {
                match (ratio(a, b), a, b) {
                    (Some(r), ..) => times(r),
                    (None, Some(a), Some(b)) if a.has_samples() && a.p50_ms > 0.0 => {
                        format!("> {}", times(b.seconds * 1000.0 / a.p50_ms))
                    }
                    _ => "n/a".to_owned(),
                }
            };
            let rss = a.and_then(|m| m.rss_peak_kib).map_or(String::new(), mb);
            let _ = writeln!(
                out,
                "| {} {} | {c} | {matches} | {ap50} | {ap99} | {arate} | {bp50} | {bp99} | {brate} | {r} | {rss} |",
                row.id, row.name
            );
        }
    }
    let mut notes: Vec<String> = Vec::new();
    for r in &result.rows {
        notes.extend(r.notes.iter().map(|n| format!("{} {}: {n}", r.id, r.name)));
        for (system, ms) in [("auditlog", &r.auditlog), ("baseline", &r.baseline)] {
            for m in ms {
                if let Some(detail) = &m.error_detail {
                    let c = m.concurrency;
                    let log = if system == "auditlog" {
                        format!(
                            " (the server's log: `target/bench/server-{}.log`)",
                            format!("{:?}", result.backend).to_lowercase()
                        )
                    } else {
                        String::new()
                    };
                    notes.push(format!(
                        "{} {}, {system} c={c}: {detail}{log}",
                        r.id, r.name
                    ));
                }
            }
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out);
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
}

/// The log's figures on one backend: catch-up, checkpoint lag, verification.
fn log_lines(out: &mut String, result: &BackendResult) {
    let catch_up = match &result.catch_up {
        None => return,
        Some(CatchUp::NoLogTables) => {
            let _ = writeln!(
                out,
                "\nThe log: no log tables (a server from before the log), so it was not measured."
            );
            return;
        }
        Some(CatchUp::Done { entries: 0, .. }) => "nothing was queued".to_owned(),
        Some(c @ CatchUp::Done { entries, seconds }) => format!(
            "{} queued entries taken into the trees {seconds:.1} s after the server started ({} entries/s)",
            thousands(*entries),
            thousands(c.entries_per_sec().unwrap_or_default().round() as u64)
        ),
    };
    let _ = writeln!(out, "\nThe log:\n");
    let _ = writeln!(out, "- log catch-up after seeding: {catch_up}");
    if let Some(l) = &result.checkpoint_lag {
        let mut text = if l.samples == 0 {
            "no probe was acknowledged".to_owned()
        } else {
            format!(
                "p50 {}, p99 {}, max {} over {} probes",
                lag(l.p50_ms, l.give_up_secs),
                lag(l.p99_ms, l.give_up_secs),
                lag(l.max_ms, l.give_up_secs),
                l.samples
            )
        };
        if let Some(first) = &l.first_error {
            text.push_str(&format!(" ({} failed; the first: {first})", l.errors));
        }
        let _ = writeln!(
            out,
            "- checkpoint lag under S6 (acknowledgement to coverage by a signed checkpoint): {text}"
        );
    }
    match &result.verify {
        Some(Verify::Verified {
            leaves,
            seconds,
            entries_per_sec,
            wall_seconds,
        }) => {
            let _ = writeln!(
                out,
                "- `auditlog verify` of the main tenant: {} leaves checked in {seconds:.1} s ({} entries/s; {wall_seconds:.1} s for the whole process)",
                thousands(*leaves),
                thousands(entries_per_sec.round() as u64)
            );
        }
        Some(Verify::Failed {
            detail,
            wall_seconds,
        }) => {
            let _ = writeln!(
                out,
                "- `auditlog verify` of the main tenant failed after {wall_seconds:.1} s: {detail}"
            );
        }
        None => {}
    }
}

fn dataset_section(out: &mut String, report: &Report) {
    let s = &report.settings;
    let _ = writeln!(out, "## Dataset\n");
    let _ = writeln!(
        out,
        "- {} entries in the main tenant `00000000-0000-0000-0000-000000000001` and {} spread over {} other tenants, {} in all, over {} days before {} (`auditlog seed --seed {}` for the main tenant, seed + i for tenant i).",
        thousands(s.n1),
        thousands(s.n2),
        s.other_tenants,
        thousands(s.n1 + s.n2),
        s.days,
        s.end,
        s.seed
    );
    for b in &report.backends {
        let seeding = if b.seed.reused {
            "reused from an earlier run (not seeded again; it may hold the entries of an earlier S6)".to_owned()
        } else {
            format!(
                "seeded in {:.1} s, {} entries/s, by one `auditlog seed` process ({})",
                b.seed.seconds,
                thousands(b.seed.entries_per_sec.round() as u64),
                b.seed
                    .lines
                    .iter()
                    .map(|l| format!("`{}`", l.trim()))
                    .collect::<Vec<_>>()
                    .join(", then ")
            )
        };
        let baseline = b.baseline_build.as_ref().map_or("reused".to_owned(), |x| {
            format!(
                "{} rows copied and indexed in {:.1} s",
                thousands(x.rows),
                x.seconds
            )
        });
        let _ = writeln!(
            out,
            "- {}: {seeding}; baseline table: {baseline}.",
            b.backend
        );
    }
    if let Some(b) = report.backends.first() {
        let p = &b.params;
        let _ = writeln!(
            out,
            "- Parameters, picked from the data: types `{}` and `{}` (the two most common); window `[{}, {})`; actor `{}` (the median actor, {} entries); e-mail fragment `{}` (the median actor's local part without its first character, shortened until it matches {} or more addresses: {}); IP fragment `{}` (the first three octets of the most common IPv4 address).",
            p.types[0],
            p.types[1],
            rfc3339(p.window_start),
            rfc3339(p.window_end),
            p.actor_user_id,
            p.actor_entries,
            p.email_fragment,
            crate::params::HANDFUL,
            p.email_fragment_addresses,
            p.ip_fragment
        );
    }
    let _ = writeln!(out);
}

/// The whole document.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let s = &report.settings;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `make bench` (crates/bench) on {}, commit {}, in {:.1} minutes. Every figure below comes from that run, except the last section when there is one ([The log's cost, measured alternately](#the-logs-cost-measured-alternately): runs of two builds side by side, kept from one report to the next); [reproduce](#how-to-reproduce) it to check them.\n",
        m.date,
        m.commit,
        report.wall_seconds / 60.0
    );
    targets::section(&mut out, report);
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(
        out,
        "- {} cores ({}), {:.1} GiB memory, {}, Linux {}\n- {}; PostgreSQL {}; SQLite {} (bundled with sqlx, as in auditlog)\n- load generator: {}\n- client, server and database share the machine\n",
        m.cores,
        m.cpu,
        m.memory_gib,
        m.os,
        m.kernel,
        m.rustc,
        m.postgres.as_deref().unwrap_or("not measured"),
        m.sqlite.as_deref().unwrap_or("not measured"),
        m.wrk
    );
    dataset_section(&mut out, report);
    for kind in [BackendKind::Postgres, BackendKind::Sqlite] {
        for b in report.backends.iter().filter(|b| b.backend == kind) {
            let _ = writeln!(out, "## {}\n", b.backend);
            backend_table(&mut out, b);
            log_lines(&mut out, b);
            let hwm = b.rss_high_water_kib.map_or("unknown".to_owned(), mb);
            let _ = writeln!(
                out,
                "\nServer resident memory: at most {hwm} over the whole run (VmHWM); the column shows the peak sampled every 50 ms during each auditlog measurement. This backend's part took {:.1} minutes.\n",
                b.seconds / 60.0
            );
        }
    }
    let _ = writeln!(
        out,
        "## How to reproduce\n\n```sh\nmake bench                                       # the default run, as above\nBENCH_N1=50000 BENCH_N2=50000 BENCH_SECS=3 make bench   # a quick one\nBENCH_BACKENDS=postgres BENCH_SCENARIOS=S1,S5 make bench  # a part\n```\n\n\
         `make bench` installs wrk (Debian's package) when it is missing, builds the release binaries, and runs `target/release/auditlog-bench`. \
         Settings (environment, or flags of `auditlog-bench --help`): `BENCH_N1`, `BENCH_N2`, `BENCH_OTHER_TENANTS`, `BENCH_DAYS`, `BENCH_SEED`, `BENCH_END`, `BENCH_SECS`, `BENCH_CONCURRENCY`, `BENCH_PRODUCERS`, `BENCH_BATCH`, `BENCH_POOL`, `BENCH_BACKENDS`, `BENCH_SCENARIOS`, `BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/auditlog_bench`, dropped and recreated), `BENCH_REUSE=true` (keep a seeded dataset). \
         This run: {} s per measurement, concurrency {:?}, {} producers × {} entries, pools of {} connections. The raw figures are in `target/bench/results.json`.\n",
        s.secs, s.concurrency, s.producers, s.batch, s.pool
    );
    let _ = writeln!(out, "{}", include_str!("method.md"));
    out
}
