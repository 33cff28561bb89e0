//! The log's catch-up after seeding: `auditlog seed` queues every entry for the log at
//! its end, and the server's integrator takes them into the tenants' trees once it runs.
//! The scenarios wait until the queue is empty, so that they do not share the machine
//! with that work, and the time it took is reported.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};

use crate::backend::Target;

/// The log's queue: the entries stored but not yet in their tenant's tree.
const QUEUE: &str = "audit_log_pending";
/// How often the queue is asked whether it is empty (a cheap look at its first row).
const POLL: Duration = Duration::from_millis(250);
/// How often the queue is counted, to tell progress from a standstill.
const COUNT_EVERY: Duration = Duration::from_secs(10);
/// A queue that has not shrunk for this long has no integrator behind it.
const STALL: Duration = Duration::from_secs(120);
/// The longest wait.
const LIMIT: Duration = Duration::from_secs(30 * 60);

/// How the log caught up with the seeded entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CatchUp {
    /// The database has no log tables (a server from before the log).
    NoLogTables,
    /// The queue emptied: `entries` were queued when the server started, and the queue
    /// was empty `seconds` later.
    Done { entries: u64, seconds: f64 },
}

impl CatchUp {
    /// Entries taken into the trees a second, when there were any.
    pub fn entries_per_sec(&self) -> Option<f64> {
        match self {
            Self::Done { entries, seconds } if *entries > 0 => {
                Some(*entries as f64 / seconds.max(1e-9))
            }
            _ => None,
        }
    }
}

/// Entries queued for the log, or None when the database has no log tables.
pub async fn queued(target: &Target, db: &DatabaseConnection) -> anyhow::Result<Option<u64>> {
    if !target.has_table(db, QUEUE).await? {
        return Ok(None);
    }
    count(target, db).await.map(Some)
}

async fn count(target: &Target, db: &DatabaseConnection) -> anyhow::Result<u64> {
    let sql = format!("SELECT COUNT(*) AS n FROM {QUEUE}");
    let n: i64 = db
        .query_one_raw(target.statement(&sql, vec![]))
        .await
        .context("cannot count the log's queue")?
        .context("COUNT(*) returned no row")?
        .try_get("", "n")
        .context("cannot read the log's queue count")?;
    Ok(u64::try_from(n).unwrap_or_default())
}

async fn is_empty(target: &Target, db: &DatabaseConnection) -> anyhow::Result<bool> {
    // By the key: the rows at the heap's start are the ones already taken (dead).
    let sql = format!("SELECT seq FROM {QUEUE} ORDER BY seq LIMIT 1");
    let row = db
        .query_one_raw(target.statement(&sql, vec![]))
        .await
        .context("cannot read the log's queue")?;
    Ok(row.is_none())
}

/// Waits until the log's queue is empty; `queued` entries were in it at `started`
/// (just before the server started). Fails when the queue stops shrinking for
/// [`STALL`] or is not empty after [`LIMIT`].
pub async fn wait(
    target: &Target,
    db: &DatabaseConnection,
    queued: u64,
    started: Instant,
) -> anyhow::Result<CatchUp> {
    let kind = target.kind;
    let (mut left, mut shrank, mut counted) = (queued, Instant::now(), Instant::now());
    loop {
        if is_empty(target, db).await? {
            let seconds = started.elapsed().as_secs_f64();
            return Ok(CatchUp::Done {
                entries: queued,
                seconds,
            });
        }
        if started.elapsed() > LIMIT {
            bail!(
                "the log still held {left} queued entries {} minutes after the server started: the integrator is too slow for this dataset",
                LIMIT.as_secs() / 60
            );
        }
        if counted.elapsed() >= COUNT_EVERY {
            counted = Instant::now();
            let now = count(target, db).await?;
            if now < left {
                left = now;
                shrank = Instant::now();
                eprintln!("[{kind}] log: {now} entries still queued");
            } else if shrank.elapsed() > STALL {
                bail!(
                    "the log's queue has not shrunk for {} s ({now} entries queued): the server takes no entries into the log; does it run the integrator, with a signing key (AUDITLOG_SIGNING_KEY_FILE)?",
                    STALL.as_secs()
                );
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_only_when_entries_were_taken() {
        let done = CatchUp::Done {
            entries: 1000,
            seconds: 2.0,
        };
        assert_eq!(done.entries_per_sec(), Some(500.0));
        let nothing = CatchUp::Done {
            entries: 0,
            seconds: 0.1,
        };
        assert_eq!(nothing.entries_per_sec(), None);
        assert_eq!(CatchUp::NoLogTables.entries_per_sec(), None);
    }
}
