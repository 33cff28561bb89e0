//! The checkpoint lag under load: how long after a write is acknowledged its entry is a
//! leaf covered by a signed checkpoint. While S6's producers post, a probe posts one
//! entry every 100 ms to the same endpoint and notes when the answer came and the id
//! it gave; a watcher asks the database every 10 ms which of the probes' entries are
//! covered.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::MissedTickBehavior,
};
use uuid::Uuid;

use crate::{backend::Target, stats::percentile};

/// Time between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Time between two looks at the database.
const WATCH_EVERY: Duration = Duration::from_millis(10);
/// Probes at most.
const MAX_PROBES: u64 = 1_200;
/// A probe not covered this long after its acknowledgement counts as not covered.
pub const GIVE_UP: Duration = Duration::from_secs(10);

/// The lag over the probes of one load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lag {
    /// Probes acknowledged.
    pub samples: u64,
    /// Of those, the ones not covered within [`GIVE_UP`].
    pub uncovered: u64,
    /// Percentiles and maximum of acknowledgement to coverage; None when they fall on a
    /// probe that was not covered.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// [`GIVE_UP`], in seconds.
    pub give_up_secs: f64,
    /// Failed probes and looks at the database, and the first failure.
    pub errors: u64,
    pub first_error: Option<String>,
}

/// p50, p99 and the maximum of `lags_us` in milliseconds, a lag of None (not covered)
/// ranking above every other; None where such a lag is picked or there is none.
pub fn summarize(lags_us: &[Option<u64>]) -> [Option<f64>; 3] {
    let mut sorted: Vec<u64> = lags_us.iter().map(|l| l.unwrap_or(u64::MAX)).collect();
    sorted.sort_unstable();
    let ms = |us: u64| (us != u64::MAX).then(|| us as f64 / 1000.0);
    let max = sorted.last().copied().and_then(ms);
    if sorted.is_empty() {
        return [None; 3];
    }
    [
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 99.0)),
        max,
    ]
}

/// A probe acknowledged by the server.
#[derive(Debug)]
struct Probe {
    id: Uuid,
    acked: Instant,
}

/// The probe and the watcher, running until [`Sampler::finish`].
#[derive(Debug)]
pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<Lag>>,
}

impl Sampler {
    /// Starts probing `url` (the batch endpoint of `tenant`) with `body`, a batch of one
    /// entry, for at most `limit`.
    pub async fn start(
        target: &Target,
        tenant: Uuid,
        url: String,
        api_key: String,
        body: Vec<u8>,
        limit: Duration,
    ) -> anyhow::Result<Self> {
        let db = target.connect(1).await?;
        let (stop, stopped) = watch::channel(false);
        let (sent, received) = mpsc::unbounded_channel();
        let prober = tokio::spawn(probe(url, api_key, body, limit, stopped, sent));
        let target = target.clone();
        let task = tokio::spawn(async move {
            let outcome = watch_probes(&target, &db, tenant, received).await;
            let (probe_errors, first_probe_error) = prober
                .await
                .map_err(|e| anyhow::anyhow!("the probe panicked: {e}"))?;
            db.close().await.context("cannot close a connection")?;
            let mut lag = outcome;
            lag.errors += probe_errors;
            lag.first_error = first_probe_error.or(lag.first_error);
            Ok(lag)
        });
        Ok(Self { stop, task })
    }

    /// Stops probing and returns the lag once every probe is covered or given up.
    pub async fn finish(self) -> anyhow::Result<Lag> {
        let _ = self.stop.send(true);
        self.task
            .await
            .map_err(|e| anyhow::anyhow!("the checkpoint-lag watcher panicked: {e}"))?
    }
}

/// Posts `body` every [`PROBE_EVERY`] until stopped, [`MAX_PROBES`] or `limit`; sends
/// each acknowledged probe to the watcher. Returns the failures and the first one.
async fn probe(
    url: String,
    api_key: String,
    body: Vec<u8>,
    limit: Duration,
    stopped: watch::Receiver<bool>,
    sent: mpsc::UnboundedSender<Probe>,
) -> (u64, Option<String>) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut errors, mut first_error) = (0, None);
    for _ in 0..MAX_PROBES {
        tick.tick().await;
        // A sampler dropped without `finish` stops its probe too.
        if *stopped.borrow() || stopped.has_changed().is_err() || started.elapsed() > limit {
            break;
        }
        match post(&client, &url, &api_key, &body).await {
            Ok(id) => {
                let _ = sent.send(Probe {
                    id,
                    acked: Instant::now(),
                });
            }
            Err(err) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("a probe: {err:#}"));
            }
        }
    }
    (errors, first_error)
}

/// Posts one probe; returns the id of the entry it stored.
async fn post(
    client: &reqwest::Client,
    url: &str,
    api_key: &str,
    body: &[u8],
) -> anyhow::Result<Uuid> {
    let answer = client
        .post(url)
        .header("apiKey", api_key)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let status = answer.status();
    let text = answer.text().await?;
    if status.as_u16() != 201 {
        anyhow::bail!("auditlog answered {status}: {text}");
    }
    stored_id(&text).with_context(|| format!("no entry id in the answer {text}"))
}

/// The id of the entry a post stored: the answer is the entry, or a batch of them.
fn stored_id(answer: &str) -> Option<Uuid> {
    let value: serde_json::Value = serde_json::from_str(answer).ok()?;
    let entry = match &value {
        serde_json::Value::Array(entries) => entries.last()?,
        entry => entry,
    };
    entry.get("id")?.as_str()?.parse().ok()
}

/// Watches the probes until the probe has stopped and each is covered or given up.
async fn watch_probes(
    target: &Target,
    db: &DatabaseConnection,
    tenant: Uuid,
    mut received: mpsc::UnboundedReceiver<Probe>,
) -> Lag {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut waiting, mut lags): (Vec<Probe>, Vec<Option<u64>>) = (Vec::new(), Vec::new());
    let (mut errors, mut first_error) = (0, None);
    let mut probing = true;
    while probing || !waiting.is_empty() {
        tick.tick().await;
        loop {
            match received.try_recv() {
                Ok(probe) => waiting.push(probe),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    probing = false;
                    break;
                }
            }
        }
        if waiting.is_empty() {
            continue;
        }
        let covered = match covered(target, db, tenant, &waiting).await {
            Ok(covered) => covered,
            Err(err) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{err:#}"));
                HashSet::new()
            }
        };
        let now = Instant::now();
        waiting.retain(|probe| {
            let lag = now.duration_since(probe.acked);
            if covered.contains(&probe.id) {
                lags.push(Some(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX - 1)));
                false
            } else if lag > GIVE_UP {
                lags.push(None);
                false
            } else {
                true
            }
        });
    }
    let [p50_ms, p99_ms, max_ms] = summarize(&lags);
    Lag {
        samples: lags.len() as u64,
        uncovered: lags.iter().filter(|l| l.is_none()).count() as u64,
        p50_ms,
        p99_ms,
        max_ms,
        give_up_secs: GIVE_UP.as_secs_f64(),
        errors,
        first_error,
    }
}

/// The probes' entries that are leaves of the tenant's tree under a checkpoint.
async fn covered(
    target: &Target,
    db: &DatabaseConnection,
    tenant: Uuid,
    probes: &[Probe],
) -> anyhow::Result<HashSet<Uuid>> {
    let placeholders: Vec<String> = (0..probes.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT l.entry_id AS id FROM audit_log_leaves l \
         WHERE l.tenant_id = $1 AND l.entry_id IN ({}) AND EXISTS ( \
           SELECT 1 FROM audit_log_checkpoints c \
           WHERE c.tenant_id = l.tenant_id AND c.size > l.leaf_index)",
        placeholders.join(", ")
    );
    let mut values: Vec<Value> = vec![tenant.into()];
    values.extend(probes.iter().map(|p| Value::from(p.id)));
    let rows = db
        .query_all_raw(target.statement(&sql, values))
        .await
        .context("cannot look up the probes' leaves")?;
    rows.iter()
        .map(|row| {
            row.try_get::<Uuid>("", "id")
                .context("cannot read a leaf's entry id")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_ranks_uncovered_probes_last() {
        let lags: Vec<Option<u64>> = (1..=100).map(|ms| Some(ms * 1000)).collect();
        assert_eq!(summarize(&lags), [Some(51.0), Some(100.0), Some(100.0)]);

        let mut with_one_lost = lags.clone();
        with_one_lost[0] = None;
        assert_eq!(summarize(&with_one_lost), [Some(52.0), None, None]);

        let one = [Some(1500)];
        assert_eq!(summarize(&one), [Some(1.5), Some(1.5), Some(1.5)]);
        assert_eq!(summarize(&[]), [None, None, None]);
        assert_eq!(summarize(&[None, Some(2000)]), [None, None, None]);
    }

    #[test]
    fn reads_the_id_of_an_entry_or_a_batch() {
        let id = "0190d2a4-58a2-7c3e-9b0e-123456789abc";
        let parsed: Uuid = id.parse().expect("valid");
        assert_eq!(
            stored_id(&format!(r#"{{"id":"{id}","type":"x"}}"#)),
            Some(parsed)
        );
        assert_eq!(stored_id(&format!(r#"[{{"id":"{id}"}}]"#)), Some(parsed));
        assert_eq!(stored_id("[]"), None);
        assert_eq!(stored_id(r#"{"id":7}"#), None);
        assert_eq!(stored_id("not json"), None);
    }
}
