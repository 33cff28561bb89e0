//! What the storage tests share: a fresh database per test on each backend, and small
//! builders for entries and filters.
//!
//! SQLite runs always, in a new file in a temporary directory. PostgreSQL runs when
//! `AUDITLOG_TEST_POSTGRES_URL` names a server (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test creates its own database
//! there and drops it afterwards, also when the test fails. Without the variable the
//! PostgreSQL tests fail, naming the fix; `make test` leaves them out then, and nextest
//! reports them as skipped.
#![allow(dead_code)]

use std::{future::Future, net::IpAddr, time::Duration};

use auditlog_domain::{AuditLog, AuditLogFilter, AuditLogStore, AuditLogType, NewAuditLog, Page};
use auditlog_storage::{SeaOrmStore, StoreOptions};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use time::OffsetDateTime;
use uuid::Uuid;

/// The variable that names the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "AUDITLOG_TEST_POSTGRES_URL";

/// A backend to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database that exists for one test (or one property run) only.
pub struct TestDb {
    pub store: SeaOrmStore,
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin: DatabaseConnection,
        name: String,
    },
}

fn options() -> StoreOptions {
    StoreOptions {
        max_connections: 5,
        acquire_timeout: Duration::from_secs(30),
    }
}

/// `url` with its database (the path) replaced by `name`, the query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority_start..]
        .find('/')
        .map_or(base, |i| &base[..authority_start + i]);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    /// A fresh, migrated database.
    pub async fn open(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                // A plain URL without `mode=rwc`: the store creates the file.
                let url = format!("sqlite://{}", dir.path().join("auditlog.db").display());
                let store = SeaOrmStore::connect(&url, options())
                    .await
                    .expect("SQLite opens");
                TestDb {
                    store,
                    place: Place::Sqlite(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = match std::env::var(POSTGRES_URL_VAR) {
                    Ok(url) if !url.is_empty() => url,
                    _ => panic!(
                        "{POSTGRES_URL_VAR} is not set, and this test runs on PostgreSQL: set it \
                         (for example to postgres://postgres@127.0.0.1:5432/postgres), or leave \
                         the PostgreSQL variants out as `make test` does and reports as skipped \
                         (cargo nextest run -E 'not test(/(^|::)postgres(::|_)|(::|_)postgres$/)')"
                    ),
                };
                let mut admin_options = ConnectOptions::new(admin_url.as_str());
                admin_options
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(5))
                    .sqlx_logging(false);
                let admin = Database::connect(admin_options)
                    .await
                    .unwrap_or_else(|err| {
                        panic!("PostgreSQL at {POSTGRES_URL_VAR} is unreachable: {err}")
                    });
                let name = format!("auditlog_test_{}", Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("CREATE DATABASE");
                let store = match SeaOrmStore::connect(&with_database(&admin_url, &name), options())
                    .await
                {
                    Ok(store) => store,
                    Err(err) => {
                        drop_database(&admin, &name).await;
                        panic!("connecting to the test database failed: {err}");
                    }
                };
                TestDb {
                    store,
                    place: Place::Postgres { admin, name },
                }
            }
        }
    }

    /// Closes the store and removes the database.
    pub async fn close(self) {
        let _ = self.store.close().await;
        match self.place {
            Place::Sqlite(dir) => drop(dir),
            Place::Postgres { admin, name } => {
                drop_database(&admin, &name).await;
                let _ = admin.close().await;
            }
        }
    }
}

async fn drop_database(admin: &DatabaseConnection, name: &str) {
    if let Err(err) = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
    {
        eprintln!("dropping the test database {name} failed: {err}");
    }
}

/// Runs `body` on a fresh database of `backend`, then removes the database, also when
/// `body` panics (the panic is resumed afterwards).
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(SeaOrmStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::open(backend).await;
    let outcome = tokio::spawn(body(db.store.clone())).await;
    db.close().await;
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("the test task did not finish: {err}"),
        }
    }
}

/// Generates one `#[tokio::test]` per backend for each case, `sqlite::case` and
/// `postgres::case`; a case is an `async fn(SeaOrmStore)` in module `module`.
#[macro_export]
macro_rules! backend_tests {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::common::run($crate::common::Backend::Sqlite, super::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::common::run($crate::common::Backend::Postgres, super::$module::$case).await;
                }
            )*
        }
    };
}

/// A time given in RFC 3339.
pub fn at(rfc3339: &str) -> OffsetDateTime {
    auditlog_domain::entry::timestamp::parse(rfc3339).expect("an RFC 3339 time")
}

/// An IP address.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("an IP address")
}

/// A `login_success` from `source_ip` at `created_at`, without id.
pub fn entry(source_ip: &str, created_at: &str) -> NewAuditLog {
    let mut e = NewAuditLog::new(
        AuditLogType::LoginSuccess,
        "req-1",
        ip(source_ip),
        "test-agent/1.0",
    );
    e.created_at = Some(at(created_at));
    e
}

/// `entry` with an id.
pub fn entry_with_id(id: Uuid, source_ip: &str, created_at: &str) -> NewAuditLog {
    NewAuditLog {
        id: Some(id),
        ..entry(source_ip, created_at)
    }
}

/// `e` with a request id that tells it apart from its siblings.
pub fn numbered(mut e: NewAuditLog, i: usize) -> NewAuditLog {
    e.meta_http_request_id = format!("req-{i}");
    e
}

/// Every entry of `tenant` (up to 1000), newest first.
pub async fn list_all(store: &SeaOrmStore, tenant: Uuid) -> Page<AuditLog> {
    store
        .list(tenant, &filter(&[("per_page", "1000")]))
        .await
        .expect("list")
}

/// A filter from query parameters.
pub fn filter(pairs: &[(&str, &str)]) -> AuditLogFilter {
    AuditLogFilter::from_query_pairs(pairs.iter().copied()).expect("a valid filter")
}

/// The ids of a page's items, in order.
pub fn ids(page: &Page<AuditLog>) -> Vec<Uuid> {
    page.items.iter().map(|e| e.id).collect()
}

/// The ids of `entries`, newest first: the order every list answers in.
pub fn newest_first(entries: &[AuditLog]) -> Vec<Uuid> {
    let mut sorted: Vec<&AuditLog> = entries.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
    sorted.iter().map(|e| e.id).collect()
}

/// Runs `statements` (with their values) as someone with the database's credentials
/// can, around the triggers that keep the log append-only: PostgreSQL's replication
/// role skips them for one transaction; SQLite's are dropped and put back.
pub async fn bypassing_triggers(
    db: &DatabaseConnection,
    statements: &[(&str, Vec<sea_orm::Value>)],
) {
    use sea_orm::{Statement, TransactionTrait};
    let backend = db.get_database_backend();
    let txn = db.begin().await.expect("begin");
    let triggers: Vec<(String, String)> = if backend == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL session_replication_role = replica")
            .await
            .expect("replica role");
        Vec::new()
    } else {
        let rows = txn
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'",
            ))
            .await
            .expect("triggers");
        let triggers: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("", "name").expect("name"),
                    r.try_get("", "sql").expect("sql"),
                )
            })
            .collect();
        for (name, _) in &triggers {
            txn.execute_unprepared(&format!("DROP TRIGGER \"{name}\""))
                .await
                .expect("drop trigger");
        }
        triggers
    };
    for (sql, values) in statements {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            *sql,
            values.clone(),
        ))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
    for (_, create) in triggers {
        txn.execute_unprepared(&create)
            .await
            .expect("put the trigger back");
    }
    txn.commit().await.expect("commit");
}

/// Deletes every entry (and its place in the log) bypassing the triggers that refuse it.
pub async fn delete_all_entries_bypassing_the_log(db: &DatabaseConnection) {
    bypassing_triggers(
        db,
        &[
            ("DELETE FROM audit_logs", vec![]),
            ("DELETE FROM audit_log_leaves", vec![]),
            ("DELETE FROM audit_log_checkpoints", vec![]),
            ("DELETE FROM audit_log_pending", vec![]),
            ("DELETE FROM audit_log_heads", vec![]),
        ],
    )
    .await;
}
