//! PostgreSQL: connection settings, the insert of a batch with its search terms in one
//! statement, the trigram lookup of search terms, and the bulk load by `COPY`
//! ([`load`]); the rows as arrays and as `COPY` tuples are in [`rows`].

mod load;
mod rows;
pub(super) mod tree;

use std::{
    collections::HashSet,
    sync::LazyLock,
    time::{Duration, Instant},
};

use auditlog_domain::StoreError;
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, IsolationLevel, Statement, TransactionTrait, sqlx,
};
use uuid::Uuid;

pub(super) use load::begin_load;

use crate::{
    error::db_error,
    schema::entry,
    search::{self, Epoch, KnownTerms, Learned},
};

/// Settings for every pooled connection: each execution of a prepared statement is
/// planned for its own values. A plan made once for any values cannot tell a tenant of
/// a million entries from one of a hundred, nor a rare search term from a common one,
/// and picks scans that take many times longer than the query planned with its values.
pub(super) fn configure(connect: &mut ConnectOptions) {
    connect.map_sqlx_postgres_opts(|opts| opts.options([("plan_cache_mode", "force_custom_plan")]));
}

/// How long the first connection may take. A server that is down refuses at once; one
/// that cannot be reached never answers, and a start should say so rather than wait.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Makes one connection and closes it, before the pool is built, so that a server that
/// cannot be reached is reported at once with where and why ("cannot connect to
/// PostgreSQL at 127.0.0.1:5999: connection refused") rather than, after the pool's
/// acquire timeout, as "pool timed out". The message never holds the URL.
pub(super) async fn probe(url: &str) -> Result<(), StoreError> {
    use sqlx::{
        Connection,
        postgres::{PgConnectOptions, PgConnection},
    };
    let options: PgConnectOptions = url.parse().map_err(|err: sqlx::Error| {
        let err = err.to_string().replace(url, "<database url>");
        StoreError::Backend(format!("the PostgreSQL URL is not valid: {err}"))
    })?;
    let at = match options.get_socket() {
        Some(dir) => format!("{} (socket)", dir.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let failed = |why: String| {
        StoreError::Unavailable(format!("cannot connect to PostgreSQL at {at}: {why}"))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&options)).await {
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
        Ok(Err(err)) => Err(failed(cause(&err))),
        Ok(Ok(connection)) => {
            // Closing politely is a courtesy; the pool connects afresh either way.
            let _ = connection.close().await;
            Ok(())
        }
    }
}

/// Why a connection failed, in a few words: the network's reason, or the server's
/// message (a wrong password, a database that does not exist).
fn cause(err: &sqlx::Error) -> String {
    use std::io::ErrorKind;
    match err {
        sqlx::Error::Io(io) => match io.kind() {
            kind @ (ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::TimedOut
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable
            | ErrorKind::PermissionDenied
            | ErrorKind::NotFound) => kind.to_string(),
            _ => io.to_string(),
        },
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// `REPEATABLE READ`: every statement of the transaction sees one snapshot.
pub(super) async fn begin_snapshot(
    db: &DatabaseConnection,
) -> Result<DatabaseTransaction, StoreError> {
    db.begin_with_config(
        Some(IsolationLevel::RepeatableRead),
        Some(AccessMode::ReadOnly),
    )
    .await
    .map_err(db_error)
}

/// Connection exceptions, insufficient resources, operator intervention (shutdown,
/// cancel), serialisation failures and deadlocks may go away by themselves.
pub(super) fn is_transient(err: &dyn sqlx::error::DatabaseError) -> bool {
    let code = err.code().unwrap_or_default();
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57")
        || code == "40001"
        || code == "40P01"
}

/// Statistics for the planner after a bulk load, and the visibility map that lets
/// counts and deep pages read the indexes alone. Outside the load's transaction, as
/// `VACUUM` must be.
pub(super) async fn after_load(db: &DatabaseConnection) -> Duration {
    let started = Instant::now();
    tracing::debug!("committed; vacuuming");
    if let Err(err) = db
        .execute_unprepared(
            "VACUUM (ANALYZE) audit_logs, audit_log_terms, audit_log_ip_suffixes, audit_log_counts",
        )
        .await
    {
        tracing::warn!(error = %err, "VACUUM ANALYZE after a bulk load failed; autovacuum will do it");
    }
    started.elapsed()
}

/// The indexed form of `expr` (a value, or a `LIKE` pattern of one), as the trigram
/// index of the search terms covers it (migration m20260103): each `.`, `:`, `-` and
/// `@` becomes a letter, so that an address is one word of selective trigrams.
fn search_words(expr: &str) -> String {
    format!("translate({expr}, '.:-@', 'xyzw')")
}

/// The text after the first `.` or `:` of `q`, when it is long enough to narrow: an
/// address that contains `q` has a suffix that begins with it, right after one of its
/// own separators (migration m20260104).
fn after_first_separator(q: &str) -> Option<&str> {
    let at = q.find(['.', ':'])?;
    let rest = &q[at + 1..];
    (rest.chars().count() >= search::lookup::MIN_CHARS).then_some(rest)
}

/// [`super::Backend::insert_new`] in one statement: the rows travel as one array a
/// column (a few parameters however large the batch), and so do their search terms,
/// each marked when `known` holds it. The statement queues the rows it inserted for
/// the log and records their terms, skipping the marked ones unless the epoch they
/// were learned at has passed.
pub(super) async fn insert_new<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    rows: &[entry::Model],
    known: Option<&KnownTerms>,
) -> Result<(HashSet<Uuid>, Learned), StoreError> {
    if rows.is_empty() {
        return Ok((HashSet::new(), Learned::default()));
    }
    let terms = search::of_rows(rows);
    let (epoch, flags) = match known {
        Some(known) => known.lookup(tenant_id, &terms),
        None => (None, vec![false; terms.len()]),
    };
    let mut values = rows::arrays(rows);
    values.push(tenant_id.into());
    values.push(terms.iter().map(|t| t.0).collect::<Vec<i16>>().into());
    values.push(
        terms
            .iter()
            .map(|t| t.1.clone())
            .collect::<Vec<String>>()
            .into(),
    );
    values.push(
        terms
            .iter()
            .map(|t| t.2.clone())
            .collect::<Vec<Vec<u8>>>()
            .into(),
    );
    values.push(flags.into());
    values.push(epoch.as_ref().map(|e| e.value).into());
    values.push(epoch.map(|e| e.origin).into());
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, INSERT.as_str(), values);
    let answer = conn.query_all_raw(statement).await.map_err(db_error)?;
    let mut inserted = HashSet::with_capacity(answer.len());
    let mut epoch = None;
    for row in answer {
        inserted.insert(row.try_get::<Uuid>("", "id").map_err(db_error)?);
        epoch = Some(Epoch {
            value: row.try_get("", "epoch").map_err(db_error)?,
            origin: row.try_get("", "origin").map_err(db_error)?,
        });
    }
    // What the statement recorded: the terms of the rows it inserted (all of them,
    // unless some ids were stored before).
    let recorded = if inserted.len() == rows.len() {
        terms
    } else {
        search::of_rows(rows.iter().filter(|row| inserted.contains(&row.id)))
    };
    let learned = Learned {
        epoch,
        terms: recorded
            .into_iter()
            .map(|(field, value, _)| (tenant_id, field, value))
            .collect(),
    };
    Ok((inserted, learned))
}

/// The statement of [`insert_new`], built once from constants: the rows' arrays
/// ([`rows::INSERT_ARRAYS`]), then the tenant, the terms' fields, values and address
/// keys (empty for other fields), which of them are known, and the epoch they are known
/// at (its value and origin).
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let n = *entry::COLUMN_COUNT;
    let [tenant, fields, values, keys, known, epoch, origin] =
        std::array::from_fn(|i| format!("${}", n + 1 + i));
    format!(
        "WITH inserted AS ({insert} \
           ON CONFLICT (tenant_id, id) DO NOTHING \
           RETURNING tenant_id, id, meta_source_ip, actor_user_id_ci, actor_email_ci), \
         epoch AS ( \
           SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS value, \
             extract(epoch FROM pg_postmaster_start_time())::text || '/' || tableoid::text AS origin \
           FROM audit_log_terms_epoch), \
         terms AS ( \
           INSERT INTO audit_log_terms (tenant_id, field, value, key) \
           SELECT {tenant}::uuid, f, v, NULLIF(k, ''::bytea) \
           FROM UNNEST({fields}::int2[], {values}::text[], {keys}::bytea[], {known}::bool[]) AS x (f, v, k, known) \
           WHERE (NOT known OR NOT EXISTS ( \
               SELECT 1 FROM epoch WHERE value = {epoch}::int8 AND origin = {origin}::text)) \
             AND (f, v COLLATE \"C\") IN ( \
               SELECT 0::int2, meta_source_ip COLLATE \"C\" FROM inserted \
               UNION ALL SELECT 1::int2, actor_user_id_ci FROM inserted \
               UNION ALL SELECT 2::int2, actor_email_ci FROM inserted) \
           ORDER BY f, v COLLATE \"C\" \
           ON CONFLICT DO NOTHING) \
         SELECT id, epoch.value AS epoch, epoch.origin FROM inserted, epoch",
        insert = *rows::INSERT_ARRAYS
    )
});

/// The lookup of search terms: the user ids and e-mail addresses through
/// their trigram index, then the addresses through theirs ([`ADDRESS_BY_TRIGRAMS`]) or
/// their suffixes ([`ADDRESS_BY_SUFFIX`]). Each part keeps at most `$3` values; the
/// exact `LIKE` on the value decides in each.
static LOOKUP: LazyLock<[String; 2]> = LazyLock::new(|| {
    let by_trigrams = |fields: &str| {
        format!(
            "SELECT field, value, key FROM audit_log_terms \
             WHERE tenant_id = $1 AND {fields} AND {} LIKE {} ESCAPE '\\' \
               AND value LIKE $2 ESCAPE '\\' LIMIT $3",
            search_words("value"),
            search_words("$2"),
        )
    };
    let others = by_trigrams("field <> 0");
    [
        format!("({others}) UNION ALL ({})", by_trigrams("field = 0")),
        format!(
            "({others}) UNION ALL (SELECT field, value, key FROM audit_log_terms \
               WHERE tenant_id = $1 AND field = 0 AND value IN ( \
                 SELECT value FROM audit_log_ip_suffixes \
                 WHERE tenant_id = $1 AND suffix >= $4 AND suffix < $5 \
                   AND value LIKE $2 ESCAPE '\\') \
               LIMIT $3)"
        ),
    ]
});

/// Which of [`LOOKUP`] finds the addresses.
const ADDRESS_BY_TRIGRAMS: usize = 0;
const ADDRESS_BY_SUFFIX: usize = 1;

/// The index covers the values as single words; the exact `LIKE` decides.
pub(super) fn term_lookup(tenant_id: Uuid, q: &str, pattern: &str, limit: i64) -> Statement {
    let mut values: Vec<sea_orm::Value> = vec![tenant_id.into(), pattern.into(), limit.into()];
    let lookup = match after_first_separator(q) {
        Some(rest) => {
            // Every suffix that begins with `rest`, in byte order: up to `rest`
            // followed by the greatest character.
            values.push(rest.into());
            values.push(format!("{rest}{}", char::MAX).into());
            ADDRESS_BY_SUFFIX
        }
        None => ADDRESS_BY_TRIGRAMS,
    };
    Statement::from_sql_and_values(DbBackend::Postgres, LOOKUP[lookup].as_str(), values)
}
