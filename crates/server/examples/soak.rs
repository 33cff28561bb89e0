//! Load and soak: the release binary on a fresh database, 64 clients mixing reads and
//! writes on 127.0.0.1 for a bounded time. It passes when no request failed, the
//! resident memory of the last minute is that of the first, and the number of entries
//! listed is exactly the number acknowledged. `make soak` runs it:
//!
//! ```sh
//! AUDITLOG_BIN=target/release/auditlog target/release/examples/soak --secs 300 --backend sqlite
//! ```
//!
//! The load runs `--warmup` seconds (default 60) before the measured `--secs`: the pool
//! opens its connections and their page caches fill, which is growth by design. The
//! first and the last minute compared are those of the measured part.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use auditlog_tests::{Backend, TestDatabase};
use common::{KEY, Server, batch, client, wait_ready};
use rand::Rng;

/// Resident memory may grow this much from the first minute to the last: SQLite's and
/// the allocator's caches settle within the first minute; a leak keeps growing.
const RSS_SLACK_RATIO: f64 = 0.10;
const RSS_SLACK_KIB: u64 = 8 * 1024;

#[derive(Debug)]
struct Args {
    secs: u64,
    warmup: u64,
    concurrency: usize,
    backend: Backend,
}

fn args() -> Args {
    let mut args = Args {
        secs: 300,
        warmup: 60,
        concurrency: 64,
        backend: Backend::Sqlite,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--secs" => args.secs = value.parse().expect("--secs N"),
            "--warmup" => args.warmup = value.parse().expect("--warmup N"),
            "--concurrency" => args.concurrency = value.parse().expect("--concurrency N"),
            "--backend" => {
                args.backend = match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    other => panic!("--backend sqlite|postgres, not {other}"),
                }
            }
            other => panic!("unknown flag {other}; use --secs, --warmup, --concurrency, --backend"),
        }
    }
    assert!(
        args.secs >= 120,
        "--secs must be at least 120: the first and the last minute are compared"
    );
    args
}

#[derive(Debug, Default)]
struct Counts {
    reads: AtomicU64,
    writes: AtomicU64,
    entries_acknowledged: AtomicU64,
    errors: AtomicU64,
}

/// The filters a reader picks from: pages, types, actors, networks, search, windows.
fn read_query(rng: &mut impl Rng, worker: usize) -> String {
    match rng.random_range(0..8) {
        0 => String::new(),
        1 => format!("page={}&per_page=100", rng.random_range(1..20)),
        2 => "type=login_success,user_created".to_owned(),
        3 => format!("actor_user_id=soak-w{worker}-b{}", rng.random_range(0..50)),
        4 => "meta_source_ip=10.0.0.0/8&per_page=50".to_owned(),
        5 => format!("q=10.{}", rng.random_range(0..200)),
        6 => "start_time=2020-01-01T00:00:00Z&end_time=2999-01-01T00:00:00Z&per_page=1".to_owned(),
        _ => "actor_email=nobody%40example.com".to_owned(),
    }
}

async fn worker(
    server: Arc<Server>,
    n: usize,
    deadline: Instant,
    counts: Arc<Counts>,
    errors: Arc<Mutex<Vec<String>>>,
) {
    let client = client();
    let admin = n % 2 == 1;
    let mut written = 0;
    for _ in 0..10_000_000 {
        if Instant::now() >= deadline {
            return;
        }
        let write = rand::rng().random_bool(0.3);
        let outcome = if write {
            let size = rand::rng().random_range(1..=20);
            let (_, body) = batch(size, &format!("soak-w{n}-b{written}"));
            written += 1;
            let request = if admin {
                client.post(server.admin_url()).bearer_auth(KEY)
            } else {
                client.post(server.passkey_url()).header("apiKey", KEY)
            };
            let outcome = answered(request.json(&body).send().await, 201, "POST").await;
            if outcome.is_ok() {
                counts.writes.fetch_add(1, Ordering::Relaxed);
                counts
                    .entries_acknowledged
                    .fetch_add(size as u64, Ordering::Relaxed);
            }
            outcome
        } else {
            let query = read_query(&mut rand::rng(), n);
            let request = if admin {
                client
                    .get(format!("{}?{query}", server.admin_url()))
                    .bearer_auth(KEY)
            } else {
                client
                    .get(format!("{}?{query}", server.passkey_url()))
                    .header("apiKey", KEY)
            };
            let outcome = answered(request.send().await, 200, &format!("GET ?{query}")).await;
            if outcome.is_ok() {
                counts.reads.fetch_add(1, Ordering::Relaxed);
            }
            outcome
        };
        if let Err(message) = outcome {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            let mut errors = errors.lock().expect("lock");
            if errors.len() < 10 {
                errors.push(message);
            }
        }
    }
}

/// Ok when the answer has `status` and its body arrives whole.
async fn answered(
    response: reqwest::Result<reqwest::Response>,
    status: u16,
    what: &str,
) -> Result<(), String> {
    let response = response.map_err(|err| format!("{what} failed: {err}"))?;
    let got = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|err| format!("{what}: the body broke off: {err}"))?;
    if got == status {
        Ok(())
    } else {
        Err(format!(
            "{what} answered {got}: {}",
            String::from_utf8_lossy(&body)
        ))
    }
}

/// The resident set of `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = args();
    let name = match args.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let measured_from = args.warmup;
    let end = args.warmup + args.secs;
    let db = TestDatabase::create(args.backend).await;
    let server = Arc::new(Server::start(&db.url, &[("RUST_LOG", "error")]).await);
    assert!(wait_ready(&client(), &server, Duration::from_secs(30)).await);
    let pid = server.pid().expect("the server runs");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(end);
    let counts = Arc::new(Counts::default());
    let errors = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|n| {
            tokio::spawn(worker(
                server.clone(),
                n,
                deadline,
                counts.clone(),
                errors.clone(),
            ))
        })
        .collect();
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut next_report = 30;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(rss) = rss_kib(pid) {
            samples.push((started.elapsed().as_secs(), rss));
        }
        let elapsed = started.elapsed().as_secs();
        if elapsed >= next_report {
            next_report += 30;
            eprintln!(
                "soak[{name}]: {elapsed:>4} s  reads {:>8}  writes {:>7}  entries {:>8}  errors {}  rss {} MiB",
                counts.reads.load(Ordering::Relaxed),
                counts.writes.load(Ordering::Relaxed),
                counts.entries_acknowledged.load(Ordering::Relaxed),
                counts.errors.load(Ordering::Relaxed),
                samples.last().map_or(0, |s| s.1 / 1024),
            );
        }
    }
    for worker in workers {
        worker.await.expect("a worker ends");
    }
    let listed: u64 = client()
        .get(format!("{}?per_page=1", server.admin_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("a count")
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Total-Count");
    let first = median(
        samples
            .iter()
            .filter(|s| s.0 > measured_from && s.0 <= measured_from + 60)
            .map(|s| s.1)
            .collect(),
    );
    let last = median(
        samples
            .iter()
            .filter(|s| s.0 + 60 >= end)
            .map(|s| s.1)
            .collect(),
    );
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let reads = counts.reads.load(Ordering::Relaxed);
    let writes = counts.writes.load(Ordering::Relaxed);
    let acknowledged = counts.entries_acknowledged.load(Ordering::Relaxed);
    let failed = counts.errors.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "soak[{name}]: {} s (after {} s of warm-up) at concurrency {}: {reads} reads, {writes} writes ({:.0} requests/s), \
         {failed} errors; {acknowledged} entries acknowledged, {listed} listed; resident memory \
         median {} MiB in the first measured minute, {} MiB in the last, peak {} MiB",
        args.secs,
        args.warmup,
        args.concurrency,
        (reads + writes) as f64 / secs,
        first / 1024,
        last / 1024,
        peak / 1024,
    );
    let mut ok = true;
    if failed > 0 {
        ok = false;
        eprintln!(
            "soak[{name}]: FAILED: {failed} requests failed, e.g. {:#?}",
            errors.lock().expect("lock")
        );
    }
    if listed != acknowledged {
        ok = false;
        eprintln!("soak[{name}]: FAILED: {acknowledged} entries acknowledged but {listed} listed");
    }
    let allowed = first + (first as f64 * RSS_SLACK_RATIO) as u64 + RSS_SLACK_KIB;
    if last > allowed {
        ok = false;
        eprintln!(
            "soak[{name}]: FAILED: resident memory grew from {first} KiB to {last} KiB (allowed {allowed} KiB)"
        );
    }
    if let Ok(server) = Arc::try_unwrap(server) {
        server.kill().await;
    }
    db.drop_database().await;
    if ok {
        println!("soak[{name}]: passed");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
