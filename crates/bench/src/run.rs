//! One backend's part of the run: seed, build the baseline, start the server, wait
//! for its log to take in the seeded entries, measure every scenario on both systems,
//! and time `auditlog verify`.

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::{
    args::{Args, BackendKind},
    backend::Target,
    baseline_schema,
    bench::Bench,
    catch_up::{self, CatchUp},
    checkpoint_lag::Lag,
    dataset::{self, MAIN_TENANT},
    hanko_sql, ingest,
    keyset::{self, Keyset},
    params::{self, PER_PAGE, Params},
    results::{BackendResult, Row},
    scenario::{self, Scenario},
    server::Server,
    stats::Measurement,
    verify, wrk,
};

fn log(kind: BackendKind, what: &str) {
    eprintln!("[{kind}] {what}");
}

fn describe(m: &Measurement) -> String {
    if !m.has_samples() {
        return format!("c={}: none completed within {} s", m.concurrency, m.seconds);
    }
    let mut s = format!(
        "c={}: p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s",
        m.concurrency, m.p50_ms, m.p99_ms, m.rps
    );
    if m.entries_per_request > 0 {
        s.push_str(&format!(", {:.0} entries/s", m.entries_per_sec()));
    }
    if let Some(detail) = &m.error_detail {
        s.push_str(&format!(" ({detail})"));
    }
    s
}

/// Runs the whole benchmark on one backend.
pub async fn backend(args: &Args, kind: BackendKind) -> anyhow::Result<BackendResult> {
    let started = Instant::now();
    let target = Target::new(kind, args)?;
    log(kind, &format!("seeding {} + {} entries", args.n1, args.n2));
    let seed = dataset::seed(args, &target).await?;
    log(
        kind,
        &format!(
            "seeded in {:.1} s ({:.0} entries/s{})",
            seed.seconds,
            seed.entries_per_sec,
            if seed.reused { ", reused" } else { "" }
        ),
    );

    let (db, interrupt) = target.connect_interruptible(args.pool).await?;
    let control = target.connect(1).await?;
    let expected = args.n1 + args.n2;
    let baseline_build = if seed.reused && baseline_rows(&target, &db).await >= Some(expected) {
        None
    } else {
        log(kind, "building the baseline table");
        let built = baseline_schema::build(&target, &control).await?;
        log(
            kind,
            &format!("baseline: {} rows in {:.1} s", built.rows, built.seconds),
        );
        Some(built)
    };
    let params = params::pick(&target, &db, MAIN_TENANT, &args.end, args.n1).await?;
    log(kind, &format!("parameters: {params:?}"));

    let log_path =
        std::path::absolute(args.dir.join(format!("server-{kind:?}.log").to_lowercase()))?;
    let signing_key = std::path::absolute(args.dir.join("signing.key"))?;
    // The server's integrator starts on what seeding queued as soon as it runs.
    let queued = catch_up::queued(&target, &control).await?;
    let log_started = Instant::now();
    let server = Server::start(
        &args.auditlog_bin,
        &target.url,
        args.port,
        args.pool,
        &signing_key,
        &log_path,
        MAIN_TENANT,
    )
    .await?;
    let bench = Bench {
        args,
        target,
        db,
        interrupt,
        control,
        server,
    };
    let outcome = measure(&bench, &params, queued, log_started).await;
    let rss_high_water_kib = bench.server.rss_high_water_kib();
    bench.server.stop().await?;
    // With the server stopped, so that nothing else runs meanwhile.
    let verify = match (&outcome, queued) {
        (Ok(_), Some(_)) => {
            let verified = verify::run(
                &args.auditlog_bin,
                &bench.target.url,
                MAIN_TENANT,
                &signing_key,
            )
            .await?;
            log(kind, &format!("auditlog verify: {verified:?}"));
            Some(verified)
        }
        _ => None,
    };
    bench
        .db
        .close()
        .await
        .context("cannot close the baseline's pool")?;
    bench
        .control
        .close()
        .await
        .context("cannot close a connection")?;
    let Measured {
        catch_up,
        keyset,
        rows,
        checkpoint_lag,
    } = outcome?;
    Ok(BackendResult {
        backend: kind,
        seed,
        baseline_build,
        params,
        keyset,
        rows,
        rss_high_water_kib,
        seconds: started.elapsed().as_secs_f64(),
        catch_up: Some(catch_up),
        checkpoint_lag,
        verify,
    })
}

/// What the server was measured at.
struct Measured {
    catch_up: CatchUp,
    keyset: Option<Keyset>,
    rows: Vec<Row>,
    checkpoint_lag: Option<Lag>,
}

async fn baseline_rows(target: &Target, db: &DatabaseConnection) -> Option<u64> {
    let sql = format!("SELECT COUNT(*) AS n FROM {}", baseline_schema::TABLE);
    let row = db
        .query_one_raw(target.statement(&sql, vec![]))
        .await
        .ok()??;
    u64::try_from(row.try_get::<i64>("", "n").ok()?).ok()
}

/// Waits for the log to take in the `queued` entries (queued at `log_started`; None: the
/// database has no log), then measures every scenario.
async fn measure(
    bench: &Bench<'_>,
    params: &Params,
    queued: Option<u64>,
    log_started: Instant,
) -> anyhow::Result<Measured> {
    let (args, kind, server) = (bench.args, bench.target.kind, &bench.server);
    let catch_up = match queued {
        Some(queued) => {
            log(
                kind,
                &format!("waiting for the log to take in {queued} queued entries"),
            );
            let caught_up =
                catch_up::wait(&bench.target, &bench.control, queued, log_started).await?;
            log(kind, &format!("log caught up: {caught_up:?}"));
            bench.settle().await;
            caught_up
        }
        None => {
            log(kind, "no log tables: the log is not measured");
            CatchUp::NoLogTables
        }
    };
    let client = reqwest::Client::new();
    let list_url = format!("{}/{MAIN_TENANT}/audit_logs", server.base_url);
    let auth = ("apiKey", server.api_key.as_str());
    let keyset = if args.wants("S5") {
        log(kind, "walking to the deep position in keyset mode");
        let walked = keyset::walk(&client, &list_url, auth, params.deep_offset, PER_PAGE).await?;
        log(kind, &format!("keyset: {walked:?}"));
        Some(walked)
    } else {
        None
    };

    let mut rows: Vec<Row> = Vec::new();
    for scenario in scenario::read_scenarios(params) {
        if !args.wants(scenario.id) {
            continue;
        }
        let mut row = Row {
            id: scenario.id.to_owned(),
            name: scenario.name.clone(),
            matches: None,
            baseline_matches: None,
            auditlog: Vec::new(),
            baseline: Vec::new(),
            notes: Vec::new(),
        };
        let query = match (&scenario, &keyset) {
            (Scenario { keyset: false, .. }, _) => Some(scenario.query.clone()),
            (_, Some(Keyset::Reached { query, .. })) => Some(query.clone()),
            (_, Some(Keyset::Unavailable(why))) => {
                row.notes.push(format!("auditlog not measured: {why}"));
                None
            }
            (_, None) => None,
        };
        if let Some(query) = query {
            let url = if query.is_empty() {
                list_url.clone()
            } else {
                format!("{list_url}?{query}")
            };
            row.matches = warm_up(&client, &url, auth).await?;
            for &c in &args.concurrency {
                server.take_rss_peak();
                let load = wrk::Load {
                    url: &url,
                    method: "GET",
                    auth,
                    body: None,
                    concurrency: c,
                    secs: args.secs,
                    entries_per_request: 0,
                };
                let mut m = wrk::run(&load, &args.dir).await?;
                m.rss_peak_kib = Some(server.take_rss_peak());
                log(
                    kind,
                    &format!(
                        "{} {} auditlog {}",
                        scenario.id,
                        scenario.name,
                        describe(&m)
                    ),
                );
                row.auditlog.push(m);
                bench.settle().await;
            }
        }
        match &scenario.hanko {
            Some((filters, offset)) => {
                let request = Arc::new(hanko_sql::list_request(
                    &bench.target,
                    MAIN_TENANT,
                    filters,
                    *offset,
                ));
                let (_, total) = hanko_sql::execute(kind, &bench.db, &request).await?;
                row.baseline_matches = Some(total);
                for &c in &args.concurrency {
                    let (pool, request) = (bench.db.clone(), Arc::clone(&request));
                    let m =
                        bench
                            .baseline_load(c, 0, move |_, _| {
                                let (pool, request) = (pool.clone(), Arc::clone(&request));
                                async move {
                                    hanko_sql::execute(kind, &pool, &request).await.map(|_| ())
                                }
                            })
                            .await?;
                    log(
                        kind,
                        &format!(
                            "{} {} baseline {}",
                            scenario.id,
                            scenario.name,
                            describe(&m)
                        ),
                    );
                    row.baseline.push(m);
                }
            }
            None => {
                // Hanko has no keyset mode: its way to the same position is the offset query.
                if let Some(offset_row) = rows.iter().rev().find(|r| r.id == scenario.id) {
                    row.baseline = offset_row.baseline.clone();
                    row.baseline_matches = offset_row.baseline_matches;
                    row.notes.push(
                        "Hanko has no keyset mode; its figures are those of its offset query at the same position"
                            .to_owned(),
                    );
                }
            }
        }
        rows.push(row);
    }

    let mut checkpoint_lag = None;
    if args.wants("S6") {
        let (row, lag) = ingest::measure(bench, queued.is_some()).await?;
        rows.push(row);
        checkpoint_lag = lag;
    }
    Ok(Measured {
        catch_up,
        keyset,
        rows,
        checkpoint_lag,
    })
}

/// One unmeasured request, so that caches are warm; returns `X-Total-Count`.
async fn warm_up(
    client: &reqwest::Client,
    url: &str,
    auth: (&str, &str),
) -> anyhow::Result<Option<u64>> {
    let answer = client
        .get(url)
        .header(auth.0, auth.1)
        .send()
        .await
        .context("warm-up request")?;
    let status = answer.status();
    let total = answer
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if !status.is_success() {
        let body = answer.text().await.unwrap_or_default();
        anyhow::bail!("auditlog answered {status} to the warm-up: {body}");
    }
    Ok(total)
}
