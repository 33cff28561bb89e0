//! One entry, by its tenant and id.

use std::collections::HashMap;

use auditlog_domain::{AuditLog, StoreError};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    error::db_error,
    schema::entry::{Column, Entity, Model},
};

/// `tenant_id`'s entry `id`, read on `conn` by the table's primary key, which holds the
/// tenant: another tenant's entry with the same id is never read.
pub(crate) async fn entry_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<AuditLog>, StoreError> {
    Entity::find_by_id((tenant_id, id))
        .one(conn)
        .await
        .map_err(db_error)?
        .map(Model::into_entry)
        .transpose()
}

/// `tenant_id`'s entries with these ids, in the order of `ids`, in one query; an id the
/// tenant has no entry with is left out.
pub(crate) async fn entries_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<AuditLog>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: HashMap<Uuid, Model> = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    ids.iter()
        .filter_map(|id| found.remove(id))
        .map(Model::into_entry)
        .collect()
}
