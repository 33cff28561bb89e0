//! The first schema: tenants, API keys and audit log entries, with the indexes that
//! the list queries use.

use sea_orm_migration::prelude::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    Hash,
    ScopeRead,
    ScopeWrite,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    TenantId,
    Id,
    Type,
    Error,
    MetaHttpRequestId,
    MetaSourceIp,
    IpKey,
    MetaUserAgent,
    ActorUserId,
    ActorUserIdCi,
    ActorEmail,
    ActorEmailCi,
    Details,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tenants::Name).text().not_null())
                    .col(ColumnDef::new(Tenants::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(ApiKeys::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ApiKeys::TenantId).uuid().not_null())
                    .col(ColumnDef::new(ApiKeys::Name).text().not_null())
                    .col(ColumnDef::new(ApiKeys::Prefix).text().not_null())
                    // The SHA-256 of the secret, 32 bytes; the secret itself is never stored.
                    .col(ColumnDef::new(ApiKeys::Hash).binary_len(32).not_null())
                    .col(ColumnDef::new(ApiKeys::ScopeRead).boolean().not_null())
                    .col(ColumnDef::new(ApiKeys::ScopeWrite).boolean().not_null())
                    .col(ColumnDef::new(ApiKeys::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(ApiKeys::RevokedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // Unique, so that registering a secret twice finds the first key (ON CONFLICT).
        manager
            .create_index(
                Index::create()
                    .name("ux_api_keys_hash")
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .unique()
                    .col(ApiKeys::Hash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_tenant_id")
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(ApiKeys::TenantId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AuditLogs::TenantId).uuid().not_null())
                    .col(ColumnDef::new(AuditLogs::Id).uuid().not_null())
                    .col(ColumnDef::new(AuditLogs::Type).text().not_null())
                    .col(ColumnDef::new(AuditLogs::Error).text().null())
                    .col(
                        ColumnDef::new(AuditLogs::MetaHttpRequestId)
                            .text()
                            .not_null(),
                    )
                    // Canonical text (RFC 5952, IPv4-mapped addresses as IPv4), what `q` searches.
                    .col(ColumnDef::new(AuditLogs::MetaSourceIp).text().not_null())
                    // 16 bytes whose order is the addresses' order, so a CIDR block is a key range.
                    .col(ColumnDef::new(AuditLogs::IpKey).binary_len(16).not_null())
                    .col(ColumnDef::new(AuditLogs::MetaUserAgent).text().not_null())
                    .col(ColumnDef::new(AuditLogs::ActorUserId).text().null())
                    // ASCII-folded copies, so case-insensitive matching is the same on every backend.
                    .col(ColumnDef::new(AuditLogs::ActorUserIdCi).text().null())
                    .col(ColumnDef::new(AuditLogs::ActorEmail).text().null())
                    .col(ColumnDef::new(AuditLogs::ActorEmailCi).text().null())
                    // The JSON object as serde_json wrote it: text round-trips exactly.
                    .col(ColumnDef::new(AuditLogs::Details).text().null())
                    .col(
                        ColumnDef::new(AuditLogs::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditLogs::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    // Ids are unique per tenant only.
                    .primary_key(Index::create().col(AuditLogs::TenantId).col(AuditLogs::Id))
                    .to_owned(),
            )
            .await?;

        // The default order, newest first, and keyset pages.
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_logs_tenant_created")
                    .table(AuditLogs::Table)
                    .if_not_exists()
                    .col(AuditLogs::TenantId)
                    .col((AuditLogs::CreatedAt, IndexOrder::Desc))
                    .col((AuditLogs::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        // One index per filter that selects few entries, each ending in the sort order.
        for (name, column) in [
            ("ix_audit_logs_tenant_type", AuditLogs::Type),
            // The folded copy serves both the exact filter (with the exact value checked
            // beside it) and the search.
            (
                "ix_audit_logs_tenant_actor_user_id_ci",
                AuditLogs::ActorUserIdCi,
            ),
            (
                "ix_audit_logs_tenant_actor_email_ci",
                AuditLogs::ActorEmailCi,
            ),
            ("ix_audit_logs_tenant_ip_key", AuditLogs::IpKey),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditLogs::Table)
                        .if_not_exists()
                        .col(AuditLogs::TenantId)
                        .col(column)
                        .col(AuditLogs::CreatedAt)
                        .col(AuditLogs::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLogs::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
