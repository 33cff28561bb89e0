//! Index-backed search and exact counts without scans.
//!
//! - `q` is a substring search; a trigram index finds its candidates: pg_trgm's GIN
//!   index on PostgreSQL, an FTS5 table with the trigram tokenizer on SQLite. Both
//!   index [`SEARCH_TEXT_SQL`], the searchable fields joined by spaces; the query keeps
//!   the exact per-field condition, so the index only narrows and never changes an
//!   answer.
//! - `audit_log_counts` holds each tenant's number of entries per UTC day, kept in the
//!   same transaction as the entries. The unfiltered `X-Total-Count` is a sum of at most
//!   a few hundred rows, and a deep page seeks to its day instead of skipping rows.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// The searchable text of an entry: canonical address, folded user id, folded e-mail.
pub const SEARCH_TEXT_SQL: &str = "(meta_source_ip || ' ' || coalesce(actor_user_id_ci, '') || ' ' || coalesce(actor_email_ci, ''))";

/// Microseconds in a UTC day: the width of a count bucket.
pub const DAY_MICROS: i64 = 86_400_000_000;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLogCounts {
    Table,
    TenantId,
    Day,
    Entries,
}

/// `floor(created_at / DAY_MICROS)` in SQL that both backends evaluate alike, also
/// before 1970 (where `/` alone would round towards zero).
fn day_sql() -> String {
    format!(
        "((created_at - (((created_at % {DAY_MICROS}) + {DAY_MICROS}) % {DAY_MICROS})) / {DAY_MICROS})"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogCounts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AuditLogCounts::TenantId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogCounts::Day).big_integer().not_null())
                    .col(
                        ColumnDef::new(AuditLogCounts::Entries)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AuditLogCounts::TenantId)
                            .col(AuditLogCounts::Day),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO audit_log_counts (tenant_id, day, entries) \
             SELECT tenant_id, {day}, COUNT(*) FROM audit_logs GROUP BY tenant_id, {day}",
            day = day_sql()
        ))
        .await?;

        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    .await?;
                db.execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS ix_audit_logs_search ON audit_logs USING gin ({SEARCH_TEXT_SQL} gin_trgm_ops)"
                ))
                .await?;
            }
            DbBackend::Sqlite => {
                // Keyed by (tenant_id, id), not rowid: VACUUM may renumber the rowids of
                // a table without an INTEGER PRIMARY KEY.
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS audit_logs_search USING fts5(\
                     search, tenant_id UNINDEXED, id UNINDEXED, tokenize = 'trigram')",
                )
                .await?;
                let new_text = SEARCH_TEXT_SQL
                    .replace("meta_source_ip", "new.meta_source_ip")
                    .replace("actor_user_id_ci", "new.actor_user_id_ci")
                    .replace("actor_email_ci", "new.actor_email_ci");
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER IF NOT EXISTS audit_logs_search_insert AFTER INSERT ON audit_logs BEGIN \
                     INSERT INTO audit_logs_search (search, tenant_id, id) VALUES ({new_text}, new.tenant_id, new.id); END"
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "INSERT INTO audit_logs_search (search, tenant_id, id) SELECT {SEARCH_TEXT_SQL}, tenant_id, id FROM audit_logs"
                ))
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP INDEX IF EXISTS ix_audit_logs_search")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS audit_logs_search_insert")
                    .await?;
                db.execute_unprepared("DROP TABLE IF EXISTS audit_logs_search")
                    .await?;
            }
        }
        manager
            .drop_table(
                Table::drop()
                    .table(AuditLogCounts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
