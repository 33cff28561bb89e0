//! The log's queue: entries stored but not yet in their tenant's tree, each with the
//! leaf hash that the write computed from the row it stored.

use auditlog_domain::{
    StoreError,
    log::{leaf_bytes, leaf_hash},
};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

use crate::{
    error::db_error,
    schema::{entry, pending},
};

/// Rows per `INSERT`.
const INSERT_ROWS: usize = 1000;

/// The leaf hash of the entry that `row` stores, as the integrator and `verify` compute
/// it from the stored row; `None` for an entry that cannot become a leaf (the integrator
/// then reads the stored entry and says why).
pub(crate) fn leaf_hash_of(row: &entry::Model) -> Option<[u8; 32]> {
    let entry = row.clone().into_entry().ok()?;
    let bytes = leaf_bytes(&entry).ok()?;
    Some(leaf_hash(&bytes).0)
}

/// Queues the entries that `rows` store, in this order, with the ORM's portable insert
/// (PostgreSQL queues them in the statement that inserts the rows).
pub(crate) async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    rows: &[&entry::Model],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(INSERT_ROWS) {
        let chunk: Vec<pending::ActiveModel> = chunk
            .iter()
            .map(|row| pending::ActiveModel {
                tenant_id: Set(tenant_id),
                entry_id: Set(row.id),
                leaf_hash: Set(leaf_hash_of(row).map(|hash| hash.to_vec())),
                ..Default::default()
            })
            .collect();
        pending::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
