//! The database migrations of auditlog, one file per step, for SQLite and PostgreSQL
//! from the same code.
//!
//! Every time is a BIGINT of microseconds since the Unix epoch (UTC), so that both
//! backends store it exactly and compare it the same way. There are no foreign keys:
//! programs that embed the store need no tenant rows.
#![forbid(unsafe_code)]

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20260101_000001_create_tables;
mod m20260102_000001_search_and_counts;
mod m20260103_000001_search_words;
mod m20260104_000001_address_suffixes;
mod m20260105_000001_byte_order_and_terms_epoch;
mod m20260106_000001_operator_key_prefixes;
mod m20261201_000001_verifiable_log;
mod m20261202_000001_log_heads;
mod m20261203_000001_key_expiry;
mod m20261203_000002_chosen_key_prefixes;
mod m20261204_000001_access_log;
mod m20261205_000001_tenant_search_ranges;
mod m20261206_000001_retention;
mod m20261207_000001_erasure;

/// Runs `statements` in order on PostgreSQL; nothing on SQLite.
pub(crate) async fn on_postgres(
    manager: &SchemaManager<'_>,
    statements: &[String],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// SQLite: the low bits of a rowid of `audit_log_terms_search` that number one
/// tenant's terms; the bits above are the tenant's number in `audit_log_search_tenants`.
pub const SEARCH_TERM_BITS: u32 = 36;

/// Runs `statements` in order on SQLite; nothing on PostgreSQL.
pub(crate) async fn on_sqlite(
    manager: &SchemaManager<'_>,
    statements: &[String],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm_migration::sea_orm::DbBackend::Sqlite {
        return Ok(());
    }
    sqlite_batch(manager, statements).await
}

/// Runs `statements` on SQLite in one transaction, so on one pooled connection. Migrations on SQLite run outside a transaction, each statement on any
/// pooled connection; a connection that has not seen another's `DROP` yet compiles a
/// `CREATE` of the same name against its older schema and refuses it ("already
/// exists"), so statements that drop and make again must share a connection.
pub(crate) async fn sqlite_batch(
    manager: &SchemaManager<'_>,
    statements: &[String],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::TransactionTrait;
    let txn = manager.get_connection().begin().await?;
    for statement in statements {
        txn.execute_unprepared(statement).await?;
    }
    txn.commit().await
}

/// Applies auditlog's migrations: `Migrator::up(&db, None)` brings a database to the
/// newest schema.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_create_tables::Migration),
            Box::new(m20260102_000001_search_and_counts::Migration),
            Box::new(m20260103_000001_search_words::Migration),
            Box::new(m20260104_000001_address_suffixes::Migration),
            Box::new(m20260105_000001_byte_order_and_terms_epoch::Migration),
            Box::new(m20260106_000001_operator_key_prefixes::Migration),
            Box::new(m20261201_000001_verifiable_log::Migration),
            Box::new(m20261202_000001_log_heads::Migration),
            Box::new(m20261203_000001_key_expiry::Migration),
            Box::new(m20261203_000002_chosen_key_prefixes::Migration),
            Box::new(m20261204_000001_access_log::Migration),
            Box::new(m20261205_000001_tenant_search_ranges::Migration),
            Box::new(m20261206_000001_retention::Migration),
            Box::new(m20261207_000001_erasure::Migration),
        ]
    }
}
