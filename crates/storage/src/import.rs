//! Bulk loading: many entries at a time with the guarantees of `append` that matter for
//! loading (validation, ids stored once, exact daily counts, the search terms) but
//! without reading anything back. For demos, benchmarks and migrations of old logs.

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use crate::{SeaOrmStore, append::insert_new, convert::now, error::db_error};

impl SeaOrmStore {
    /// Stores `entries` in `tenant_id` in one transaction and returns how many were new.
    /// An id already stored is skipped whatever its content (`append` reports
    /// conflicts); any invalid entry fails the whole call, naming its index.
    pub async fn import(
        &self,
        tenant_id: Uuid,
        entries: Vec<NewAuditLog>,
    ) -> Result<u64, StoreError> {
        let now = now();
        let stored: Vec<AuditLog> = prepare_batch(entries, now)?
            .into_iter()
            .filter(|(_, duplicate_of)| duplicate_of.is_none())
            .map(|(entry, _)| entry.into_entry(tenant_id, now))
            .collect();
        if stored.is_empty() {
            return Ok(0);
        }
        let _turn = self.writer_turn().await;
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
