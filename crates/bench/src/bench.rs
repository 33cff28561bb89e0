//! What every measurement of one backend uses: the server, the baseline's pool, and
//! the means to run the baseline's load and to wait until both systems are idle.

use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::{
    args::{Args, BackendKind},
    backend::{Interrupt, Target},
    closed_loop,
    server::Server,
    stats::Measurement,
};

/// What every measurement of one backend uses.
#[derive(Debug)]
pub struct Bench<'a> {
    pub args: &'a Args,
    pub target: Target,
    /// The baseline's pool.
    pub db: DatabaseConnection,
    /// Cuts the baseline's statements short at the end of a window.
    pub interrupt: Interrupt,
    /// A connection of its own, for cancelling and watching.
    pub control: DatabaseConnection,
    pub server: Server,
}

impl Bench<'_> {
    /// Runs `op` as the baseline's load at concurrency `c`.
    pub async fn baseline_load<F, Fut>(
        &self,
        c: usize,
        entries_per_request: u64,
        op: F,
    ) -> anyhow::Result<Measurement>
    where
        F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let m = closed_loop::run(c, self.args.secs, entries_per_request, op, || {
            self.interrupt.fire(&self.control)
        })
        .await;
        self.interrupt.clear();
        self.settle().await;
        m
    }

    /// Waits until the server is idle and, on PostgreSQL, no query of the benchmark's
    /// database is still running (at most 60 s each).
    pub async fn settle(&self) {
        self.server.settle().await;
        if self.target.kind != BackendKind::Postgres {
            return;
        }
        let sql = "SELECT COUNT(*) AS n FROM pg_stat_activity \
                   WHERE datname = current_database() AND backend_type = 'client backend' \
                   AND state = 'active' AND pid <> pg_backend_pid()";
        let started = Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            let busy = self
                .control
                .query_one_raw(self.target.statement(sql, vec![]))
                .await
                .ok()
                .flatten()
                .and_then(|row| row.try_get::<i64>("", "n").ok())
                .unwrap_or(0);
            if busy == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
