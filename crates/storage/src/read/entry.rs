//! One entry, by its tenant and id.

use auditlog_domain::{AuditLog, StoreError};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::{
    error::db_error,
    schema::entry::{Entity, Model},
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
