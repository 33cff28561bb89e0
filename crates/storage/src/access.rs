//! Who read the log: the [`AccessLogStore`] port on `access_logs`.

use async_trait::async_trait;
use auditlog_domain::{AccessLogStore, AccessQuery, AccessRecord, StoreError};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{SeaOrmStore, error::db_error, schema::access};

#[async_trait]
impl AccessLogStore for SeaOrmStore {
    async fn record_access(&self, records: &[AccessRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // SQLite takes one writer at a time: wait for the turn rather than for the lock.
        let _turn = self.writer_turn().await;
        // Nine columns a row: 500 rows stay under SQLite's 32,766 bound parameters.
        for chunk in records.chunks(500) {
            access::Entity::insert_many(chunk.iter().map(access::Model::of))
                .exec_without_returning(self.connection())
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    async fn access_log(
        &self,
        tenant_id: Uuid,
        query: &AccessQuery,
    ) -> Result<Vec<AccessRecord>, StoreError> {
        let mut select = access::Entity::find().filter(access::Column::TenantId.eq(tenant_id));
        if let Some(key_id) = query.key_id {
            select = select.filter(access::Column::KeyId.eq(key_id));
        }
        if let Some(operation) = query.operation {
            select = select.filter(access::Column::Operation.eq(operation.as_str()));
        }
        if let Some(before) = query.before {
            select = select.filter(access::Column::Id.lt(before));
        }
        select
            .order_by_desc(access::Column::Id)
            .limit(query.limit)
            .all(self.connection())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(access::Model::into_record)
            .collect()
    }
}
