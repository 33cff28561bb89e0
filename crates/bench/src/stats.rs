//! One measurement, and percentiles computed as wrk computes them.

use serde::{Deserialize, Serialize};

/// The outcome of one load run: one system, one scenario, one concurrency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub concurrency: usize,
    /// Requests completed within the window (what wrk counts).
    pub requests: u64,
    /// Failed requests (connection errors, non-2xx answers, database errors).
    pub errors: u64,
    /// What the failures were, when there were any.
    pub error_detail: Option<String>,
    /// The window.
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rps: f64,
    /// Entries written per request (S6), else 0.
    pub entries_per_request: u64,
    /// The server's largest resident set seen during the run (auditlog only).
    pub rss_peak_kib: Option<u64>,
}

impl Measurement {
    /// Entries written per second (S6).
    pub fn entries_per_sec(&self) -> f64 {
        self.rps * self.entries_per_request as f64
    }

    /// Whether there is anything to report.
    pub fn has_samples(&self) -> bool {
        self.requests > 0
    }
}

/// The value at percentile `p` of `sorted` (ascending), as wrk's `stats_percentile`
/// picks it: the sample of rank `round(p / 100 * n + 0.5)`.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64 + 0.5).round() as usize;
    sorted[rank.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks_like_wrk() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 51);
        assert_eq!(percentile(&v, 99.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[1, 2], 50.0), 2);
    }
}
