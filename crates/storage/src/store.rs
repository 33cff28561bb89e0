//! [`SeaOrmStore`]: connecting to SQLite or PostgreSQL, migrating, and the
//! [`AuditLogStore`] port.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::sync::{Mutex, mpsc};

use async_trait::async_trait;
use auditlog_domain::{AuditLog, AuditLogFilter, AuditLogStore, NewAuditLog, Page, StoreError};
use auditlog_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    IsolationLevel, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use uuid::Uuid;

use crate::{append::append_with, error::db_error, list::list_in, terms::KnownTerms};

/// How long a SQLite connection waits for another connection's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The WAL pages after which a write to a SQLite file copies the WAL into the file
/// itself (SQLite's default is 1000): a bound on the WAL should the checkpoints of
/// [`checkpointer`] fall behind.
const WRITER_AUTOCHECKPOINT: &str = "10000";
/// The least time between two checkpoints of [`checkpointer`].
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most connections the pool opens (an in-memory SQLite database uses one).
    pub max_connections: u32,
    /// How long a request waits for a free connection before it fails as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    /// 10 connections; 10 seconds to wait for one.
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The store of entries, tenants and keys in SQLite or PostgreSQL. Cheap to clone: the
/// clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// SQLite has one writer at a time; its writers queue here, in order, instead of
    /// polling for the lock (which lets some wait past the busy timeout under load).
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Told of each write to a SQLite file, after its commit: see [`checkpointer`].
    checkpoints: Option<mpsc::Sender<()>>,
    /// The search terms known to be stored, shared by the clones.
    known_terms: Arc<KnownTerms>,
}

impl SeaOrmStore {
    /// Connects to the database that `url` names and brings its schema up to date.
    ///
    /// `sqlite://path/to/file.db` (the file is created when missing unless the URL sets
    /// `mode=`), `sqlite::memory:`, or `postgres://...` / `postgresql://...`. SQLite
    /// connections use WAL with `synchronous=FULL`, so a committed batch survives a crash
    /// of the machine, and wait up to 5 seconds for a lock.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let scheme = url
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let mut connect = ConnectOptions::new(url);
        connect
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .sqlx_logging(false);
        let file = match scheme.as_deref() {
            Some("sqlite") => configure_sqlite(&mut connect, url),
            Some("postgres" | "postgresql") => {
                configure_postgres(&mut connect);
                false
            }
            _ => {
                return Err(StoreError::Backend(
                    "unsupported database URL: use sqlite://..., postgres://... or postgresql://...".to_owned(),
                ));
            }
        };
        // The URL may hold a password; an error message must not.
        let hide_url = |err| match db_error(err) {
            StoreError::Unavailable(message) => {
                StoreError::Unavailable(message.replace(url, "<database url>"))
            }
            StoreError::Backend(message) => {
                StoreError::Backend(message.replace(url, "<database url>"))
            }
            other => other,
        };
        let db = Database::connect(connect).await.map_err(hide_url)?;
        let mut store = Self::from_connection(db);
        if file {
            store.checkpoints = Some(checkpointer(store.db.clone()));
        }
        store.migrate().await?;
        Ok(store)
    }

    /// A store on a connection made elsewhere (SQLite or PostgreSQL). Does not migrate;
    /// call [`SeaOrmStore::migrate`] unless the schema is known to be current.
    pub fn from_connection(db: DatabaseConnection) -> Self {
        let sqlite_writer =
            (db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Self {
            db,
            sqlite_writer,
            checkpoints: None,
            known_terms: Arc::default(),
        }
    }

    /// Waits for this store's turn to write (SQLite), or at once (PostgreSQL). The turn
    /// is owned, so that work which outlives a borrow of the store (a bulk load) can
    /// hold it.
    pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.sqlite_writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        }
    }

    /// The connection, for example to begin a transaction for [`crate::append_in`].
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Tells the checkpointer, if any, that a write has committed.
    pub(crate) fn wrote(&self) {
        if let Some(checkpoints) = &self.checkpoints {
            // Full: a checkpoint is due already, and will copy this write too.
            let _ = checkpoints.try_send(());
        }
    }

    /// The search terms known to be stored.
    pub(crate) fn known_terms(&self) -> &KnownTerms {
        &self.known_terms
    }

    /// Closes the store's connections: every later call fails as unavailable.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.db.close_by_ref().await.map_err(db_error)
    }

    /// Applies the migrations that the database lacks.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await.map_err(db_error)
    }
}

/// Settings for every pooled connection: each execution of a prepared statement is
/// planned for its own values. A plan made once for any values cannot tell a tenant of
/// a million entries from one of a hundred, nor a rare search term from a common one,
/// and picks scans that take many times longer than the query planned with its values.
fn configure_postgres(connect: &mut ConnectOptions) {
    connect.map_sqlx_postgres_opts(|opts| opts.options([("plan_cache_mode", "force_custom_plan")]));
}

/// Pragmas for every pooled connection: durable commits, waiting for locks, and a file
/// that is created when missing. Returns whether the database is a file (not in memory).
fn configure_sqlite(connect: &mut ConnectOptions, url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let mode_given = query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("mode"));
    let in_memory = url.contains(":memory:") || query.split('&').any(|pair| pair == "mode=memory");
    connect.map_sqlx_sqlite_opts(move |opts: SqliteConnectOptions| {
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            // 64 MiB of page cache a connection (the default is 2 MiB): the indexes of
            // millions of entries stay in memory instead of being read again per query.
            .pragma("cache_size", "-65536");
        let opts = if in_memory {
            opts
        } else {
            // The checkpointer copies the WAL; writers do only past this bound.
            opts.pragma("wal_autocheckpoint", WRITER_AUTOCHECKPOINT)
        };
        if mode_given {
            opts
        } else {
            opts.create_if_missing(true)
        }
    });
    if in_memory {
        // An in-memory database lives as long as a connection to it: keep exactly one.
        connect
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    !in_memory
}

/// Copies a SQLite file's WAL into the file after writes, on a pooled connection and a
/// task of its own, so that the writer goes on writing meanwhile instead of copying
/// (about a fifth of its time under a steady load of batches). `PASSIVE`: it waits for no
/// reader or writer, and copies what no reader still needs; the WAL starts again from
/// its beginning once all of it is copied. The task ends when the store's last clone
/// is dropped or its connections are closed.
fn checkpointer(db: DatabaseConnection) -> mpsc::Sender<()> {
    let (wrote, mut writes) = mpsc::channel(1);
    tokio::spawn(async move {
        while writes.recv().await.is_some() {
            if let Err(error) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                if db.get_sqlite_connection_pool().is_closed() {
                    return;
                }
                // The writer copies the WAL itself past WRITER_AUTOCHECKPOINT pages.
                tracing::warn!(%error, "checkpointing the SQLite WAL failed; the writer will");
            }
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
    });
    wrote
}

impl SeaOrmStore {
    async fn append_now(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<Vec<AuditLog>, StoreError> {
        let _turn = self.writer_turn().await;
        // IMMEDIATE takes SQLite's write lock at BEGIN, waiting for it with the busy
        // timeout (other processes); PostgreSQL ignores the mode.
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = self
            .db
            .begin_with_options(options)
            .await
            .map_err(db_error)?;
        match append_with(&txn, tenant_id, entries, Some(&self.known_terms)).await {
            Ok((stored, learned)) => {
                txn.commit().await.map_err(db_error)?;
                self.wrote();
                self.known_terms.learn(learned);
                Ok(stored)
            }
            Err(err) => {
                // The error says what went wrong; a failed rollback only ends the connection.
                if let Err(rollback) = txn.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a refused batch failed");
                }
                Err(err)
            }
        }
    }

    async fn list_now(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<AuditLog>, StoreError> {
        // One snapshot for the page and the count, so that they agree.
        let txn = if self.db.get_database_backend() == DbBackend::Postgres {
            self.db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
        } else {
            self.db.begin().await
        }
        .map_err(db_error)?;
        let page = list_in(&txn, tenant_id, filter).await?;
        txn.commit().await.map_err(db_error)?;
        Ok(page)
    }
}

/// Runs `work` to its end on a task of its own: a caller that gives up (a client that
/// disconnects, a timeout) must not stop a transaction between its statements, which
/// would hand a pooled connection back mid-transaction.
pub(crate) async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|err| StoreError::Backend(format!("a storage task failed: {err}")))?
}

#[async_trait]
impl AuditLogStore for SeaOrmStore {
    async fn append(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<Vec<AuditLog>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.clone();
        to_completion(async move { store.append_now(tenant_id, entries).await }).await
    }

    async fn list(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
    ) -> Result<Page<AuditLog>, StoreError> {
        let (store, filter) = (self.clone(), filter.clone());
        to_completion(async move { store.list_now(tenant_id, &filter).await }).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        self.db
            .query_one_raw(Statement::from_string(backend, "SELECT 1"))
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_reach_the_sqlite_file_long_before_the_writer_would_copy_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("checkpoint.db");
        let store = SeaOrmStore::connect(
            &format!("sqlite://{}", path.display()),
            StoreOptions::default(),
        )
        .await
        .expect("connect");
        let size = || std::fs::metadata(&path).expect("the file").len();
        let before = size();
        let tenant = Uuid::new_v4();
        let batch = |n: usize| {
            (0..500)
                .map(|i| {
                    let ip = std::net::IpAddr::from([10, 0, (n % 256) as u8, (i % 256) as u8]);
                    let mut e = NewAuditLog::new(
                        auditlog_domain::AuditLogType::LoginSuccess,
                        format!("req-{n}-{i}"),
                        ip,
                        "test-agent/1.0",
                    );
                    e.actor_email = Some(format!("user{i}@example.com"));
                    e
                })
                .collect::<Vec<_>>()
        };
        for n in 0..2 {
            store.append(tenant, batch(n)).await.expect("append");
        }
        // A thousand entries fill far fewer WAL pages than the writer copies at.
        let waited = std::time::Instant::now();
        while size() <= before {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the file is still {before} bytes: nothing was checkpointed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let page = store
            .list(tenant, &AuditLogFilter::default())
            .await
            .expect("list");
        assert_eq!(page.total, 1000);
        store.close().await.expect("close");
    }
}
