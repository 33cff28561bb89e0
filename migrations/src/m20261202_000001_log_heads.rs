//! Each tenant's log head: the size of its tree and the hashes of the tree's right edge
//! (its maximal complete subtrees, from the largest), kept in one row a tenant.
//!
//! A write takes its new entries into the tree in its own transaction: it locks the
//! tenant's head, appends the leaves after it and moves the head on, so that the
//! entries and their leaves commit together and no queue stands between them. The
//! right edge is what appending a leaf and computing the root need, so a write reads
//! no other hashes. The head is a cache of the leaves, not part of the history: it is
//! updated in place, and `verify` never trusts it. An edge of the wrong length is
//! ignored and read again from the leaves.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLogHeads {
    Table,
    TenantId,
    Size,
    Edge,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogHeads::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLogHeads::TenantId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditLogHeads::Size).big_integer().not_null())
                    .col(ColumnDef::new(AuditLogHeads::Edge).binary().null())
                    .to_owned(),
            )
            .await?;
        // The trees grown so far; their edges are read from the leaves on first use.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO audit_log_heads (tenant_id, size) \
                 SELECT tenant_id, MAX(leaf_index) + 1 FROM audit_log_leaves GROUP BY tenant_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLogHeads::Table).to_owned())
            .await
    }
}
