//! Retention: entries removed on purpose, without losing the log's tamper evidence.
//!
//! - `tenants.retention_days` (absent: the service's default) and `tenants.legal_hold`
//!   (no removal while on).
//! - `audit_log_removals`: every removal, kept for ever (append-only): its tenant, when,
//!   why, by which rule, which leaves, and the signed note of it all
//!   (`auditlog_domain::log::Removal`). The leaves stay, so every proof still verifies.
//! - `audit_log_removing`: empty but inside a removal's transaction, which adds its
//!   tenant here first. The entries' triggers refuse a `DELETE` unless its tenant is
//!   here, so removal takes a path of its own, and a row deleted any other way still
//!   shows as missing to `auditlog verify` (a removal is only accepted with a valid
//!   signature naming the leaf).
//! - Search terms that are removed take their index rows with them: SQLite's trigram
//!   rows (in the tenant's range), PostgreSQL's address suffixes.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::{SEARCH_TERM_BITS as BITS, m20260104_000001_address_suffixes::suffixes_sql};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    RetentionDays,
    LegalHold,
}

#[derive(DeriveIden)]
enum AuditLogRemovals {
    Table,
    Id,
    TenantId,
    RemovedAt,
    Reason,
    Rule,
    Leaves,
    Entries,
    Note,
}

#[derive(DeriveIden)]
enum AuditLogRemoving {
    Table,
    TenantId,
}

/// The message of a refused change, as the entries' triggers have written it.
const REFUSED: &str = "the audit log is append-only";

fn up_sql(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![
            format!(
                "CREATE OR REPLACE FUNCTION audit_log_entry_removable() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                   IF TG_OP = 'DELETE' AND EXISTS \
                     (SELECT 1 FROM audit_log_removing WHERE tenant_id = OLD.tenant_id) THEN \
                     RETURN OLD; \
                   END IF; \
                   RAISE EXCEPTION 'auditlog: % of % refused: {REFUSED}', \
                     TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; \
                 END $$"
            ),
            "DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs".to_owned(),
            "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs \
             FOR EACH ROW EXECUTE FUNCTION audit_log_entry_removable()"
                .to_owned(),
            "CREATE TRIGGER audit_log_removals_append_only BEFORE UPDATE OR DELETE \
             ON audit_log_removals FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
                .to_owned(),
            format!(
                "CREATE OR REPLACE FUNCTION audit_log_ip_suffixes_remove() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                   DELETE FROM audit_log_ip_suffixes s USING ({}) AS d (tenant_id, suffix, value) \
                   WHERE s.tenant_id = d.tenant_id AND s.suffix = d.suffix AND s.value = d.value; \
                   RETURN NULL; \
                 END $$",
                suffixes_sql("SELECT", "old_terms")
            ),
            "CREATE TRIGGER audit_log_terms_ip_suffixes_removed AFTER DELETE ON audit_log_terms \
             REFERENCING OLD TABLE AS old_terms FOR EACH STATEMENT \
             EXECUTE FUNCTION audit_log_ip_suffixes_remove()"
                .to_owned(),
        ],
        _ => vec![
            "DROP TRIGGER IF EXISTS audit_logs_no_delete".to_owned(),
            format!(
                "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs BEGIN \
                 SELECT RAISE(ABORT, 'auditlog: DELETE of audit_logs refused: {REFUSED}') \
                 WHERE NOT EXISTS (SELECT 1 FROM audit_log_removing WHERE tenant_id = old.tenant_id); END"
            ),
            format!(
                "CREATE TRIGGER audit_log_removals_no_update BEFORE UPDATE ON audit_log_removals \
                 BEGIN SELECT RAISE(ABORT, 'auditlog: UPDATE of audit_log_removals refused: {REFUSED}'); END"
            ),
            format!(
                "CREATE TRIGGER audit_log_removals_no_delete BEFORE DELETE ON audit_log_removals \
                 BEGIN SELECT RAISE(ABORT, 'auditlog: DELETE of audit_log_removals refused: {REFUSED}'); END"
            ),
            // The trigram rows of a removed term: in the tenant's range, found through
            // the index by the value itself (a pattern without wildcards but its own).
            format!(
                "CREATE TRIGGER audit_log_terms_search_delete AFTER DELETE ON audit_log_terms BEGIN \
                 DELETE FROM audit_log_terms_search WHERE value LIKE old.value \
                 AND rowid >= (SELECT number << {BITS} FROM audit_log_search_tenants WHERE tenant_id = old.tenant_id) \
                 AND rowid < (SELECT (number + 1) << {BITS} FROM audit_log_search_tenants WHERE tenant_id = old.tenant_id) \
                 AND value = old.value AND field = old.field; END"
            ),
        ],
    }
}

fn down_sql(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![
            "DROP TRIGGER IF EXISTS audit_log_terms_ip_suffixes_removed ON audit_log_terms"
                .to_owned(),
            "DROP FUNCTION IF EXISTS audit_log_ip_suffixes_remove()".to_owned(),
            "DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs".to_owned(),
            "CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs \
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
                .to_owned(),
            "DROP FUNCTION IF EXISTS audit_log_entry_removable()".to_owned(),
        ],
        _ => vec![
            "DROP TRIGGER IF EXISTS audit_log_terms_search_delete".to_owned(),
            "DROP TRIGGER IF EXISTS audit_logs_no_delete".to_owned(),
            format!(
                "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs \
                 BEGIN SELECT RAISE(ABORT, 'auditlog: DELETE of audit_logs refused: {REFUSED}'); END"
            ),
        ],
    }
}

/// Runs `statements`: on SQLite as one batch ([`crate::sqlite_batch`]).
async fn run(manager: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Sqlite {
        return crate::sqlite_batch(manager, statements).await;
    }
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::RetentionDays).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(
                        ColumnDef::new(Tenants::LegalHold)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogRemovals::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLogRemovals::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditLogRemovals::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AuditLogRemovals::RemovedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogRemovals::Reason).text().not_null())
                    .col(ColumnDef::new(AuditLogRemovals::Rule).text().not_null())
                    .col(ColumnDef::new(AuditLogRemovals::Leaves).text().not_null())
                    .col(
                        ColumnDef::new(AuditLogRemovals::Entries)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogRemovals::Note).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_removals_tenant")
                    .table(AuditLogRemovals::Table)
                    .col(AuditLogRemovals::TenantId)
                    .col(AuditLogRemovals::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogRemoving::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLogRemoving::TenantId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .to_owned(),
            )
            .await?;
        run(manager, &up_sql(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &down_sql(manager.get_database_backend())).await?;
        for table in [
            AuditLogRemoving::Table.into_iden(),
            AuditLogRemovals::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for column in [
            Tenants::LegalHold.into_iden(),
            Tenants::RetentionDays.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
