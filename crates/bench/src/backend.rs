//! The database of one backend: where it is, recreating it, and connecting to it.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value,
    sqlx::{
        Sqlite,
        pool::PoolOptions,
        postgres::PgConnectOptions,
        sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
    },
};

/// The `application_name` of the baseline's PostgreSQL connections.
const BASELINE_APPLICATION: &str = "auditlog-bench-baseline";

/// Cuts short the statements that the baseline's pool is running.
#[derive(Debug, Clone)]
pub struct Interrupt {
    target: Target,
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// Stops every running statement of the baseline's pool, and (SQLite) every one that
    /// starts until [`Interrupt::clear`]. `control` is a connection of its own.
    pub async fn fire(&self, control: &DatabaseConnection) {
        self.flag.store(true, Ordering::Relaxed);
        if self.target.kind == BackendKind::Postgres {
            let sql = format!(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = '{BASELINE_APPLICATION}'
                   AND state = 'active' AND pid <> pg_backend_pid()"
            );
            // A failed cancel only makes the wait longer.
            let _ = control
                .query_all_raw(self.target.statement(&sql, vec![]))
                .await;
        }
    }

    /// Lets statements run again.
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }
}

use crate::args::{Args, BackendKind};

/// The database that one backend's part of the run uses.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: BackendKind,
    /// The URL auditlog is given (`AUDITLOG_DATABASE_URL`).
    pub url: String,
    /// SQLite: the database file.
    sqlite_file: Option<std::path::PathBuf>,
}

impl Target {
    pub fn new(kind: BackendKind, args: &Args) -> anyhow::Result<Self> {
        match kind {
            BackendKind::Sqlite => {
                let dir = std::path::absolute(&args.dir).context("cannot resolve BENCH_DIR")?;
                let file = dir.join("bench.sqlite");
                Ok(Self {
                    kind,
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    sqlite_file: Some(file),
                })
            }
            BackendKind::Postgres => {
                if !(args.postgres_url.starts_with("postgres://")
                    || args.postgres_url.starts_with("postgresql://"))
                {
                    bail!("BENCH_POSTGRES_URL must start with postgres://");
                }
                Ok(Self {
                    kind,
                    url: args.postgres_url.clone(),
                    sqlite_file: None,
                })
            }
        }
    }

    pub fn db_backend(&self) -> DbBackend {
        match self.kind {
            BackendKind::Sqlite => DbBackend::Sqlite,
            BackendKind::Postgres => DbBackend::Postgres,
        }
    }

    /// SQL written with `$1` placeholders, in this backend's dialect (SQLite reads `?1`).
    pub fn sql(&self, sql: &str) -> String {
        match self.kind {
            BackendKind::Sqlite => sql.replace('$', "?"),
            BackendKind::Postgres => sql.to_owned(),
        }
    }

    /// A statement with `$n` placeholders and its values.
    pub fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.db_backend(), self.sql(sql), values)
    }

    /// Drops the database and creates it empty.
    pub async fn recreate(&self) -> anyhow::Result<()> {
        match &self.sqlite_file {
            Some(file) => {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                for suffix in ["", "-wal", "-shm"] {
                    let path = format!("{}{suffix}", file.display());
                    if Path::new(&path).exists() {
                        std::fs::remove_file(&path)
                            .with_context(|| format!("cannot remove {path}"))?;
                    }
                }
                Ok(())
            }
            None => {
                let (admin_url, name) = admin_url_and_name(&self.url)?;
                let mut options = ConnectOptions::new(admin_url);
                options.sqlx_logging(false);
                let admin = Database::connect(options)
                    .await
                    .context("cannot connect to PostgreSQL's `postgres` database")?;
                let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                    .await
                    .context("cannot drop the benchmark database")?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {quoted}"))
                    .await
                    .context("cannot create the benchmark database")?;
                admin.close().await.context("cannot close the connection")?;
                Ok(())
            }
        }
    }

    /// A pool of at most `pool` connections, configured as auditlog configures its own
    /// (SQLite: WAL, `synchronous=FULL`, 5 s busy timeout).
    pub async fn connect(&self, pool: u32) -> anyhow::Result<DatabaseConnection> {
        self.connect_with(pool, None).await
    }

    /// The baseline's pool: as [`Target::connect`], and its running statements can be
    /// cut short with the returned [`Interrupt`].
    pub async fn connect_interruptible(
        &self,
        pool: u32,
    ) -> anyhow::Result<(DatabaseConnection, Interrupt)> {
        let flag = Arc::new(AtomicBool::new(false));
        let db = self.connect_with(pool, Some(Arc::clone(&flag))).await?;
        let interrupt = Interrupt {
            target: self.clone(),
            flag,
        };
        Ok((db, interrupt))
    }

    async fn connect_with(
        &self,
        pool: u32,
        interrupt: Option<Arc<AtomicBool>>,
    ) -> anyhow::Result<DatabaseConnection> {
        let mut options = ConnectOptions::new(self.url.clone());
        options
            .max_connections(pool)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(600))
            .sqlx_logging(false);
        match self.kind {
            BackendKind::Sqlite => {
                options.map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
                    opts.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Full)
                        .busy_timeout(Duration::from_secs(5))
                });
                if let Some(flag) = interrupt {
                    // SQLite cannot be cancelled from outside: every connection asks the
                    // flag every 1000 instructions and stops its statement when it is set.
                    options.map_sqlx_sqlite_pool_opts(move |pool: PoolOptions<Sqlite>| {
                        let flag = Arc::clone(&flag);
                        pool.after_connect(move |conn, _| {
                            let flag = Arc::clone(&flag);
                            Box::pin(async move {
                                conn.lock_handle()
                                    .await?
                                    .set_progress_handler(1000, move || {
                                        !flag.load(Ordering::Relaxed)
                                    });
                                Ok(())
                            })
                        })
                    });
                }
            }
            BackendKind::Postgres => {
                if interrupt.is_some() {
                    options.map_sqlx_postgres_opts(|opts: PgConnectOptions| {
                        opts.application_name(BASELINE_APPLICATION)
                    });
                }
            }
        }
        Database::connect(options)
            .await
            .with_context(|| format!("cannot connect to the {} database", self.kind))
    }

    /// Whether the database has a table of this name (an older server's has no log
    /// tables).
    pub async fn has_table(&self, db: &DatabaseConnection, name: &str) -> anyhow::Result<bool> {
        let sql = match self.kind {
            BackendKind::Sqlite => {
                "SELECT 1 AS n FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            BackendKind::Postgres => {
                "SELECT 1 AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1"
            }
        };
        let row = db
            .query_one_raw(self.statement(sql, vec![name.into()]))
            .await
            .with_context(|| format!("cannot look for the table {name}"))?;
        Ok(row.is_some())
    }

    /// Entries in auditlog's table, or None when it does not exist yet.
    pub async fn stored_entries(&self) -> Option<u64> {
        let db = self.connect(1).await.ok()?;
        let row = db
            .query_one_raw(self.statement("SELECT COUNT(*) AS n FROM audit_logs", vec![]))
            .await
            .ok()??;
        let n: i64 = row.try_get("", "n").ok()?;
        u64::try_from(n).ok()
    }
}

/// The URL of the `postgres` database on the same server, and the benchmark
/// database's name.
fn admin_url_and_name(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let Some(slash) = base[scheme_end..].rfind('/').map(|i| i + scheme_end) else {
        bail!("BENCH_POSTGRES_URL must name a database (postgres://host/NAME)");
    };
    let name = &base[slash + 1..];
    if name.is_empty() || name == "postgres" {
        bail!("BENCH_POSTGRES_URL must name a database of its own, not '{name}'");
    }
    let mut admin = format!("{}/postgres", &base[..slash]);
    if !query.is_empty() {
        admin = format!("{admin}?{query}");
    }
    Ok((admin, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_url_keeps_host_and_options() {
        let (admin, name) =
            admin_url_and_name("postgres://u@127.0.0.1:5432/auditlog_bench?sslmode=disable")
                .expect("valid");
        assert_eq!(
            admin,
            "postgres://u@127.0.0.1:5432/postgres?sslmode=disable"
        );
        assert_eq!(name, "auditlog_bench");
        assert!(admin_url_and_name("postgres://127.0.0.1/postgres").is_err());
        assert!(admin_url_and_name("postgres://127.0.0.1").is_err());
    }
}
