//! Taking entries into their tenant's tree: the leaves are appended after the tenant's
//! head, which is locked until the transaction ends, and the head moves on. A write
//! does it in the transaction that stores the entries, so that entries and leaves
//! commit together; the integrator does it for the entries that a bulk load queued.

use auditlog_domain::{
    StoreError,
    log::{leaf_bytes, leaf_hash},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::hashes::{StoredHashes, join};
use crate::{
    backend::Backend,
    error::db_error,
    schema::{entry, head, leaf},
};

/// The leaf hash of the entry that `row` stores, as `verify` computes it from the
/// stored row.
pub(crate) fn leaf_of(row: &entry::Model) -> Result<Hash, StoreError> {
    leaf_of_row(row.clone())
}

/// [`leaf_of`] the row, taken.
pub(crate) fn leaf_of_row(row: entry::Model) -> Result<Hash, StoreError> {
    let id = row.id;
    let entry = row.into_entry()?;
    let bytes = leaf_bytes(&entry).map_err(|error| {
        StoreError::Backend(format!(
            "entry {id} cannot become a leaf of the log: {error}"
        ))
    })?;
    Ok(Hash(leaf_hash(&bytes).0))
}

/// Appends `leaves` (entry id and leaf hash), in this order, to the tenant's tree on
/// `conn`, a transaction that then holds the tenant's head until it ends. Returns the
/// tree's new size, or `None`, with nothing appended, when one of the entries is a
/// leaf already (the caller's transaction must then roll back).
pub(crate) async fn append_leaves<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    leaves: &[(Uuid, Hash)],
) -> Result<Option<u64>, StoreError> {
    let backend = Backend::of(conn)?;
    let head = backend.lock_head(conn, tenant_id).await?;
    let size = u64::try_from(head.size).map_err(|_| {
        StoreError::Backend(format!(
            "the log head of tenant {tenant_id} has a negative size"
        ))
    })?;
    if leaves.is_empty() {
        return Ok(Some(size));
    }
    let mut hashes = StoredHashes::new(tenant_id);
    hashes.learn_edge(size, head.edge.as_deref());
    let mut rows = Vec::with_capacity(leaves.len());
    for (n, (entry_id, leaf)) in (size..).zip(leaves) {
        let stored = hashes
            .run(conn, |reader| {
                tlog_tiles::stored_hashes_for_record_hash(n, *leaf, reader)
            })
            .await?;
        hashes.learn(n, &stored);
        rows.push(leaf::Model {
            tenant_id,
            leaf_index: index_of(n),
            entry_id: *entry_id,
            hashes: join(&stored),
        });
    }
    if !backend.insert_leaves(conn, rows).await? {
        return Ok(None);
    }
    let new_size = size + leaves.len() as u64;
    head::Entity::update_many()
        .set(head::ActiveModel {
            size: Set(index_of(new_size)),
            edge: Set(hashes.edge(new_size)),
            ..Default::default()
        })
        .filter(head::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await
        .map_err(db_error)?;
    Ok(Some(new_size))
}

/// The tenant's tree as its head says: its size and the hashes its root needs.
pub(crate) fn hashes_of(head: &head::Model) -> (u64, StoredHashes) {
    let size = u64::try_from(head.size).unwrap_or_default();
    let mut hashes = StoredHashes::new(head.tenant_id);
    hashes.learn_edge(size, head.edge.as_deref());
    (size, hashes)
}

/// A leaf index or tree size as the database keeps it.
fn index_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
