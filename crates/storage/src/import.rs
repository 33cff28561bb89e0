//! Bulk loading: many entries at a time with the guarantees of `append` that matter for
//! loading (validation, ids stored once, exact daily counts, the search index) but
//! without answering each entry. For demos, benchmarks and migrations of old logs.

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use auditlog_migrations::{day_sql, terms_of_sql};
use sea_orm::{DbBackend, TransactionTrait, sqlx};
use uuid::Uuid;

use crate::{
    SeaOrmStore,
    append::insert_new,
    convert::{entry_to_row, now},
    error::db_error,
};

/// The entries to store: validated, canonical, with ids, duplicates within the batch
/// dropped.
fn prepared_entries(
    tenant_id: Uuid,
    entries: Vec<NewAuditLog>,
) -> Result<Vec<AuditLog>, StoreError> {
    let now = now();
    Ok(prepare_batch(entries, now)?
        .into_iter()
        .filter(|(_, duplicate_of)| duplicate_of.is_none())
        .map(|(entry, _)| entry.into_entry(tenant_id, now))
        .collect())
}

impl SeaOrmStore {
    /// Stores `entries` in `tenant_id` in one transaction and returns how many were new.
    /// An id already stored is skipped whatever its content (`append` reports
    /// conflicts); any invalid entry fails the whole call, naming its index.
    pub async fn import(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        match self.connection().get_database_backend() {
            DbBackend::Postgres => self.import_postgres(tenant_id, entries).await,
            _ => {
                let stored = prepared_entries(tenant_id, entries)?;
                let txn = self.connection().begin().await.map_err(db_error)?;
                match insert_new(&txn, tenant_id, stored.iter()).await {
                    Ok(inserted) => {
                        txn.commit().await.map_err(db_error)?;
                        Ok(inserted.len() as u64)
                    }
                    Err(err) => {
                        let _ = txn.rollback().await;
                        Err(err)
                    }
                }
            }
        }
    }

    /// One statement: the rows travel as 15 arrays, are inserted with
    /// `ON CONFLICT DO NOTHING`, and the daily counts grow by what was inserted.
    async fn import_postgres(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<u64, StoreError> {
        let mut rows = prepared_entries(tenant_id, entries)?
            .iter()
            .map(entry_to_row)
            .collect::<Result<Vec<_>, _>>()?;
        // Id order: concurrent loads of overlapping ids lock rows in one order.
        rows.sort_unstable_by_key(|row| row.id);
        let sql = format!(
            "WITH inserted AS ( \
               INSERT INTO audit_logs (tenant_id, id, type, error, meta_http_request_id, meta_source_ip, ip_key, \
                 meta_user_agent, actor_user_id, actor_user_id_ci, actor_email, actor_email_ci, details, created_at, updated_at) \
               SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], \
                 $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::int8[]) \
               ON CONFLICT (tenant_id, id) DO NOTHING \
               RETURNING tenant_id, created_at, meta_source_ip, ip_key, actor_user_id_ci, actor_email_ci), \
             terms AS ( \
               INSERT INTO audit_log_terms (tenant_id, field, value, key) \
               SELECT * FROM ({terms}) AS t ORDER BY 1, 2, 3 \
               ON CONFLICT DO NOTHING \
               RETURNING 1), \
             counted AS ( \
               INSERT INTO audit_log_counts (tenant_id, day, entries) \
               SELECT tenant_id, {day}, COUNT(*) FROM inserted GROUP BY 1, 2 ORDER BY 1, 2 \
               ON CONFLICT (tenant_id, day) DO UPDATE SET entries = audit_log_counts.entries + EXCLUDED.entries \
               RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM inserted)::int8",
            day = day_sql(),
            terms = terms_of_sql("inserted")
        );
        // Built from constants only; every value is bound.
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(rows.iter().map(|r| r.tenant_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.r#type.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.error.clone()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| r.meta_http_request_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.meta_source_ip.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.ip_key.clone()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|r| r.meta_user_agent.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.actor_user_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.actor_user_id_ci.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.actor_email.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|r| r.actor_email_ci.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|r| r.details.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
            .fetch_one(self.connection().get_postgres_connection_pool())
            .await
            .map_err(|err| {
                db_error(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
                    err.into(),
                )))
            })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
