//! Bulk loading: many entries at a time with the guarantees of `append` that matter for
//! loading (validation, ids stored once, exact daily counts, the search terms) but
//! without reading anything back. For demos, benchmarks and migrations of old logs.

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use auditlog_migrations::{day_sql, terms_of_sql};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::{
    SeaOrmStore,
    append::{POSTGRES_BULK_INSERT, insert_new, postgres_arrays},
    convert::{entry_to_row, now},
    entity::audit_log,
    error::db_error,
};

/// Rows per SQLite `INSERT` of a bulk load: 15 parameters each stays below SQLite's
/// limit of 32766.
const SQLITE_BULK_ROWS: usize = 2000;

/// The tables whose indexes a bulk load into an empty table builds afresh at its end,
/// on PostgreSQL (on SQLite, the entries' only).
const POSTGRES_REBUILT: [&str; 3] = ["audit_logs", "audit_log_terms", "audit_log_ip_suffixes"];

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
        let _turn = self.writer_turn().await;
        let txn = self.connection().begin().await.map_err(db_error)?;
        match insert_new(&txn, tenant_id, stored.iter()).await {
            Ok(inserted) => {
                txn.commit().await.map_err(db_error)?;
                Ok(inserted.len() as u64)
            }
            Err(err) => {
                let _ = txn.rollback().await;
                Err(err)
            }
        }
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
        // IMMEDIATE: SQLite's write lock now, so that nothing writes between the look
        // at the table and the load.
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = self
            .connection()
            .begin_with_options(options)
            .await
            .map_err(db_error)?;
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres {
            txn.execute_unprepared("LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE")
                .await
                .map_err(db_error)?;
        }
        let any = txn
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT 1 AS one FROM audit_logs LIMIT 1",
            ))
            .await
            .map_err(db_error)?;
        if any.is_some() {
            txn.rollback().await.map_err(db_error)?;
            drop(turn);
            return Ok(BulkImport {
                store: self.clone(),
                mode: Mode::Batches,
                stored: 0,
            });
        }
        match rebuild_start(&txn).await {
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
                let _ = txn.rollback().await;
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
        txn: DatabaseTransaction,
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
        let added = match &self.mode {
            Mode::Batches => self.store.import(tenant_id, entries).await?,
            Mode::Failed => return Err(failed()),
            Mode::Rebuild { txn, .. } => {
                let rows = prepare(tenant_id, entries).and_then(|stored| {
                    stored
                        .iter()
                        .map(entry_to_row)
                        .collect::<Result<Vec<_>, _>>()
                });
                let added = match rows {
                    Ok(rows) => insert_plain(txn, rows).await,
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
                            let _ = txn.rollback().await;
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
        let (txn, rebuild, _turn) = match self.mode {
            Mode::Rebuild {
                txn,
                rebuild,
                _turn,
            } => (txn, rebuild, _turn),
            Mode::Batches => return Ok(self.stored),
            Mode::Failed => return Err(failed()),
        };
        tracing::debug!(entries = self.stored, "entries inserted, building indexes");
        if let Err(err) = rebuild_finish(&txn, &rebuild).await {
            let _ = txn.rollback().await;
            return Err(err);
        }
        txn.commit().await.map_err(db_error)?;
        drop(_turn);
        let conn = self.store.connection();
        if conn.get_database_backend() == DbBackend::Postgres {
            tracing::debug!("committed; vacuuming");
            // Statistics for the planner, and the visibility map that lets counts and
            // deep pages read the indexes alone. Outside the transaction, as VACUUM must.
            // The entries are stored by now: a failure here only leaves the work to
            // autovacuum, and must not report the load as failed.
            if let Err(err) = conn
                .execute_unprepared(
                    "VACUUM (ANALYZE) audit_logs, audit_log_terms, audit_log_ip_suffixes, audit_log_counts",
                )
                .await
            {
                tracing::warn!(error = %err, "VACUUM ANALYZE after a bulk load failed; autovacuum will do it");
            }
        }
        Ok(self.stored)
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

/// Inserts rows as they are (no conflict handling, no counts, no terms).
async fn insert_plain(
    txn: &DatabaseTransaction,
    rows: Vec<audit_log::Model>,
) -> Result<u64, StoreError> {
    let n = rows.len() as u64;
    if rows.is_empty() {
        return Ok(0);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            POSTGRES_BULK_INSERT,
            postgres_arrays(&rows),
        );
        txn.execute_raw(statement).await.map_err(db_error)?;
        return Ok(n);
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<audit_log::ActiveModel> = rows
            .by_ref()
            .take(SQLITE_BULK_ROWS)
            .map(Into::into)
            .collect();
        audit_log::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await
            .map_err(db_error)?;
    }
    Ok(n)
}

/// A statement that builds an index again, and the table it belongs to.
struct Rebuild {
    table: &'static str,
    create: String,
}

/// Empties what describes the (empty) entries table and drops the indexes that the
/// load would otherwise maintain row by row; returns the statements that build them
/// again. The statements come from the database's own catalog, as it would dump them.
async fn rebuild_start(txn: &DatabaseTransaction) -> Result<Vec<Rebuild>, StoreError> {
    let backend = txn.get_database_backend();
    let mut rebuild = Vec::new();
    // Counts and terms of a table without entries can only be stale.
    txn.execute_unprepared("DELETE FROM audit_log_counts")
        .await
        .map_err(db_error)?;
    txn.execute_unprepared("DELETE FROM audit_log_terms")
        .await
        .map_err(db_error)?;
    match backend {
        DbBackend::Postgres => {
            // The address suffixes follow the terms (a trigger of theirs writes them).
            txn.execute_unprepared("DELETE FROM audit_log_ip_suffixes")
                .await
                .map_err(db_error)?;
            for table in POSTGRES_REBUILT {
                // Plain indexes first, then the primary key (whose index the plain ones
                // do not need); built again in the opposite order.
                let rows = txn
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT format('DROP INDEX %I.%I', n.nspname, c.relname) AS drop_sql, \
                                pg_get_indexdef(i.indexrelid) AS create_sql, 0 AS step \
                         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                           JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE i.indrelid = $1::regclass \
                           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
                         UNION ALL \
                         SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname), \
                                format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, \
                                       pg_get_constraintdef(k.oid)), 1 \
                         FROM pg_constraint k WHERE k.conrelid = $1::regclass AND k.contype = 'p' \
                         ORDER BY step",
                        [table.into()],
                    ))
                    .await
                    .map_err(db_error)?;
                for row in rows {
                    let drop: String = row.try_get("", "drop_sql").map_err(db_error)?;
                    let create: String = row.try_get("", "create_sql").map_err(db_error)?;
                    txn.execute_unprepared(&drop).await.map_err(db_error)?;
                    rebuild.push(Rebuild { table, create });
                }
            }
            rebuild.reverse();
        }
        _ => {
            txn.execute_unprepared("DELETE FROM audit_log_terms_search")
                .await
                .map_err(db_error)?;
            // SQLite keeps the primary key (a table's own index); the others go.
            let rows = txn
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT name, sql FROM sqlite_master \
                     WHERE type = 'index' AND tbl_name = 'audit_logs' AND sql IS NOT NULL",
                ))
                .await
                .map_err(db_error)?;
            for row in rows {
                let name: String = row.try_get("", "name").map_err(db_error)?;
                let create: String = row.try_get("", "sql").map_err(db_error)?;
                let drop = format!("DROP INDEX \"{}\"", name.replace('"', "\"\""));
                txn.execute_unprepared(&drop).await.map_err(db_error)?;
                rebuild.push(Rebuild {
                    table: "audit_logs",
                    create,
                });
            }
        }
    }
    Ok(rebuild)
}

/// Builds the indexes again, then the daily counts and search terms from the rows.
async fn rebuild_finish(txn: &DatabaseTransaction, rebuild: &[Rebuild]) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        // Index builds and the grouping of terms in memory rather than on disk; for
        // this transaction only.
        for setting in [
            "SET LOCAL maintenance_work_mem = '512MB'",
            "SET LOCAL work_mem = '256MB'",
        ] {
            txn.execute_unprepared(setting).await.map_err(db_error)?;
        }
    }
    let (entries, terms): (Vec<&Rebuild>, Vec<&Rebuild>) =
        rebuild.iter().partition(|r| r.table == "audit_logs");
    for index in entries {
        let started = std::time::Instant::now();
        txn.execute_unprepared(&index.create)
            .await
            .map_err(db_error)?;
        tracing::debug!(index = %index.create, seconds = started.elapsed().as_secs_f64(), "index built");
    }
    let started = std::time::Instant::now();
    txn.execute_unprepared(&format!(
        "INSERT INTO audit_log_counts (tenant_id, day, entries) \
         SELECT tenant_id, {day}, COUNT(*) FROM audit_logs GROUP BY 1, 2",
        day = day_sql()
    ))
    .await
    .map_err(db_error)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "daily counts built"
    );
    let started = std::time::Instant::now();
    txn.execute_unprepared(&format!(
        "INSERT INTO audit_log_terms (tenant_id, field, value, key) {}",
        terms_of_sql("audit_logs")
    ))
    .await
    .map_err(db_error)?;
    // The terms' indexes last, over all the terms at once (and the index of the address
    // suffixes that the terms' trigger wrote).
    for index in terms {
        txn.execute_unprepared(&index.create)
            .await
            .map_err(db_error)?;
    }
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "search terms built"
    );
    Ok(())
}
