//! The baseline's table: Hanko's `audit_logs` schema and indexes (its fizz migrations:
//! `uuid` id, `string` columns, `t.Timestamps()`, one index per filter column and none
//! on `created_at`), plus `tenant_id` as the passkey server has it, filled from
//! auditlog's rows in the order they happened.

use std::time::Instant;

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};

use crate::{args::BackendKind, backend::Target};

/// The baseline's table.
pub const TABLE: &str = "hanko_audit_logs";

/// Its columns, in the order pop (Hanko's ORM) lists them in a `SELECT`.
pub const COLUMNS: &[&str] = &[
    "actor_email",
    "actor_user_id",
    "created_at",
    "details",
    "error",
    "id",
    "meta_http_request_id",
    "meta_source_ip",
    "meta_user_agent",
    "tenant_id",
    "type",
    "updated_at",
];

/// Hanko's indexes: one per filter column, none on `created_at`.
const INDEXED: &[&str] = &[
    "type",
    "actor_user_id",
    "actor_email",
    "meta_http_request_id",
    "meta_source_ip",
    "tenant_id",
];

/// How building the baseline went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineBuild {
    pub rows: u64,
    pub seconds: f64,
}

fn create_table(kind: BackendKind) -> String {
    // fizz: "uuid" is UUID on PostgreSQL and char(36) on SQLite, "string" is
    // VARCHAR(255), Timestamps() are TIMESTAMP (PostgreSQL) / DATETIME (SQLite).
    let (uuid, timestamp) = match kind {
        BackendKind::Postgres => ("UUID", "TIMESTAMP"),
        BackendKind::Sqlite => ("CHAR(36)", "DATETIME"),
    };
    format!(
        "CREATE TABLE {TABLE} (
            id {uuid} NOT NULL PRIMARY KEY,
            type VARCHAR(255) NOT NULL,
            error VARCHAR(255) NULL,
            meta_http_request_id VARCHAR(255) NOT NULL,
            meta_source_ip VARCHAR(255) NOT NULL,
            meta_user_agent VARCHAR(255) NOT NULL,
            actor_user_id {uuid} NULL,
            actor_email VARCHAR(255) NULL,
            tenant_id {uuid} NULL,
            details TEXT NULL,
            created_at {timestamp} NOT NULL,
            updated_at {timestamp} NOT NULL
        )"
    )
}

/// SQLite: a 16-byte UUID blob as the hyphenated text that Hanko's ORM writes.
fn sqlite_uuid_text(column: &str) -> String {
    let part = |from: u32, len: u32| format!("substr(hex({column}), {from}, {len})");
    format!(
        "lower({} || '-' || {} || '-' || {} || '-' || {} || '-' || {})",
        part(1, 8),
        part(9, 4),
        part(13, 4),
        part(17, 4),
        part(21, 12)
    )
}

/// SQLite: microseconds since the epoch as the text that go-sqlite3 writes for a
/// `time.Time` in UTC (`2006-01-02 15:04:05.999999+00:00`, always 6 digits here).
pub fn sqlite_time_text(column: &str) -> String {
    format!(
        "strftime('%Y-%m-%d %H:%M:%S', {column} / 1000000, 'unixepoch') \
         || printf('.%06d', {column} % 1000000) || '+00:00'"
    )
}

fn copy_rows(kind: BackendKind) -> String {
    let columns = "id, type, error, meta_http_request_id, meta_source_ip, meta_user_agent, \
                   actor_user_id, actor_email, tenant_id, details, created_at, updated_at";
    match kind {
        BackendKind::Postgres => format!(
            "INSERT INTO {TABLE} ({columns})
             SELECT id, type, error, meta_http_request_id, meta_source_ip, meta_user_agent,
                    CASE WHEN actor_user_id ~ '^[0-9a-fA-F]{{8}}-([0-9a-fA-F]{{4}}-){{3}}[0-9a-fA-F]{{12}}$'
                         THEN actor_user_id::uuid END,
                    actor_email, tenant_id, details,
                    TIMESTAMP 'epoch' + created_at * INTERVAL '1 microsecond',
                    TIMESTAMP 'epoch' + updated_at * INTERVAL '1 microsecond'
             FROM audit_logs ORDER BY created_at
             ON CONFLICT (id) DO NOTHING"
        ),
        BackendKind::Sqlite => format!(
            "INSERT OR IGNORE INTO {TABLE} ({columns})
             SELECT {}, type, error, meta_http_request_id, meta_source_ip, meta_user_agent,
                    actor_user_id, actor_email, {}, details, {}, {}
             FROM audit_logs ORDER BY created_at",
            sqlite_uuid_text("id"),
            sqlite_uuid_text("tenant_id"),
            sqlite_time_text("created_at"),
            sqlite_time_text("updated_at"),
        ),
    }
}

/// Creates and fills the baseline table from auditlog's rows (oldest first, the order
/// in which Hanko would have inserted them), indexes it as Hanko does, and refreshes
/// the planner's statistics of both tables, as autovacuum would have in production.
pub async fn build(target: &Target, db: &DatabaseConnection) -> anyhow::Result<BaselineBuild> {
    let started = Instant::now();
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .await
        .context("cannot drop the baseline table")?;
    db.execute_unprepared(&create_table(target.kind))
        .await
        .context("cannot create the baseline table")?;
    let copied = db
        .execute_unprepared(&copy_rows(target.kind))
        .await
        .context("cannot copy the entries into the baseline table")?;
    for column in INDEXED {
        db.execute_unprepared(&format!(
            "CREATE INDEX {TABLE}_{column}_idx ON {TABLE} ({column})"
        ))
        .await
        .with_context(|| format!("cannot index the baseline's {column}"))?;
    }
    let analyze = match target.kind {
        // `auditlog seed` ends its bulk load with VACUUM ANALYZE of auditlog's tables.
        BackendKind::Postgres => vec![format!("VACUUM ANALYZE {TABLE}")],
        BackendKind::Sqlite => vec!["ANALYZE".to_owned()],
    };
    for sql in analyze {
        db.execute_unprepared(&sql)
            .await
            .with_context(|| format!("cannot run {sql}"))?;
    }
    Ok(BaselineBuild {
        rows: copied.rows_affected(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
