//! The baseline's load generator: `concurrency` workers issue requests back to back for
//! a fixed window, counted as wrk counts them (only requests completed within the
//! window; latency from start to end of the request).

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::stats::{Measurement, percentile};

struct WorkerResult {
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `op(worker, iteration)` from `concurrency` workers for `secs` seconds. At the
/// end of the window `interrupt` is called (every 100 ms, until every worker has
/// stopped) to cut short the requests still running, which are not counted: they would
/// otherwise overlap the next measurement.
pub async fn run<F, Fut, I, IFut>(
    concurrency: usize,
    secs: u64,
    entries_per_request: u64,
    op: F,
    interrupt: I,
) -> anyhow::Result<Measurement>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    I: Fn() -> IFut,
    IFut: Future<Output = ()>,
{
    let op = Arc::new(op);
    let window = Duration::from_secs(secs);
    let started = Instant::now();
    let deadline = started + window;
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let op = Arc::clone(&op);
            tokio::spawn(async move {
                let mut result = WorkerResult {
                    latencies_us: Vec::new(),
                    errors: 0,
                    first_error: None,
                };
                let mut iteration = 0;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let outcome = op(worker, iteration).await;
                    let t1 = Instant::now();
                    iteration += 1;
                    if t1 > deadline {
                        break;
                    }
                    match outcome {
                        Ok(()) => result
                            .latencies_us
                            .push(u64::try_from((t1 - t0).as_micros()).unwrap_or(u64::MAX)),
                        Err(err) => {
                            result.errors += 1;
                            result.first_error.get_or_insert_with(|| format!("{err:#}"));
                        }
                    }
                }
                result
            })
        })
        .collect();
    tokio::time::sleep_until(deadline.into()).await;
    let cutoff = Instant::now() + Duration::from_secs(120);
    while !workers.iter().all(tokio::task::JoinHandle::is_finished) && Instant::now() < cutoff {
        interrupt().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for worker in futures::future::join_all(workers).await {
        let worker = worker.map_err(|e| anyhow::anyhow!("a load worker panicked: {e}"))?;
        latencies.extend(worker.latencies_us);
        errors += worker.errors;
        first_error = first_error.or(worker.first_error);
    }
    let error_detail = first_error.map(|err| format!("{errors} failed; the first: {err}"));
    latencies.sort_unstable();
    let seconds = window.as_secs_f64();
    Ok(Measurement {
        concurrency,
        requests: latencies.len() as u64,
        errors,
        error_detail,
        seconds,
        p50_ms: percentile(&latencies, 50.0) as f64 / 1000.0,
        p99_ms: percentile(&latencies, 99.0) as f64 / 1000.0,
        rps: latencies.len() as f64 / seconds,
        entries_per_request,
        rss_peak_kib: None,
    })
}
