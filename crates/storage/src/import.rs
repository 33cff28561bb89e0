//! Bulk loading: many entries at a time with the guarantees of `append` that matter for
//! loading (validation, ids stored once, exact daily counts, the search terms) but
//! without reading anything back. For demos, benchmarks and migrations of old logs.

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use auditlog_migrations::{day_sql, person_terms_of_sql, terms_of_sql};
use sea_orm::{
    ConnectionTrait, DbBackend, TransactionTrait, Value,
    sea_query::Values,
    sqlx::{self, AssertSqlSafe, Postgres, Row as _, Sqlite},
};
use sea_query_sqlx::SqlxValues;
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::{
    SeaOrmStore,
    append::insert_new,
    columns,
    convert::{entry_to_row, now},
    copy,
    entity::audit_log,
    error::{db_error, sqlx_error},
};

/// Rows per SQLite `INSERT` of a bulk load: 15 parameters each stays below SQLite's
/// limit of 32766.
const SQLITE_BULK_ROWS: usize = 2000;

/// Rows per message of a bulk load's `COPY` on PostgreSQL (about half a megabyte).
const COPY_PART_ROWS: usize = 1000;

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
        match insert_new(&txn, tenant_id, stored.iter(), Some(self.known_terms())).await {
            Ok((inserted, learned)) => {
                txn.commit().await.map_err(db_error)?;
                self.wrote();
                self.known_terms().learn(learned);
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
        let conn = self.connection();
        let mut txn = if conn.get_database_backend() == DbBackend::Postgres {
            // sqlx's own transaction: the rows go in by COPY, which SeaORM cannot issue.
            let mut txn = conn
                .get_postgres_connection_pool()
                .begin()
                .await
                .map_err(sqlx_error)?;
            sqlx::raw_sql("LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *txn)
                .await
                .map_err(sqlx_error)?;
            LoadTxn::Postgres(txn)
        } else {
            // sqlx's own transaction, for statements prepared once and bound without
            // copies. IMMEDIATE: SQLite's write lock now, so that nothing writes between
            // the look at the table and the load.
            LoadTxn::Sqlite(
                conn.get_sqlite_connection_pool()
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(sqlx_error)?,
            )
        };
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
        match rebuild_start(&mut txn).await {
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

/// The transaction of a load into an empty store, sqlx's own (SeaORM can neither
/// `COPY` nor bind values without copying them). The statements it runs are built from
/// constants and from the database's own catalog, never from entries; the entries are
/// bound as parameters.
enum LoadTxn {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl LoadTxn {
    async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        let sql = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()));
        match self {
            LoadTxn::Sqlite(txn) => sql.execute(&mut **txn).await.map(drop),
            LoadTxn::Postgres(txn) => sql.execute(&mut **txn).await.map(drop),
        }
        .map_err(sqlx_error)
    }

    /// Whether the entries table holds a row.
    async fn holds_entries(&mut self) -> Result<bool, StoreError> {
        const ANY: &str = "SELECT 1 AS one FROM audit_logs LIMIT 1";
        let found = match self {
            LoadTxn::Sqlite(txn) => sqlx::query(ANY)
                .fetch_optional(&mut **txn)
                .await
                .map(|r| r.is_some()),
            LoadTxn::Postgres(txn) => sqlx::query(ANY)
                .fetch_optional(&mut **txn)
                .await
                .map(|r| r.is_some()),
        };
        found.map_err(sqlx_error)
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            LoadTxn::Sqlite(txn) => txn.commit().await.map_err(sqlx_error),
            LoadTxn::Postgres(txn) => txn.commit().await.map_err(sqlx_error),
        }
    }

    /// Rolls back; a failure to do so ends the connection, and the error that led here
    /// is the one to report.
    async fn rollback(self) {
        let failed = match self {
            LoadTxn::Sqlite(txn) => txn.rollback().await.err().map(|e| e.to_string()),
            LoadTxn::Postgres(txn) => txn.rollback().await.err().map(|e| e.to_string()),
        };
        if let Some(error) = failed {
            tracing::warn!(%error, "rolling back a bulk load failed");
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
        txn: LoadTxn,
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
        let mut times = match rebuild_finish(&mut txn, &rebuild).await {
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
        let conn = self.store.connection();
        if conn.get_database_backend() == DbBackend::Postgres {
            let started = Instant::now();
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
            times.vacuum = Some(started.elapsed());
        }
        Ok((self.stored, Some(times)))
    }
}

/// How long each step of the building at the end of a load into an empty store took.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BuildTimes {
    /// The entries' primary key and other indexes.
    pub indexes: Duration,
    /// The daily counts.
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

/// Inserts rows as they are (no conflict handling, no counts, no terms): by binary
/// `COPY` on PostgreSQL, by multi-row `INSERT OR FAIL`s on SQLite ([`columns::sqlite_insert`]).
async fn insert_plain(txn: &mut LoadTxn, rows: Vec<audit_log::Model>) -> Result<u64, StoreError> {
    let n = rows.len() as u64;
    if rows.is_empty() {
        return Ok(0);
    }
    match txn {
        LoadTxn::Postgres(txn) => {
            let mut copy = txn
                .copy_in_raw(copy::COPY_ENTRIES)
                .await
                .map_err(sqlx_error)?;
            // In parts: PostgreSQL stores one part while the next is encoded.
            let mut sent = copy.send(copy::header()).await.map(drop);
            for part in rows.chunks(COPY_PART_ROWS) {
                if sent.is_err() {
                    break;
                }
                sent = copy.send(copy::entries(part)).await.map(drop);
            }
            if let Err(err) = sent {
                let _ = copy.abort("the load failed").await;
                return Err(sqlx_error(err));
            }
            copy.send(copy::TRAILER.as_slice())
                .await
                .map_err(sqlx_error)?;
            copy.finish().await.map_err(sqlx_error)
        }
        LoadTxn::Sqlite(txn) => {
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let chunk: Vec<Value> = rows
                    .by_ref()
                    .take(SQLITE_BULK_ROWS)
                    .flat_map(columns::values)
                    .collect();
                // Built from constants only, and prepared once by the connection.
                let sql = columns::sqlite_insert(chunk.len() / columns::ENTRY_FIELDS, "");
                let insert = sqlx::query_with(AssertSqlSafe(sql), SqlxValues(Values(chunk)));
                insert.execute(&mut **txn).await.map_err(sqlx_error)?;
            }
            Ok(n)
        }
    }
}

/// A statement that builds an index again, and the table it belongs to.
struct Rebuild {
    table: &'static str,
    create: String,
}

/// The catalog's indexes of a PostgreSQL table, as statements that drop them and build
/// them again: plain indexes first, then the primary key (whose index the plain ones do
/// not need).
const POSTGRES_INDEXES: &str = "SELECT format('DROP INDEX %I.%I', n.nspname, c.relname) AS drop_sql, \
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
    ORDER BY step";

impl LoadTxn {
    /// The statements that drop and build again the indexes of `table` that a load
    /// maintains row by row (on SQLite, all but the table's own primary key).
    async fn indexes_of(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        match self {
            LoadTxn::Postgres(txn) => sqlx::query(POSTGRES_INDEXES)
                .bind(table)
                .fetch_all(&mut **txn)
                .await
                .map_err(sqlx_error)?
                .into_iter()
                .map(|row| Ok((row.try_get("drop_sql")?, row.try_get("create_sql")?)))
                .collect::<Result<_, sqlx::Error>>()
                .map_err(sqlx_error),
            LoadTxn::Sqlite(txn) => sqlx::query(
                "SELECT name, sql FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            )
            .bind(table)
            .fetch_all(&mut **txn)
            .await
            .map_err(sqlx_error)?
            .into_iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let drop = format!("DROP INDEX \"{}\"", name.replace('"', "\"\""));
                Ok((drop, row.try_get("sql")?))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sqlx_error),
        }
    }
}

/// Empties what describes the (empty) entries table and drops the indexes that the
/// load would otherwise maintain row by row; returns the statements that build them
/// again. The statements come from the database's own catalog, as it would dump them.
async fn rebuild_start(txn: &mut LoadTxn) -> Result<Vec<Rebuild>, StoreError> {
    let postgres = matches!(txn, LoadTxn::Postgres(_));
    // Counts and terms of a table without entries can only be stale.
    txn.execute("DELETE FROM audit_log_counts").await?;
    txn.execute("DELETE FROM audit_log_terms").await?;
    let tables: &[&'static str] = if postgres {
        // The address suffixes follow the terms (a trigger of theirs writes them).
        txn.execute("DELETE FROM audit_log_ip_suffixes").await?;
        // Writers that remember terms offer them all again from now on (the sequence
        // moves at once, whatever becomes of this transaction).
        txn.execute("SELECT nextval('audit_log_terms_epoch')")
            .await?;
        // The table is empty; emptied in this transaction, it takes rows written
        // frozen by COPY FREEZE.
        txn.execute("TRUNCATE audit_logs").await?;
        &POSTGRES_REBUILT
    } else {
        txn.execute("DELETE FROM audit_log_terms_search").await?;
        &["audit_logs"]
    };
    let mut rebuild = Vec::new();
    for &table in tables {
        for (drop, create) in txn.indexes_of(table).await? {
            txn.execute(&drop).await?;
            rebuild.push(Rebuild { table, create });
        }
    }
    if postgres {
        // Primary keys first when building again.
        rebuild.reverse();
    }
    Ok(rebuild)
}

/// Builds the indexes again, then the daily counts and search terms from the rows.
async fn rebuild_finish(txn: &mut LoadTxn, rebuild: &[Rebuild]) -> Result<BuildTimes, StoreError> {
    if let LoadTxn::Postgres(_) = txn {
        // Index builds and the grouping of terms in memory rather than on disk; for
        // this transaction only.
        for setting in [
            "SET LOCAL maintenance_work_mem = '512MB'",
            "SET LOCAL work_mem = '256MB'",
        ] {
            txn.execute(setting).await?;
        }
        return build(txn, rebuild).await;
    }
    // SQLite sorts the keys of an index on helper threads when allowed to; the setting
    // belongs to the (pooled) connection, so it goes back to the default afterwards.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    txn.execute(&format!("PRAGMA threads = {threads}")).await?;
    let built = build(txn, rebuild).await;
    let reset = txn.execute("PRAGMA threads = 0").await;
    let times = built?;
    reset?;
    Ok(times)
}

/// The index builds, counts and terms of [`rebuild_finish`].
async fn build(txn: &mut LoadTxn, rebuild: &[Rebuild]) -> Result<BuildTimes, StoreError> {
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
    txn.execute(&format!(
        "INSERT INTO audit_log_counts (tenant_id, day, entries) \
         SELECT tenant_id, {day}, COUNT(*) FROM audit_logs GROUP BY 1, 2",
        day = day_sql()
    ))
    .await?;
    times.counts = started.elapsed();
    let started = Instant::now();
    let terms_of_entries = match txn {
        LoadTxn::Postgres(_) => terms_of_sql("audit_logs"),
        // One row an address, found through the index of address keys that was just
        // built, instead of grouping every row by its text (seven times faster): a key
        // is the address's own bytes, so one key is one text.
        LoadTxn::Sqlite(_) => format!(
            "SELECT tenant_id, 0, meta_source_ip, ip_key FROM audit_logs \
             WHERE rowid IN (SELECT min(rowid) FROM audit_logs GROUP BY tenant_id, ip_key) \
             UNION ALL {}",
            person_terms_of_sql("audit_logs")
        ),
    };
    txn.execute(&format!(
        "INSERT INTO audit_log_terms (tenant_id, field, value, key) {terms_of_entries}"
    ))
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
