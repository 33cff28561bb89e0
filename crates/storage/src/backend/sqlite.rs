//! SQLite: connection settings, the WAL checkpointer, multi-row inserts, the FTS5
//! lookup of search terms and the bulk load.

use std::{collections::HashSet, sync::LazyLock, time::Duration};

use async_trait::async_trait;
use auditlog_domain::StoreError;
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, Statement, TransactionTrait, Value,
    sea_query::Values,
    sqlx::{
        self, AssertSqlSafe, Row as _, Sqlite,
        sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
    },
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Load, shared};
use crate::{
    error::{db_error, sqlx_error},
    schema::{entry, leaf},
    search::{self, Learned},
};

/// How long a connection waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The WAL pages after which a write to a file copies the WAL into the file itself
/// (SQLite's default is 1000): a bound on the WAL should the checkpoints of
/// [`checkpointer`] fall behind.
const WRITER_AUTOCHECKPOINT: &str = "10000";
/// The least time between two checkpoints of [`checkpointer`].
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Rows per `INSERT` of a batch: far below SQLite's limit of 32766 bind parameters.
const INSERT_ROWS: usize = 500;
/// Rows per `INSERT` of a bulk load: still below that limit.
const BULK_ROWS: usize = 2000;
/// Leaves per `INSERT`, and queue rows or ids per `... IN (...)`, of the integrator.
const LOG_CHUNK: usize = 1000;

/// Creates the database file of `url` readable and writable by its owner only, when
/// it is missing and the URL lets it be created (SQLite gives its journal and WAL the
/// file's permissions): entries hold personal data. An existing file is left as it is.
pub(super) fn create_owner_only(url: &str) {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mode = query.split('&').find_map(|pair| pair.strip_prefix("mode="));
    let creates = matches!(mode, None | Some("rwc"));
    if !creates || path.is_empty() || path == ":memory:" || mode == Some("memory") {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // An existing file is kept as it is; a missing directory and the like are for
    // SQLite to name when it opens the file.
    let _ = options.open(path);
}

/// Pragmas for every pooled connection: durable commits, waiting for locks, and a file
/// that is created when missing. Returns whether the database is a file (not in memory).
pub(super) fn configure(connect: &mut ConnectOptions, url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let mode_given = query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("mode"));
    let in_memory = url.contains(":memory:") || query.split('&').any(|pair| pair == "mode=memory");
    connect.map_sqlx_sqlite_opts(move |opts: SqliteConnectOptions| {
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
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
pub(super) fn checkpointer(db: DatabaseConnection) -> mpsc::Sender<()> {
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

/// A transaction of SQLite sees one snapshot from its first read on.
pub(super) async fn begin_snapshot(
    db: &DatabaseConnection,
) -> Result<DatabaseTransaction, StoreError> {
    db.begin().await.map_err(db_error)
}

/// `INSERT OR FAIL` of `rows` rows into `audit_logs`, a parameter a column in the order
/// of [`entry::columns`], followed by `tail`; built from constants.
///
/// `OR FAIL`: a failure ends the statement where it is instead of undoing it, which
/// spares SQLite the statement journal, a copy of every page the statement changes
/// (most of an insert's work when an entry's keys are spread over six indexes). Every
/// caller rolls back the whole transaction on an error.
fn insert_sql(rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; *entry::COLUMN_COUNT].join(","));
    format!(
        "INSERT OR FAIL INTO audit_logs ({}) VALUES {} {tail}",
        *entry::COLUMN_LIST,
        vec![row; rows].join(",")
    )
}

/// [`super::Backend::insert_new`]: rows a few hundred a statement, then the new
/// rows' search terms.
pub(super) async fn insert_new<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    rows: &[entry::Model],
) -> Result<(HashSet<Uuid>, Learned), StoreError> {
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_ROWS) {
        let sql = insert_sql(
            chunk.len(),
            "ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id",
        );
        let values: Vec<Value> = chunk.iter().flat_map(entry::values).collect();
        let answer = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await
            .map_err(db_error)?;
        for row in answer {
            inserted.insert(row.try_get::<Uuid>("", "id").map_err(db_error)?);
        }
    }
    let new_rows: Vec<&entry::Model> = rows
        .iter()
        .filter(|row| inserted.contains(&row.id))
        .collect();
    search::record::record(conn, tenant_id, search::of_rows(new_rows)).await?;
    Ok((inserted, Learned::default()))
}

/// FTS5 serves `LIKE` through its trigram index only without `ESCAPE`; unescaped, `%`
/// and `_` of `q` are wildcards and match more, so the escaped `LIKE` then keeps
/// exactly the values that contain `q`. The rowid bounds are the tenant's range
/// (`m20261205_000001_tenant_search_ranges`), which FTS5 seeks to in each trigram's
/// list, so other tenants' values are not read.
pub(super) fn term_lookup(tenant_id: Uuid, q: &str, pattern: &str, limit: i64) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Sqlite,
        TERM_LOOKUP.as_str(),
        [
            format!("%{q}%").into(),
            pattern.into(),
            tenant_id.into(),
            tenant_id.into(),
            tenant_id.into(),
            limit.into(),
        ],
    )
}

/// The statement of [`term_lookup`].
static TERM_LOOKUP: LazyLock<String> = LazyLock::new(|| {
    let bits = auditlog_migrations::SEARCH_TERM_BITS;
    format!(
        "SELECT field, value, key FROM audit_log_terms_search \
         WHERE value LIKE ? AND value LIKE ? ESCAPE '\\' AND tenant_id = ? \
         AND rowid >= (SELECT number << {bits} FROM audit_log_search_tenants WHERE tenant_id = ?) \
         AND rowid < (SELECT (number + 1) << {bits} FROM audit_log_search_tenants WHERE tenant_id = ?) \
         LIMIT ?"
    )
});

/// SQLite's result codes that may go away by themselves: `SQLITE_BUSY` (5) and
/// `SQLITE_LOCKED` (6), with any extended code.
pub(super) fn is_transient(err: &dyn sqlx::error::DatabaseError) -> bool {
    err.code()
        .unwrap_or_default()
        .parse::<i32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// The driver's own transaction, for statements prepared once and bound without
/// copies. `IMMEDIATE`: SQLite's write lock at once, so that nothing writes between the
/// look at the table and the load.
pub(super) async fn begin_load(db: &DatabaseConnection) -> Result<Box<dyn Load>, StoreError> {
    let txn = db
        .get_sqlite_connection_pool()
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(sqlx_error)?;
    Ok(Box::new(SqliteLoad(txn)))
}

/// A bulk load into SQLite.
struct SqliteLoad(sqlx::Transaction<'static, Sqlite>);

#[async_trait]
impl Load for SqliteLoad {
    async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *self.0)
            .await
            .map(drop)
            .map_err(sqlx_error)
    }

    async fn holds_entries(&mut self) -> Result<bool, StoreError> {
        sqlx::query(shared::ANY_ENTRY)
            .fetch_optional(&mut *self.0)
            .await
            .map(|row| row.is_some())
            .map_err(sqlx_error)
    }

    async fn clear_derived(&mut self) -> Result<&'static [&'static str], StoreError> {
        // The trigram rows first: removing a term then finds none of its own to remove.
        for table in [
            "audit_log_counts",
            "audit_log_terms_search",
            "audit_log_terms",
            "audit_log_pending",
        ] {
            self.execute(&format!("DELETE FROM {table}")).await?;
        }
        Ok(&["audit_logs"])
    }

    /// All of the table's indexes but its own primary key.
    async fn indexes_of(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        )
        .bind(table)
        .fetch_all(&mut *self.0)
        .await
        .map_err(sqlx_error)?
        .into_iter()
        .map(|row| {
            let name: String = row.try_get("name")?;
            let drop = format!("DROP INDEX \"{}\"", name.replace('"', "\"\""));
            Ok((drop, row.try_get("sql")?))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(sqlx_error)
    }

    /// Multi-row `INSERT OR FAIL`s ([`insert_sql`]), each prepared once by the
    /// connection.
    async fn insert_rows(&mut self, rows: &[entry::Model]) -> Result<u64, StoreError> {
        for chunk in rows.chunks(BULK_ROWS) {
            let values: Vec<Value> = chunk.iter().flat_map(entry::values).collect();
            let insert = sqlx::query_with(
                AssertSqlSafe(insert_sql(chunk.len(), "")),
                SqlxValues(Values(values)),
            );
            insert.execute(&mut *self.0).await.map_err(sqlx_error)?;
        }
        Ok(rows.len() as u64)
    }

    /// SQLite sorts the keys of an index on helper threads when allowed to; the setting
    /// belongs to the (pooled) connection, so it goes back to the default afterwards.
    fn build_settings(&self) -> (Vec<String>, Vec<String>) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        (
            vec![format!("PRAGMA threads = {threads}")],
            vec!["PRAGMA threads = 0".to_owned()],
        )
    }

    /// One row an address, found through the index of address keys that was just
    /// built, instead of grouping every row by its text (seven times faster): a key is
    /// the address's own bytes, so one key is one text.
    fn terms_of_entries(&self) -> String {
        format!(
            "SELECT tenant_id, 0, meta_source_ip, ip_key FROM audit_logs \
             WHERE rowid IN (SELECT min(rowid) FROM audit_logs GROUP BY tenant_id, ip_key) \
             UNION ALL {}",
            shared::person_terms_of_entries()
        )
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.0.commit().await.map_err(sqlx_error)
    }

    async fn rollback(self: Box<Self>) {
        if let Err(error) = self.0.rollback().await {
            tracing::warn!(%error, "rolling back a bulk load failed");
        }
    }
}

/// [`super::Backend::take_queued`]'s statement: the tenant's first queue rows, removed
/// and returned.
pub(super) const TAKE_QUEUED: &str = "DELETE FROM audit_log_pending WHERE seq IN ( \
       SELECT seq FROM audit_log_pending WHERE tenant_id = ? ORDER BY seq LIMIT ?) \
     RETURNING seq, tenant_id, entry_id, leaf_hash";

/// [`super::Backend::lock_head`]'s statements: the head (the write transaction holds
/// the database), and a new one sized from the tenant's leaves.
pub(super) const LOCK_HEAD: &str =
    "SELECT tenant_id, size, edge FROM audit_log_heads WHERE tenant_id = ?1";
pub(super) const NEW_HEAD: &str = "INSERT INTO audit_log_heads (tenant_id, size) \
     SELECT ?1, COALESCE(MAX(leaf_index) + 1, 0) FROM audit_log_leaves WHERE tenant_id = ?1 \
     ON CONFLICT (tenant_id) DO NOTHING";

/// [`super::Backend::leaf_match`] on SQLite: the leaves with their entries, then the
/// entries in no leaf (the two halves of a full join, each by key lookups).
pub(super) const LEAF_MATCH: &str = "SELECT l.leaf_index, l.entry_id, l.hashes, \
       e.id, e.tenant_id, e.\"type\", e.error, e.meta_http_request_id, e.meta_source_ip, \
       e.meta_user_agent, e.actor_user_id, e.actor_email, e.details, e.created_at \
     FROM audit_log_leaves l LEFT JOIN audit_logs e \
       ON e.tenant_id = l.tenant_id AND e.id = l.entry_id \
     WHERE l.tenant_id = ?1 \
     UNION ALL \
     SELECT NULL, NULL, NULL, \
       e.id, e.tenant_id, e.\"type\", e.error, e.meta_http_request_id, e.meta_source_ip, \
       e.meta_user_agent, e.actor_user_id, e.actor_email, e.details, e.created_at \
     FROM audit_logs e WHERE e.tenant_id = ?1 \
       AND NOT EXISTS (SELECT 1 FROM audit_log_leaves l \
         WHERE l.tenant_id = e.tenant_id AND l.entry_id = e.id)";

/// [`super::Backend::insert_leaves`], a thousand rows a statement.
pub(super) async fn insert_leaves<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<leaf::Model>,
) -> Result<(), DbErr> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<leaf::ActiveModel> = rows.by_ref().take(LOG_CHUNK).map(Into::into).collect();
        leaf::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// [`super::Backend::in_tree`], a thousand ids a statement.
pub(super) async fn in_tree<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashSet<Uuid>, StoreError> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(LOG_CHUNK) {
        let rows: Vec<Uuid> = leaf::Entity::find()
            .select_only()
            .column(leaf::Column::EntryId)
            .filter(leaf::Column::TenantId.eq(tenant_id))
            .filter(leaf::Column::EntryId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await
            .map_err(db_error)?;
        found.extend(rows);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use auditlog_migrations::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database};

    use super::*;

    /// Writes `values` as e-mail terms of `tenant`, as the writers do.
    async fn write_terms(db: &DatabaseConnection, tenant: Uuid, values: &[String]) {
        for value in values {
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO audit_log_terms (tenant_id, field, value) VALUES (?, 2, ?)",
                [tenant.into(), value.clone().into()],
            ))
            .await
            .expect("a term");
        }
    }

    /// The values of `tenant` that contain `q`, and the plan of the lookup.
    async fn lookup(db: &DatabaseConnection, tenant: Uuid, q: &str) -> (Vec<String>, String) {
        let pattern = crate::read::like_contains(q);
        let statement = term_lookup(tenant, q, &pattern, 5000);
        let mut values: Vec<String> = db
            .query_all_raw(statement.clone())
            .await
            .expect("lookup")
            .iter()
            .map(|row| row.try_get("", "value").expect("value"))
            .collect();
        values.sort();
        let plan = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("EXPLAIN QUERY PLAN {}", statement.sql),
                statement.values.expect("values").0,
            ))
            .await
            .expect("plan")
            .iter()
            .map(|row| row.try_get::<String>("", "detail").expect("detail"))
            .collect::<Vec<_>>()
            .join("; ");
        (values, plan)
    }

    /// A tenant's `q` reads its own range of the trigram index: terms written before
    /// the ranges existed (moved by the migration) and after it alike, none of another
    /// tenant's, whose thousands of matching values FTS5 skips by rowid (`>` and `<`
    /// in the plan: both bounds reach the index, not only a filter on its answer).
    #[tokio::test]
    async fn q_reads_only_the_tenants_own_range_of_the_trigram_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ranges.db").display()
        );
        let db = Database::connect(&url).await.expect("connect");
        let before_ranges = Migrator::migrations().len() - 1;
        Migrator::up(&db, Some(before_ranges as u32))
            .await
            .expect("older schema");
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let many: Vec<String> = (0..2000).map(|i| format!("b{i}@example.com")).collect();
        write_terms(&db, other, &many).await;
        write_terms(&db, mine, &["old@example.com".to_owned()]).await;
        Migrator::up(&db, None).await.expect("newest schema");
        write_terms(
            &db,
            mine,
            &["new@example.com".to_owned(), "x@else.org".to_owned()],
        )
        .await;
        write_terms(&db, other, &["late@example.com".to_owned()]).await;

        let (values, plan) = lookup(&db, mine, "example.com").await;
        assert_eq!(values, ["new@example.com", "old@example.com"]);
        let fts = plan
            .split("; ")
            .find(|step| step.contains("audit_log_terms_search"))
            .unwrap_or_else(|| panic!("no step reads the index: {plan}"));
        let index = fts.rsplit(':').next().unwrap_or_default();
        assert!(index.contains('>') && index.contains('<'), "{plan}");
        let (theirs, _) = lookup(&db, other, "example.com").await;
        assert_eq!(theirs.len(), 2001);
        let (none, _) = lookup(&db, Uuid::new_v4(), "example.com").await;
        assert!(none.is_empty(), "{none:?}");
        // Under three characters the index cannot narrow; the scan keeps to the range.
        let (short, _) = lookup(&db, mine, "x@").await;
        assert_eq!(short, ["x@else.org"]);
    }

    #[test]
    fn an_insert_has_a_parameter_for_every_column_of_every_row() {
        let sql = insert_sql(2, "RETURNING id");
        assert_eq!(sql.matches('?').count(), 2 * *entry::COLUMN_COUNT);
        assert!(sql.contains(&format!("({})", *entry::COLUMN_LIST)), "{sql}");
        assert!(sql.ends_with(" RETURNING id"), "{sql}");
    }
}
