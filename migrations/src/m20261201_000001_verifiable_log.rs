//! Each tenant's entries become the leaves of an append-only Merkle tree (RFC 9162),
//! whose heads are kept as signed checkpoints.
//!
//! - `audit_log_pending`: the entries stored but not yet in their tenant's tree, in the
//!   order the log takes them (`seq`). A write adds its new entries here in its own
//!   transaction, with its leaf hash when the write computed it (a bulk load leaves it
//!   out); the integrator moves them into the tree and removes them.
//! - `audit_log_leaves`: leaf `leaf_index` of a tenant's tree is entry `entry_id`;
//!   `hashes` are the stored hashes that appending it wrote (its leaf hash, then the
//!   hash of each subtree it completed), 32 bytes each, so a proof reads a few rows.
//! - `audit_log_checkpoints`: every signed checkpoint, by tenant and tree size.
//! - `audit_log_signing_keys`: the verifier keys that have signed checkpoints, so that
//!   a key that changed is noticed. The signing key itself never enters the database.
//!
//! The database refuses `UPDATE` and `DELETE` of entries, leaves and checkpoints
//! (triggers), so history changes only for someone who removes the triggers first; the
//! proofs then show it. Entries stored before this step join the log in the order of
//! their time.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLogPending {
    Table,
    Seq,
    TenantId,
    EntryId,
    LeafHash,
}

#[derive(DeriveIden)]
enum AuditLogLeaves {
    Table,
    TenantId,
    LeafIndex,
    EntryId,
    Hashes,
}

#[derive(DeriveIden)]
enum AuditLogCheckpoints {
    Table,
    TenantId,
    Size,
    Root,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLogSigningKeys {
    Table,
    VerifierKey,
    CreatedAt,
}

/// The tables whose rows are never updated nor deleted.
const APPEND_ONLY: [&str; 3] = ["audit_logs", "audit_log_leaves", "audit_log_checkpoints"];

/// The statements that make [`APPEND_ONLY`] refuse changes on `backend`.
fn append_only_sql(backend: DbBackend) -> Vec<String> {
    match backend {
        DbBackend::Postgres => {
            let mut statements = vec![
                "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                   RAISE EXCEPTION 'auditlog: % of % refused: the audit log is append-only', \
                     TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; \
                 END $$"
                    .to_owned(),
            ];
            for table in APPEND_ONLY {
                statements.push(format!(
                    "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
                ));
            }
            statements
        }
        _ => APPEND_ONLY
            .iter()
            .flat_map(|table| {
                ["UPDATE", "DELETE"].map(|op| {
                    format!(
                        "CREATE TRIGGER IF NOT EXISTS {table}_no_{} BEFORE {op} ON {table} \
                         BEGIN SELECT RAISE(ABORT, 'auditlog: {op} of {table} refused: \
                         the audit log is append-only'); END",
                        op.to_ascii_lowercase()
                    )
                })
            })
            .collect(),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogPending::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLogPending::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditLogPending::TenantId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogPending::EntryId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogPending::LeafHash).binary().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_pending_tenant")
                    .table(AuditLogPending::Table)
                    .col(AuditLogPending::TenantId)
                    .col(AuditLogPending::Seq)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogLeaves::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AuditLogLeaves::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AuditLogLeaves::LeafIndex)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogLeaves::EntryId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogLeaves::Hashes).binary().not_null())
                    .primary_key(
                        Index::create()
                            .col(AuditLogLeaves::TenantId)
                            .col(AuditLogLeaves::LeafIndex),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_log_leaves_entry")
                    .table(AuditLogLeaves::Table)
                    .col(AuditLogLeaves::TenantId)
                    .col(AuditLogLeaves::EntryId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogCheckpoints::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLogCheckpoints::TenantId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditLogCheckpoints::Size)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditLogCheckpoints::Root)
                            .binary_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogCheckpoints::Note).text().not_null())
                    .col(
                        ColumnDef::new(AuditLogCheckpoints::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(AuditLogCheckpoints::TenantId)
                            .col(AuditLogCheckpoints::Size),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogSigningKeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLogSigningKeys::VerifierKey)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditLogSigningKeys::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // What is stored already joins the log, each tenant's in the order of time.
        db.execute_unprepared(
            "INSERT INTO audit_log_pending (tenant_id, entry_id) \
             SELECT tenant_id, id FROM audit_logs ORDER BY tenant_id, created_at, id",
        )
        .await?;
        for statement in append_only_sql(manager.get_database_backend()) {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in APPEND_ONLY {
            let drops = match manager.get_database_backend() {
                DbBackend::Postgres => vec![format!(
                    "DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
                )],
                _ => vec![
                    format!("DROP TRIGGER IF EXISTS {table}_no_update"),
                    format!("DROP TRIGGER IF EXISTS {table}_no_delete"),
                ],
            };
            for drop in drops {
                db.execute_unprepared(&drop).await?;
            }
        }
        for table in [
            AuditLogSigningKeys::Table.into_iden(),
            AuditLogCheckpoints::Table.into_iden(),
            AuditLogLeaves::Table.into_iden(),
            AuditLogPending::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
