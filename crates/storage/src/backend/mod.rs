//! What differs between the SQL backends, and nothing else: each backend's module holds
//! its SQL and its connection settings, and [`Backend`] is the one place that chooses
//! between them. The query logic of `write/`, `read/` and `search/` calls these
//! operations and never asks which backend it runs on.
//!
//! Adding a backend: a module beside `sqlite` and `postgres` with the same operations,
//! a variant of [`Backend`], and its arms in this file.

mod postgres;
pub(crate) mod shared;
mod sqlite;

use std::collections::HashSet;

use async_trait::async_trait;
use auditlog_domain::StoreError;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, SqlErr, Statement, sqlx,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    StoreOptions,
    error::db_error,
    schema::{entry, head, leaf, pending},
    search::{KnownTerms, Learned},
};

/// A SQL backend of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// A SQLite file, or a database in memory.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection made by [`connect`].
pub(crate) struct Connected {
    pub db: DatabaseConnection,
    /// Told of each commit of a write, where the backend has work to do after writes
    /// (copying a SQLite file's WAL into the file).
    pub wrote: Option<mpsc::Sender<()>>,
}

/// Connects to the database that `url` names, with each backend's settings. An error
/// never holds the URL, which may hold a password.
pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Connected, StoreError> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    let backend = match scheme.as_deref() {
        Some("sqlite") => Backend::Sqlite,
        Some("postgres" | "postgresql") => Backend::Postgres,
        _ => {
            return Err(StoreError::Backend(
                "unsupported database URL: use sqlite://..., postgres://... or postgresql://..."
                    .to_owned(),
            ));
        }
    };
    let mut connect = ConnectOptions::new(url);
    connect
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false);
    let file = match backend {
        Backend::Sqlite => {
            sqlite::create_owner_only(url);
            sqlite::configure(&mut connect, url)
        }
        Backend::Postgres => {
            postgres::probe(url).await?;
            postgres::configure(&mut connect);
            false
        }
    };
    let hide_url = |err| match db_error(err) {
        StoreError::Unavailable(message) => {
            StoreError::Unavailable(message.replace(url, "<database url>"))
        }
        StoreError::Backend(message) => StoreError::Backend(message.replace(url, "<database url>")),
        other => other,
    };
    let db = Database::connect(connect).await.map_err(hide_url)?;
    let wrote = file.then(|| sqlite::checkpointer(db.clone()));
    Ok(Connected { db, wrote })
}

impl Backend {
    /// The backend that `conn` talks to.
    pub(crate) fn of<C: ConnectionTrait>(conn: &C) -> Result<Self, StoreError> {
        match conn.get_database_backend() {
            DbBackend::Sqlite => Ok(Backend::Sqlite),
            DbBackend::Postgres => Ok(Backend::Postgres),
            other => Err(StoreError::Backend(format!(
                "the store does not support the {other:?} backend"
            ))),
        }
    }

    /// Whether the database takes one writer at a time, so that the store's writers
    /// had better queue in the process than poll for its lock.
    pub(crate) fn single_writer(self) -> bool {
        self == Backend::Sqlite
    }

    /// Begins a read-only transaction in which every statement sees one snapshot.
    pub(crate) async fn begin_snapshot(
        self,
        db: &DatabaseConnection,
    ) -> Result<DatabaseTransaction, StoreError> {
        match self {
            Backend::Sqlite => sqlite::begin_snapshot(db).await,
            Backend::Postgres => postgres::begin_snapshot(db).await,
        }
    }

    /// Inserts the `rows` of `tenant_id` whose ids it does not hold yet, sorted by id,
    /// and records their search terms (skipping, where the backend can, those that
    /// `known` holds); returns the ids inserted and what the write teaches `known` once
    /// it has committed. A failure may leave part of the rows: the caller's transaction
    /// is rolled back on any error.
    pub(crate) async fn insert_new<C: ConnectionTrait>(
        self,
        conn: &C,
        tenant_id: Uuid,
        rows: &[entry::Model],
        known: Option<&KnownTerms>,
    ) -> Result<(HashSet<Uuid>, Learned), StoreError> {
        match self {
            Backend::Sqlite => sqlite::insert_new(conn, tenant_id, rows).await,
            Backend::Postgres => postgres::insert_new(conn, tenant_id, rows, known).await,
        }
    }

    /// The statement that finds at most `limit` of the tenant's search terms that
    /// contain `q` (case-folded), whose `LIKE` pattern (`%`, `_` and `\` escaped with
    /// `\`) is `pattern`; it answers rows of [`crate::search::lookup::Term`].
    pub(crate) fn term_lookup(
        self,
        tenant_id: Uuid,
        q: &str,
        pattern: &str,
        limit: i64,
    ) -> Statement {
        match self {
            Backend::Sqlite => sqlite::term_lookup(tenant_id, q, pattern, limit),
            Backend::Postgres => postgres::term_lookup(tenant_id, q, pattern, limit),
        }
    }

    /// Locks the tenant's log head until the transaction ends (a SQLite write
    /// transaction holds the whole database already) and returns it. A tenant without
    /// one gets it first, sized from its leaves.
    pub(crate) async fn lock_head<C: ConnectionTrait>(
        self,
        conn: &C,
        tenant_id: Uuid,
    ) -> Result<head::Model, StoreError> {
        let (select, create) = match self {
            Backend::Sqlite => (sqlite::LOCK_HEAD, sqlite::NEW_HEAD),
            Backend::Postgres => (postgres::tree::LOCK_HEAD, postgres::tree::NEW_HEAD),
        };
        let statement = |sql: &str| {
            Statement::from_sql_and_values(conn.get_database_backend(), sql, [tenant_id.into()])
        };
        for _ in 0..2 {
            let found = head::Entity::find()
                .from_raw_sql(statement(select))
                .one(conn)
                .await
                .map_err(db_error)?;
            if let Some(head) = found {
                return Ok(head);
            }
            conn.execute_raw(statement(create))
                .await
                .map_err(db_error)?;
        }
        Err(StoreError::Backend(format!(
            "the log head of tenant {tenant_id} cannot be made"
        )))
    }

    /// Takes the first `limit` of the tenant's queued entries off the log's queue, in
    /// queue order.
    pub(crate) async fn take_queued<C: ConnectionTrait>(
        self,
        conn: &C,
        tenant_id: Uuid,
        limit: u64,
    ) -> Result<Vec<pending::Model>, StoreError> {
        let sql = match self {
            Backend::Sqlite => sqlite::TAKE_QUEUED,
            Backend::Postgres => postgres::tree::TAKE_QUEUED,
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut taken = pending::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                conn.get_database_backend(),
                sql,
                [tenant_id.into(), limit.into()],
            ))
            .all(conn)
            .await
            .map_err(db_error)?;
        taken.sort_unstable_by_key(|row| row.seq);
        Ok(taken)
    }

    /// Inserts the leaves `rows` of a tree; `false`, with nothing inserted, when an entry
    /// of theirs is a leaf already (the caller's transaction must then roll back).
    pub(crate) async fn insert_leaves<C: ConnectionTrait>(
        self,
        conn: &C,
        rows: Vec<leaf::Model>,
    ) -> Result<bool, StoreError> {
        let inserted = match self {
            Backend::Sqlite => sqlite::insert_leaves(conn, rows).await,
            Backend::Postgres => postgres::tree::insert_leaves(conn, rows).await,
        };
        match inserted {
            Ok(()) => Ok(true),
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Ok(false)
            }
            Err(err) => Err(db_error(err)),
        }
    }

    /// Makes the space of removed queue rows reusable, where the database does not do
    /// it by itself as rows are removed: PostgreSQL's autovacuum may be off or behind,
    /// and a queue that only grows would be scanned through its dead rows.
    pub(crate) async fn tidy_queue(self, db: &DatabaseConnection) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite => Ok(()),
            Backend::Postgres => postgres::tree::tidy_queue(db).await,
        }
    }

    /// The entries among `ids` that are leaves of the tenant's tree already.
    pub(crate) async fn in_tree<C: ConnectionTrait>(
        self,
        conn: &C,
        tenant_id: Uuid,
        ids: Vec<Uuid>,
    ) -> Result<HashSet<Uuid>, StoreError> {
        match self {
            Backend::Sqlite => sqlite::in_tree(conn, tenant_id, ids).await,
            Backend::Postgres => postgres::tree::in_tree(conn, tenant_id, ids).await,
        }
    }

    /// The statement of `verify`'s first pass: every entry of tenant `$1` beside the
    /// leaf that names it (`leaf_index`, `entry_id`, `hashes`, then the entry's columns
    /// that its leaf is made of, in the order of `log::verify::walk::LeafColumns`), a
    /// leaf without its entry with the entry's columns null, and an entry in no leaf
    /// with the leaf's null; in no particular order.
    pub(crate) fn leaf_match(self) -> &'static str {
        match self {
            Backend::Sqlite => sqlite::LEAF_MATCH,
            Backend::Postgres => postgres::tree::LEAF_MATCH,
        }
    }

    /// Settings for `verify`'s statements, for the rest of the transaction `txn`.
    pub(crate) async fn tune_for_verify(self, txn: &DatabaseTransaction) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite => Ok(()),
            Backend::Postgres => txn
                .execute_unprepared(postgres::tree::VERIFY_WORK_MEM)
                .await
                .map(drop)
                .map_err(db_error),
        }
    }

    /// Whether the store's connections have been closed.
    pub(crate) fn is_closed(self, db: &DatabaseConnection) -> bool {
        match self {
            Backend::Sqlite => db.get_sqlite_connection_pool().is_closed(),
            Backend::Postgres => db.get_postgres_connection_pool().is_closed(),
        }
    }

    /// Begins the transaction of a bulk load, which holds the entries table to itself.
    pub(crate) async fn begin_load(
        self,
        db: &DatabaseConnection,
    ) -> Result<Box<dyn Load>, StoreError> {
        match self {
            Backend::Sqlite => sqlite::begin_load(db).await,
            Backend::Postgres => postgres::begin_load(db).await,
        }
    }

    /// Tidies up after a committed bulk load (statistics for the planner); returns the
    /// time that took, where the backend does anything. A failure leaves the work to
    /// the database's own maintenance and is only logged: the entries are stored.
    pub(crate) async fn after_load(self, db: &DatabaseConnection) -> Option<std::time::Duration> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres::after_load(db).await),
        }
    }
}

/// Whether an error that the database reported may go away by itself (busy, locked,
/// shutting down, out of resources, a serialisation failure or deadlock).
pub(crate) fn is_transient(err: &dyn sqlx::error::DatabaseError) -> bool {
    if err
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        sqlite::is_transient(err)
    } else {
        postgres::is_transient(err)
    }
}

/// A statement that builds an index again, and the table it belongs to.
#[derive(Debug)]
pub(crate) struct Rebuild {
    pub table: &'static str,
    pub create: String,
}

/// The transaction of a bulk load into an empty store, on the driver's own connection
/// (the ORM can neither `COPY` nor bind values without copying them). The statements it
/// runs are built from constants and from the database's own catalog, never from
/// entries; the entries are bound as parameters.
#[async_trait]
pub(crate) trait Load: Send {
    /// Runs a statement of constants or of the database's own catalog.
    async fn execute(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Whether the entries table holds a row.
    async fn holds_entries(&mut self) -> Result<bool, StoreError>;

    /// Empties what describes the (empty) entries table (counts, terms), so that it can
    /// be built again from the rows; returns the tables whose indexes the load builds
    /// afresh, the entries' first.
    async fn clear_derived(&mut self) -> Result<&'static [&'static str], StoreError>;

    /// The statements that drop and build again the indexes of `table` that a load
    /// would otherwise maintain row by row, as the catalog would dump them.
    async fn indexes_of(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Inserts rows as they are (no conflict handling, no counts, no terms); returns
    /// how many.
    async fn insert_rows(&mut self, rows: &[entry::Model]) -> Result<u64, StoreError>;

    /// Settings for the building at the end of the load, and the statements that undo
    /// them afterwards.
    fn build_settings(&self) -> (Vec<String>, Vec<String>);

    /// The rows of `audit_log_terms` that the entries hold, as a `SELECT`.
    fn terms_of_entries(&self) -> String;

    /// Commits the load.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Rolls back; a failure to do so ends the connection, and the error that led here
    /// is the one to report.
    async fn rollback(self: Box<Self>);
}
