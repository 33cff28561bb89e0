//! Bulk loading: many entries at a time with the guarantees of `append` that matter for
//! loading (validation, ids stored once, exact daily counts, the search terms) but
//! without reading anything back. For demos, benchmarks and migrations of old logs.

use std::time::{Duration, Instant};

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::{append::insert_new, txn::WriteTxn};
use crate::{
    SeaOrmStore,
    backend::{Backend, Load, Rebuild, shared},
    schema::{entry, now},
};

impl SeaOrmStore {
    /// Stores `entries` in `tenant_id` in one transaction and returns how many were new.
    /// An id already stored is skipped whatever its content (`append` reports
    /// conflicts); any invalid entry fails the whole call, naming its index.
    pub async fn import(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<u64, StoreError> {
        let stored = prepare(tenant_id, entries)?;
        if stored.is_empty() {
            return Ok(0);
        }
        let txn = WriteTxn::begin(self).await?;
        let result = insert_new(&*txn, tenant_id, stored.iter(), Some(self.known_terms())).await;
        let (inserted, learned) = txn.end(result).await?;
        self.known_terms().learn(learned);
        Ok(inserted.len() as u64)
    }

    /// Starts a bulk load of many batches, possibly of many tenants.
    ///
    /// Into a store without entries, the whole load is one transaction that holds the
    /// entries table to itself (readers and writers wait until it ends): the indexes
    /// are dropped, the rows inserted as they are, and the indexes, daily counts and
    /// search terms built from the rows at [`BulkImport::finish`]. That is many times
    /// faster than maintaining them row by row. An id given twice then fails the whole
    /// load, when the primary key is built again; nothing is stored.
    ///
    /// Into a store that holds entries already, each batch is an [`SeaOrmStore::import`]
    /// of its own, and others may read and write meanwhile.
    pub async fn bulk_import(&self) -> Result<BulkImport, StoreError> {
        let turn = self.writer_turn().await;
        let mut txn = Backend::of(self.connection())?
            .begin_load(self.connection())
            .await?;
        let any = match txn.holds_entries().await {
            Ok(any) => any,
            Err(err) => {
                txn.rollback().await;
                return Err(err);
            }
        };
        if any {
            txn.rollback().await;
            drop(turn);
            return Ok(BulkImport {
                store: self.clone(),
                mode: Mode::Batches,
                stored: 0,
            });
        }
        // The load removes the search terms.
        self.known_terms().forget();
        match rebuild_start(txn.as_mut()).await {
            Ok(rebuild) => Ok(BulkImport {
                store: self.clone(),
                mode: Mode::Rebuild {
                    txn,
                    rebuild,
                    _turn: turn,
                },
                stored: 0,
            }),
            Err(err) => {
                txn.rollback().await;
                Err(err)
            }
        }
    }
}

/// A bulk load begun by [`SeaOrmStore::bulk_import`]: [`BulkImport::add`] the batches,
/// then [`BulkImport::finish`]. Into an empty store, the first error ends the load
/// and stores nothing of it (later calls fail too), and so does dropping it unfinished.
pub struct BulkImport {
    store: SeaOrmStore,
    mode: Mode,
    stored: u64,
}

impl std::fmt::Debug for BulkImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkImport")
            .field("rebuilds_indexes", &self.rebuilds_indexes())
            .field("stored", &self.stored)
            .finish_non_exhaustive()
    }
}

enum Mode {
    /// One transaction, indexes built at the end by these statements.
    Rebuild {
        txn: Box<dyn Load>,
        rebuild: Vec<Rebuild>,
        _turn: Option<OwnedMutexGuard<()>>,
    },
    /// A transaction per batch.
    Batches,
    /// A load into an empty store that failed and was rolled back.
    Failed,
}

impl BulkImport {
    /// Whether the load builds the indexes at its end (the store held no entries).
    pub fn rebuilds_indexes(&self) -> bool {
        matches!(self.mode, Mode::Rebuild { .. })
    }

    /// Adds a batch of `tenant_id`'s entries; returns how many of them are new. Any
    /// invalid entry fails the call, naming its index in the batch.
    pub async fn add(
        &mut self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<u64, StoreError> {
        let added = match &mut self.mode {
            Mode::Batches => self.store.import(tenant_id, entries).await?,
            Mode::Failed => return Err(failed()),
            Mode::Rebuild { txn, .. } => {
                let rows = prepare(tenant_id, entries).and_then(|stored| {
                    stored
                        .iter()
                        .map(entry::Model::from_entry)
                        .collect::<Result<Vec<_>, _>>()
                });
                let added = match rows {
                    Ok(rows) if rows.is_empty() => Ok(0),
                    Ok(rows) => txn.insert_rows(&rows).await,
                    Err(err) => Err(err),
                };
                match added {
                    Ok(added) => added,
                    Err(err) => {
                        // The whole load is one transaction: it ends here, and the
                        // store is free for others at once.
                        if let Mode::Rebuild { txn, .. } =
                            std::mem::replace(&mut self.mode, Mode::Failed)
                        {
                            txn.rollback().await;
                        }
                        return Err(err);
                    }
                }
            }
        };
        self.stored += added;
        Ok(added)
    }

    /// Ends the load (building the indexes, counts and search terms when it builds
    /// them) and returns how many entries it stored.
    pub async fn finish(self) -> Result<u64, StoreError> {
        self.finish_timed().await.map(|(stored, _)| stored)
    }

    /// [`BulkImport::finish`], also telling how long each step of the building took
    /// when the load built the indexes.
    pub async fn finish_timed(self) -> Result<(u64, Option<BuildTimes>), StoreError> {
        let (mut txn, rebuild, _turn) = match self.mode {
            Mode::Rebuild {
                txn,
                rebuild,
                _turn,
            } => (txn, rebuild, _turn),
            Mode::Batches => return Ok((self.stored, None)),
            Mode::Failed => return Err(failed()),
        };
        tracing::debug!(entries = self.stored, "entries inserted, building indexes");
        let mut times = match rebuild_finish(txn.as_mut(), &rebuild).await {
            Ok(times) => times,
            Err(err) => {
                txn.rollback().await;
                return Err(err);
            }
        };
        let started = Instant::now();
        txn.commit().await?;
        times.commit = started.elapsed();
        self.store.wrote();
        drop(_turn);
        let db = self.store.connection();
        times.vacuum = Backend::of(db)?.after_load(db).await;
        Ok((self.stored, Some(times)))
    }
}

/// How long each step of the building at the end of a load into an empty store took.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BuildTimes {
    /// The entries' primary key and other indexes.
    pub indexes: Duration,
    /// The daily counts (and the log's queue).
    pub counts: Duration,
    /// The search terms and their indexes (on PostgreSQL, with the address suffixes).
    pub terms: Duration,
    /// The commit (on SQLite, with the checkpoint that copies the WAL into the file).
    pub commit: Duration,
    /// `VACUUM ANALYZE` after the commit, on PostgreSQL.
    pub vacuum: Option<Duration>,
}

impl std::fmt::Display for BuildTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "indexes {:.1} s, daily counts {:.1} s, search terms {:.1} s, commit {:.1} s",
            self.indexes.as_secs_f64(),
            self.counts.as_secs_f64(),
            self.terms.as_secs_f64(),
            self.commit.as_secs_f64()
        )?;
        if let Some(vacuum) = self.vacuum {
            write!(f, ", VACUUM ANALYZE {:.1} s", vacuum.as_secs_f64())?;
        }
        Ok(())
    }
}

fn failed() -> StoreError {
    StoreError::Backend("the bulk load failed earlier; nothing of it was stored".into())
}

/// Validates a batch; an id given twice in it is kept once.
fn prepare(tenant_id: Uuid, entries: Vec<NewAuditLog>) -> Result<Vec<AuditLog>, StoreError> {
    let now = now();
    Ok(prepare_batch(entries, now)?
        .into_iter()
        .filter(|(_, duplicate_of)| duplicate_of.is_none())
        .map(|(entry, _)| entry.into_entry(tenant_id, now))
        .collect())
}

/// Empties what describes the (empty) entries table and drops the indexes that the
/// load would otherwise maintain row by row; returns the statements that build them
/// again, in the order to run them (primary keys first).
async fn rebuild_start(txn: &mut dyn Load) -> Result<Vec<Rebuild>, StoreError> {
    let tables = txn.clear_derived().await?;
    let mut rebuild = Vec::new();
    for &table in tables {
        for (drop, create) in txn.indexes_of(table).await? {
            txn.execute(&drop).await?;
            rebuild.push(Rebuild { table, create });
        }
    }
    // Dropped plain indexes first; built again the other way round.
    rebuild.reverse();
    Ok(rebuild)
}

/// Builds the indexes again, then the daily counts and search terms from the rows,
/// under the backend's settings for building.
async fn rebuild_finish(txn: &mut dyn Load, rebuild: &[Rebuild]) -> Result<BuildTimes, StoreError> {
    let (settings, undo) = txn.build_settings();
    for setting in &settings {
        txn.execute(setting).await?;
    }
    let built = build(txn, rebuild).await;
    let mut undone = Ok(());
    for setting in &undo {
        if undone.is_ok() {
            undone = txn.execute(setting).await;
        }
    }
    let times = built?;
    undone?;
    Ok(times)
}

/// The index builds, counts and terms of [`rebuild_finish`].
async fn build(txn: &mut dyn Load, rebuild: &[Rebuild]) -> Result<BuildTimes, StoreError> {
    let (entries, terms): (Vec<&Rebuild>, Vec<&Rebuild>) =
        rebuild.iter().partition(|r| r.table == "audit_logs");
    let mut times = BuildTimes::default();
    let started = Instant::now();
    for index in entries {
        let started = Instant::now();
        txn.execute(&index.create).await?;
        tracing::debug!(index = %index.create, seconds = started.elapsed().as_secs_f64(), "index built");
    }
    times.indexes = started.elapsed();
    let started = Instant::now();
    txn.execute(&shared::counts_of_entries()).await?;
    // The log takes the entries from its queue in the background.
    txn.execute(shared::PENDING_OF_ENTRIES).await?;
    times.counts = started.elapsed();
    let started = Instant::now();
    txn.execute(&shared::insert_terms(&txn.terms_of_entries()))
        .await?;
    // The terms' indexes last, over all the terms at once (and the index of the address
    // suffixes that the terms' trigger wrote).
    for index in terms {
        txn.execute(&index.create).await?;
    }
    times.terms = started.elapsed();
    tracing::debug!(%times, "indexes, counts and search terms built");
    Ok(times)
}
