//! Index-backed search and exact counts without scans.
//!
//! - `q` is a case-insensitive substring of an entry's address, user id or e-mail
//!   address. Entries repeat the same few values endlessly, so the trigram index covers
//!   `audit_log_terms`, each tenant's distinct searchable values (field 0: address text,
//!   with its sort key; 1: folded user id; 2: folded e-mail address), and not the
//!   entries: a search finds its terms there, then the entries through their b-tree
//!   indexes. A value is indexed once, when it first appears. PostgreSQL uses pg_trgm's
//!   GIN index; SQLite an FTS5 table with the trigram tokenizer.
//! - `audit_log_counts` holds each tenant's number of entries per UTC day, kept in the
//!   same transaction as the entries. The unfiltered `X-Total-Count` is a sum of at most
//!   a few hundred rows, and a deep page seeks to its day instead of skipping rows.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// Microseconds in a UTC day: the width of a count bucket.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLogCounts {
    Table,
    TenantId,
    Day,
    Entries,
}

#[derive(DeriveIden)]
enum AuditLogTerms {
    Table,
    TenantId,
    Field,
    Value,
    Key,
}

/// `floor(created_at / DAY_MICROS)` in SQL that both backends evaluate alike, also
/// before 1970 (where `/` alone would round towards zero).
pub(crate) fn day_sql() -> String {
    format!(
        "((created_at - (((created_at % {DAY_MICROS}) + {DAY_MICROS}) % {DAY_MICROS})) / {DAY_MICROS})"
    )
}

/// The distinct searchable values of the rows of `source` (a table or CTE with the
/// columns of `audit_logs`), as rows of `audit_log_terms`: each field grouped on its
/// own (a hash each, where one `UNION` would sort every row), the fields disjoint.
pub(crate) fn terms_of_sql(source: &str) -> String {
    format!(
        "SELECT tenant_id, 0, meta_source_ip, ip_key FROM {source} \
           GROUP BY tenant_id, meta_source_ip, ip_key \
         UNION ALL {}",
        person_terms_of_sql(source)
    )
}

/// The user id and e-mail address part of [`terms_of_sql`] (fields 1 and 2).
pub(crate) fn person_terms_of_sql(source: &str) -> String {
    format!(
        "SELECT tenant_id, 1, actor_user_id_ci, NULL FROM {source} \
           WHERE actor_user_id_ci IS NOT NULL GROUP BY tenant_id, actor_user_id_ci \
         UNION ALL SELECT tenant_id, 2, actor_email_ci, NULL FROM {source} \
           WHERE actor_email_ci IS NOT NULL GROUP BY tenant_id, actor_email_ci"
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
        manager
            .create_table(
                Table::create()
                    .table(AuditLogTerms::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AuditLogTerms::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AuditLogTerms::Field)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogTerms::Value).text().not_null())
                    .col(ColumnDef::new(AuditLogTerms::Key).binary_len(16).null())
                    .primary_key(
                        Index::create()
                            .col(AuditLogTerms::TenantId)
                            .col(AuditLogTerms::Field)
                            .col(AuditLogTerms::Value),
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
                db.execute_unprepared(
                    "CREATE INDEX IF NOT EXISTS ix_audit_log_terms_value ON audit_log_terms USING gin (value gin_trgm_ops)",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS audit_log_terms_search USING fts5(\
                     value, tenant_id UNINDEXED, field UNINDEXED, key UNINDEXED, tokenize = 'trigram')",
                )
                .await?;
                // Only terms actually inserted fire it: a value is indexed once.
                db.execute_unprepared(
                    "CREATE TRIGGER IF NOT EXISTS audit_log_terms_search_insert AFTER INSERT ON audit_log_terms BEGIN \
                     INSERT INTO audit_log_terms_search (value, tenant_id, field, key) \
                     VALUES (new.value, new.tenant_id, new.field, new.key); END",
                )
                .await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        db.execute_unprepared(&format!(
            "INSERT INTO audit_log_terms (tenant_id, field, value, key) {} ON CONFLICT DO NOTHING",
            terms_of_sql("audit_logs")
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared("DROP TRIGGER IF EXISTS audit_log_terms_search_insert")
                .await?;
            db.execute_unprepared("DROP TABLE IF EXISTS audit_log_terms_search")
                .await?;
        }
        for table in [
            AuditLogTerms::Table.into_iden(),
            AuditLogCounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
