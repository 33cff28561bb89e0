//! Who read the log, kept apart from the entries:
//! - `api_keys.scope_access_log`: whether a key may read the access log (no key had
//!   it before);
//! - `access_logs`: one row a read of a tenant's log (when, which key, which operation
//!   on which path with which parameters, how many entries it returned), read per
//!   tenant newest first by its UUIDv7 id; append-only, as the entries are (triggers
//!   refuse `UPDATE` and `DELETE`).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// The statements that make `access_logs` refuse changes on `backend`: on PostgreSQL
/// the trigger function of the entries (`m20261201_000001_verifiable_log`).
fn append_only_sql(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::Postgres => vec![
            "CREATE TRIGGER access_logs_append_only BEFORE UPDATE OR DELETE ON access_logs \
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ],
        _ => vec![
            "CREATE TRIGGER IF NOT EXISTS access_logs_no_update BEFORE UPDATE ON access_logs \
             BEGIN SELECT RAISE(ABORT, 'auditlog: UPDATE of access_logs refused: \
             the access log is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS access_logs_no_delete BEFORE DELETE ON access_logs \
             BEGIN SELECT RAISE(ABORT, 'auditlog: DELETE of access_logs refused: \
             the access log is append-only'); END",
        ],
    }
}

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    ScopeAccessLog,
}

#[derive(DeriveIden)]
enum AccessLogs {
    Table,
    Id,
    TenantId,
    KeyId,
    At,
    Operation,
    Path,
    Parameters,
    Returned,
    RequestId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(
                        ColumnDef::new(ApiKeys::ScopeAccessLog)
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
                    .table(AccessLogs::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AccessLogs::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccessLogs::TenantId).uuid().not_null())
                    .col(ColumnDef::new(AccessLogs::KeyId).uuid().null())
                    .col(ColumnDef::new(AccessLogs::At).big_integer().not_null())
                    .col(ColumnDef::new(AccessLogs::Operation).text().not_null())
                    .col(ColumnDef::new(AccessLogs::Path).text().not_null())
                    // A JSON object, as serde_json wrote it.
                    .col(ColumnDef::new(AccessLogs::Parameters).text().not_null())
                    .col(
                        ColumnDef::new(AccessLogs::Returned)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessLogs::RequestId).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("access_logs_tenant_id")
                    .table(AccessLogs::Table)
                    .col(AccessLogs::TenantId)
                    .col(AccessLogs::Id)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in append_only_sql(manager.get_database_backend()) {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccessLogs::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::ScopeAccessLog)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
