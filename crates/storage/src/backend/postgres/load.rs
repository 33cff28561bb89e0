//! A bulk load into PostgreSQL: the rows by binary `COPY`, the indexes dropped and built
//! again from the catalog's own definitions.

use async_trait::async_trait;
use auditlog_domain::StoreError;
use sea_orm::{
    DatabaseConnection,
    sqlx::{self, AssertSqlSafe, Postgres, Row as _},
};

use super::rows;
use crate::{
    backend::{Load, shared},
    error::sqlx_error,
    schema::entry,
};

/// Rows per message of a load's `COPY` (about half a megabyte).
const COPY_PART_ROWS: usize = 1000;

/// The tables whose indexes a load into an empty table builds afresh at its end.
const REBUILT: [&str; 3] = ["audit_logs", "audit_log_terms", "audit_log_ip_suffixes"];

/// The catalog's indexes of a table, as statements that drop them and build them
/// again: plain indexes first, then the primary key (whose index the plain ones do not
/// need).
const INDEXES: &str = "SELECT format('DROP INDEX %I.%I', n.nspname, c.relname) AS drop_sql, \
        pg_get_indexdef(i.indexrelid) AS create_sql, 0 AS step \
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
      JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE i.indrelid = $1::regclass \
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
    UNION ALL \
    SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname), \
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname, \
                  pg_get_constraintdef(k.oid)), 1 \
    FROM pg_constraint k WHERE k.conrelid = $1::regclass AND k.contype = 'p' \
    ORDER BY step";

/// The driver's own transaction (the rows go in by `COPY`, which the ORM cannot
/// issue), holding the entries table to itself.
pub(in crate::backend) async fn begin_load(
    db: &DatabaseConnection,
) -> Result<Box<dyn Load>, StoreError> {
    let mut txn = db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(sqlx_error)?;
    sqlx::raw_sql("LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *txn)
        .await
        .map_err(sqlx_error)?;
    Ok(Box::new(PostgresLoad(txn)))
}

/// A bulk load into PostgreSQL.
struct PostgresLoad(sqlx::Transaction<'static, Postgres>);

#[async_trait]
impl Load for PostgresLoad {
    async fn execute(&mut self, sql: &str) -> Result<(), StoreError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut *self.0)
            .await
            .map(drop)
            .map_err(sqlx_error)
    }

    async fn holds_entries(&mut self) -> Result<bool, StoreError> {
        sqlx::query(shared::ANY_ENTRY)
            .fetch_optional(&mut *self.0)
            .await
            .map(|row| row.is_some())
            .map_err(sqlx_error)
    }

    async fn clear_derived(&mut self) -> Result<&'static [&'static str], StoreError> {
        // The address suffixes follow the terms (triggers of theirs write and remove
        // them): emptied first, removing the terms then finds none to remove.
        for table in [
            "audit_log_counts",
            "audit_log_ip_suffixes",
            "audit_log_terms",
            "audit_log_pending",
        ] {
            self.execute(&format!("DELETE FROM {table}")).await?;
        }
        // Writers that remember terms offer them all again from now on (the sequence
        // moves at once, whatever becomes of this transaction).
        self.execute("SELECT nextval('audit_log_terms_epoch')")
            .await?;
        // The table is empty; emptied in this transaction, it takes rows written
        // frozen by COPY FREEZE.
        self.execute("TRUNCATE audit_logs").await?;
        Ok(&REBUILT)
    }

    async fn indexes_of(&mut self, table: &str) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query(INDEXES)
            .bind(table)
            .fetch_all(&mut *self.0)
            .await
            .map_err(sqlx_error)?
            .into_iter()
            .map(|row| Ok((row.try_get("drop_sql")?, row.try_get("create_sql")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(sqlx_error)
    }

    /// By binary `COPY`, in parts: PostgreSQL stores one part while the next is
    /// encoded.
    async fn insert_rows(&mut self, rows: &[entry::Model]) -> Result<u64, StoreError> {
        let mut copy = self
            .0
            .copy_in_raw(rows::COPY_ENTRIES.as_str())
            .await
            .map_err(sqlx_error)?;
        let mut sent = copy.send(rows::copy_header()).await.map_err(sqlx_error);
        for part in rows.chunks(COPY_PART_ROWS) {
            if sent.is_err() {
                break;
            }
            sent = match rows::copy_tuples(part) {
                Ok(tuples) => copy.send(tuples).await.map_err(sqlx_error),
                Err(err) => Err(err),
            };
        }
        if let Err(err) = sent {
            let _ = copy.abort("the load failed").await;
            return Err(err);
        }
        copy.send(rows::COPY_TRAILER.as_slice())
            .await
            .map_err(sqlx_error)?;
        copy.finish().await.map_err(sqlx_error)
    }

    /// Index builds and the grouping of terms in memory rather than on disk, for this
    /// transaction only.
    fn build_settings(&self) -> (Vec<String>, Vec<String>) {
        (
            vec![
                "SET LOCAL maintenance_work_mem = '512MB'".to_owned(),
                "SET LOCAL work_mem = '256MB'".to_owned(),
            ],
            Vec::new(),
        )
    }

    fn terms_of_entries(&self) -> String {
        shared::terms_of_entries()
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.0.commit().await.map_err(sqlx_error)
    }

    async fn rollback(self: Box<Self>) {
        if let Err(error) = self.0.rollback().await {
            tracing::warn!(%error, "rolling back a bulk load failed");
        }
    }
}
