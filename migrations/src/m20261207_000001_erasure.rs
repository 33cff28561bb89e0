//! Erasure: an entry's personal data may be removed in place, inside a removal's own
//! transaction only (its tenant in `audit_log_removing`), as a retention removal
//! deletes entries; any other `UPDATE` of an entry is refused as before.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The message of a refused change, as the entries' triggers have written it.
const REFUSED: &str = "the audit log is append-only";

/// The PostgreSQL trigger function of the entries, letting through the operations
/// `allowed` (a SQL list such as `'DELETE'`) inside a removal.
fn removable_sql(allowed: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION audit_log_entry_removable() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
           IF TG_OP IN ({allowed}) AND EXISTS \
             (SELECT 1 FROM audit_log_removing WHERE tenant_id = OLD.tenant_id) THEN \
             IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; \
             RETURN NEW; \
           END IF; \
           RAISE EXCEPTION 'auditlog: % of % refused: {REFUSED}', \
             TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; \
         END $$"
    )
}

/// SQLite's trigger refusing `UPDATE` of entries, outside a removal when `gated`.
fn sqlite_update_sql(gated: bool) -> Vec<String> {
    let unless = if gated {
        " WHERE NOT EXISTS (SELECT 1 FROM audit_log_removing WHERE tenant_id = old.tenant_id)"
    } else {
        ""
    };
    vec![
        "DROP TRIGGER IF EXISTS audit_logs_no_update".to_owned(),
        format!(
            "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs BEGIN \
             SELECT RAISE(ABORT, 'auditlog: UPDATE of audit_logs refused: {REFUSED}'){unless}; END"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                manager
                    .get_connection()
                    .execute_unprepared(&removable_sql("'DELETE', 'UPDATE'"))
                    .await?;
                Ok(())
            }
            _ => crate::sqlite_batch(manager, &sqlite_update_sql(true)).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                manager
                    .get_connection()
                    .execute_unprepared(&removable_sql("'DELETE'"))
                    .await?;
                Ok(())
            }
            _ => crate::sqlite_batch(manager, &sqlite_update_sql(false)).await,
        }
    }
}
