//! Each tenant's log: a Merkle tree (RFC 9162) of its entries, with signed checkpoints.
//!
//! A write takes the entries it stores into their tenant's tree in its own transaction
//! ([`sequence`]); the integrator ([`integrate`]) takes in what bulk loads queued and
//! signs, a few times a second, a checkpoint of every tree that has grown; proofs
//! ([`proofs`]) are read from the stored hashes ([`hashes`]).

pub(crate) mod export;
pub(crate) mod hashes;
pub(crate) mod integrate;
pub(crate) mod proofs;
pub(crate) mod sequence;
pub(crate) mod verify;

use std::{collections::HashMap, sync::Arc, time::Duration};

use auditlog_domain::{AuditLog, StoreError, log::LogKey};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{SeaOrmStore, error::db_error, schema::entry};

/// How often the integrator looks for trees that other processes grew.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// The least time between two rounds of the integrator: checkpoints at most a few
/// times a second.
const ROUND_EVERY: Duration = Duration::from_millis(100);
/// Queue rows taken into trees after which the integrator tidies the queue.
const TIDY_AFTER: u64 = 100_000;
/// Ids per `SELECT ... IN (...)` of [`entries_by_id`].
const IDS_PER_QUERY: usize = 1_000;
/// How long the integrator waits after a failed round (the database is away, say).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What signs the checkpoints: the key, and the origin that names the logs (each
/// tenant's log is `<origin>/<tenant id>`).
#[derive(Debug, Clone)]
pub struct LogSigner {
    /// The signing key; it never enters the database.
    pub key: Arc<LogKey>,
    /// The log origin, such as `auditlog` or the service's host name.
    pub origin: String,
}

/// The integrator of a store, running on a task of its own until the store's
/// connections close or [`LogTask::stop`].
#[derive(Debug)]
pub struct LogTask {
    task: tokio::task::JoinHandle<()>,
}

impl LogTask {
    /// Stops the integrator (what is queued stays queued).
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Wakes the integrator after a local write.
#[derive(Debug, Default)]
pub(crate) struct Wake(Notify);

impl Wake {
    pub(crate) fn wrote(&self) {
        self.0.notify_one();
    }
}

impl SeaOrmStore {
    /// Starts taking queued entries into their tenants' trees and signing checkpoints
    /// with `signer`, on a task of its own. Any number of processes may run it on one
    /// database: each tenant's tree is grown by one transaction at a time.
    pub async fn start_log(
        &self,
        signer: LogSigner,
    ) -> Result<LogTask, auditlog_domain::StoreError> {
        proofs::remember_key(self.connection(), &signer.key).await?;
        self.set_signer(signer.clone());
        let store = self.clone();
        let wake = Arc::clone(self.log_wake());
        let task = tokio::spawn(async move {
            let mut untidy = 0;
            loop {
                match round(&store, &signer).await {
                    Ok(taken) => {
                        untidy += taken;
                        if untidy >= TIDY_AFTER {
                            untidy = 0;
                            if let Err(error) = store.tidy_log_queue().await {
                                tracing::warn!(%error, "tidying the log's queue failed");
                            }
                        }
                    }
                    Err(error) => {
                        if store.is_closed() {
                            return;
                        }
                        tracing::warn!(%error, "taking entries into the log failed; trying again");
                        tokio::time::sleep(RETRY_AFTER).await;
                        continue;
                    }
                }
                tokio::time::sleep(ROUND_EVERY).await;
                let _ = tokio::time::timeout(POLL_EVERY, wake.0.notified()).await;
            }
        });
        Ok(LogTask { task })
    }

    /// Takes every queued entry into its tenant's tree now, signing checkpoints as the
    /// integrator does (for tools and tests that run no integrator).
    pub async fn integrate_now(
        &self,
        signer: &LogSigner,
    ) -> Result<(), auditlog_domain::StoreError> {
        round(self, signer).await.map(drop)
    }

    /// Makes the space of the log queue's removed rows reusable (see
    /// [`crate::backend::Backend::tidy_queue`]).
    async fn tidy_log_queue(&self) -> Result<(), auditlog_domain::StoreError> {
        crate::backend::Backend::of(self.connection())?
            .tidy_queue(self.connection())
            .await
    }
}

/// One round: every tenant with queued entries, batch after batch until a batch is not
/// full, then a checkpoint of every tree that has grown. Returns how many queue rows it
/// took.
async fn round(
    store: &SeaOrmStore,
    signer: &LogSigner,
) -> Result<u64, auditlog_domain::StoreError> {
    let mut taken = 0;
    for tenant_id in integrate::tenants_with_pending(store.connection()).await? {
        loop {
            let batch = integrate::integrate(store, tenant_id).await?;
            taken += batch;
            if batch < integrate::BATCH {
                break;
            }
        }
    }
    integrate::sign_grown(store.connection(), signer).await?;
    Ok(taken)
}

/// The stored entries among `ids` that `matching` (which names their tenant) holds, by
/// id, read [`IDS_PER_QUERY`] ids a query.
pub(crate) async fn entries_by_id<C: ConnectionTrait>(
    conn: &C,
    matching: Condition,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, AuditLog>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = entry::Entity::find()
            .filter(matching.clone())
            .filter(entry::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await
            .map_err(db_error)?;
        for row in rows {
            let entry = row.into_entry()?;
            found.insert(entry.id, entry);
        }
    }
    Ok(found)
}
