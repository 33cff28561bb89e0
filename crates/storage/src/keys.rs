//! Tenants and API keys.

use async_trait::async_trait;
use auditlog_domain::{
    ApiKey, ApiKeyHash, KeyStore, NewApiKey, StoreError, Tenant, entry::timestamp::to_micros,
    keys::KEY_USE_RESOLUTION,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    SeaOrmStore,
    error::db_error,
    schema::{api_key, now, tenant},
};

#[async_trait]
impl KeyStore for SeaOrmStore {
    async fn ensure_tenant(&self, id: Uuid, name: &str) -> Result<Tenant, StoreError> {
        let row = tenant::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            created_at: Set(to_micros(now())),
            retention_days: Set(None),
            legal_hold: Set(false),
        };
        tenant::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(self.connection())
            .await
            .map_err(db_error)?;
        let row = tenant::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(db_error)?
            .ok_or_else(|| {
                StoreError::Backend(format!("tenant {id} was inserted but cannot be read back"))
            })?;
        row.into_tenant()
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        tenant::Entity::find()
            .order_by_asc(tenant::Column::CreatedAt)
            .order_by_asc(tenant::Column::Id)
            .all(self.connection())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(tenant::Model::into_tenant)
            .collect()
    }

    async fn register_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError> {
        let hash = key.secret.hash();
        let row = api_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(key.tenant_id),
            name: Set(key.name),
            prefix: Set(key.secret.display_prefix()),
            hash: Set(hash.0.to_vec()),
            scope_read: Set(key.scopes.read),
            scope_write: Set(key.scopes.write),
            scope_access_log: Set(key.scopes.access_log),
            created_at: Set(to_micros(now())),
            revoked_at: Set(None),
            expires_at: Set(key.expires_at.map(to_micros)),
            last_used_at: Set(None),
        };
        // A secret registered before keeps its key as it is, revoked or not.
        api_key::Entity::insert(row)
            .on_conflict(
                OnConflict::column(api_key::Column::Hash)
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_without_returning(self.connection())
            .await
            .map_err(db_error)?;
        self.find_key(&hash).await?.ok_or_else(|| {
            StoreError::Backend("a key was inserted but cannot be read back".to_owned())
        })
    }

    async fn find_key(&self, hash: &ApiKeyHash) -> Result<Option<ApiKey>, StoreError> {
        api_key::Entity::find()
            .filter(api_key::Column::Hash.eq(hash.0.to_vec()))
            .one(self.connection())
            .await
            .map_err(db_error)?
            .map(api_key::Model::into_key)
            .transpose()
    }

    async fn keys(&self, tenant_id: Option<Uuid>) -> Result<Vec<ApiKey>, StoreError> {
        let mut select = api_key::Entity::find();
        if let Some(tenant_id) = tenant_id {
            select = select.filter(api_key::Column::TenantId.eq(tenant_id));
        }
        select
            .order_by_asc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Id)
            .all(self.connection())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(api_key::Model::into_key)
            .collect()
    }

    async fn revoke_key(&self, id: Uuid) -> Result<bool, StoreError> {
        // A key revoked before keeps the time it was first revoked.
        let revoked_at = Expr::col(api_key::Column::RevokedAt).if_null(to_micros(now()));
        let result = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, revoked_at)
            .filter(api_key::Column::Id.eq(id))
            .exec(self.connection())
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected > 0)
    }

    async fn note_key_used(&self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        let at = to_micros(at);
        let older = at - KEY_USE_RESOLUTION.whole_microseconds() as i64;
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
            .filter(api_key::Column::Id.eq(id))
            .filter(
                api_key::Column::LastUsedAt
                    .is_null()
                    .or(api_key::Column::LastUsedAt.lte(older)),
            )
            .exec(self.connection())
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
