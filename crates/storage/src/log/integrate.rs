//! The integrator: moves queued entries into their tenant's tree, in queue order, and
//! signs a checkpoint of the grown tree, all in one transaction. It runs behind the
//! writes (as Trillian's and Tessera's do), so a write waits for no hashing; after a
//! crash it resumes from the queue, which the writes filled in their own transactions.

use std::collections::{HashMap, HashSet};

use auditlog_domain::{
    StoreError,
    log::{Checkpoint, Hash as LogHash, leaf_bytes, leaf_hash, tenant_origin},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::{
    LogSigner, entries_by_id,
    hashes::{StoredHashes, join},
};
use crate::{
    SeaOrmStore,
    backend::Backend,
    error::db_error,
    schema::{checkpoint, entry, leaf, now, pending},
    write::txn::WriteTxn,
};

/// Entries taken into a tree per transaction at most.
pub(crate) const BATCH: u64 = 5_000;

/// The tenants that have queued entries: a walk over the queue's index by tenant, one
/// index lookup a tenant, so that a queue whose rows have just been removed (and are
/// not vacuumed yet) is not scanned in whole a few times a second.
const TENANTS_WITH_PENDING: &str = "WITH RECURSIVE t (tenant_id) AS ( \
       SELECT (SELECT tenant_id FROM audit_log_pending ORDER BY tenant_id LIMIT 1) \
       UNION ALL \
       SELECT (SELECT p.tenant_id FROM audit_log_pending AS p \
               WHERE p.tenant_id > t.tenant_id ORDER BY p.tenant_id LIMIT 1) \
       FROM t WHERE t.tenant_id IS NOT NULL) \
     SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL";

/// The tenants that have queued entries.
pub(crate) async fn tenants_with_pending<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<Uuid>, StoreError> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            TENANTS_WITH_PENDING,
        ))
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id").map_err(db_error))
        .collect()
}

/// Takes up to [`BATCH`] of the tenant's queued entries into its tree and signs a
/// checkpoint of it; returns how many queue rows it took (a full batch: more may be
/// queued).
pub(crate) async fn integrate(
    store: &SeaOrmStore,
    signer: &LogSigner,
    tenant_id: Uuid,
) -> Result<u64, StoreError> {
    let started = std::time::Instant::now();
    let (taken, size) = match attempt(store, signer, tenant_id, false).await? {
        Some(done) => done,
        // The leaves' unique key found a queued entry that is a leaf already: the batch
        // is taken again, with a look at which of its entries the tree holds.
        None => attempt(store, signer, tenant_id, true)
            .await?
            .ok_or_else(|| {
                StoreError::Backend(format!(
                    "the log of tenant {tenant_id} cannot take its queued entries: one of them is a leaf already"
                ))
            })?,
    };
    if let Some(size) = size {
        tracing::debug!(tenant = %tenant_id, taken, size, ms = started.elapsed().as_millis(), "checkpoint signed");
    }
    Ok(taken as u64)
}

/// [`integrate_in`] in a transaction of its own: committed, or rolled back with `None`
/// when a queued entry is a leaf already.
async fn attempt(
    store: &SeaOrmStore,
    signer: &LogSigner,
    tenant_id: Uuid,
    look: bool,
) -> Result<Option<(usize, Option<u64>)>, StoreError> {
    let txn = WriteTxn::begin(store).await?;
    match integrate_in(&*txn, signer, tenant_id, look).await {
        Ok(done) => txn.end(Ok(done)).await.map(Some),
        Err(Attempt::AlreadyLeaves) => {
            txn.rollback().await;
            Ok(None)
        }
        Err(Attempt::Failed(err)) => txn.end(Err(err)).await,
    }
}

/// Why a batch was not taken into the tree.
enum Attempt {
    /// A queued entry is a leaf already (only a hand-made queue row does that).
    AlreadyLeaves,
    /// The database or the signature failed.
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(err: StoreError) -> Self {
        Attempt::Failed(err)
    }
}

/// The size of the tenant's tree: one past its last leaf.
pub(crate) async fn tree_size<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
) -> Result<u64, StoreError> {
    let last: Option<i64> = leaf::Entity::find()
        .select_only()
        .column(leaf::Column::LeafIndex)
        .filter(leaf::Column::TenantId.eq(tenant_id))
        .order_by_desc(leaf::Column::LeafIndex)
        .limit(1)
        .into_tuple()
        .one(conn)
        .await
        .map_err(db_error)?;
    Ok(last.map_or(0, |last| u64::try_from(last).unwrap_or_default() + 1))
}

/// Moves a batch into the tree; returns how many queue rows it took, and the size of
/// the checkpoint it signed, if the tree grew. With `look`, the entries that are leaves
/// already are found first and left out; without, a batch that holds one fails with
/// [`Attempt::AlreadyLeaves`].
async fn integrate_in<C: ConnectionTrait>(
    conn: &C,
    signer: &LogSigner,
    tenant_id: Uuid,
    look: bool,
) -> Result<(usize, Option<u64>), Attempt> {
    // One integrator a tenant at a time, whichever process it runs in.
    let backend = Backend::of(conn)?;
    backend.lock_tree(conn, tenant_id).await?;
    let queued = backend.take_queued(conn, tenant_id, BATCH).await?;
    if queued.is_empty() {
        return Ok((0, None));
    }
    let in_tree = if look {
        let ids: Vec<Uuid> = queued.iter().map(|q| q.entry_id).collect();
        backend.in_tree(conn, tenant_id, ids).await?
    } else {
        HashSet::new()
    };
    let unhashed = leaves_of_unhashed(conn, tenant_id, &queued).await?;

    let size = tree_size(conn, tenant_id).await?;
    let mut hashes = StoredHashes::new(tenant_id);
    let mut leaves = Vec::with_capacity(queued.len());
    let mut taken = HashSet::with_capacity(queued.len());
    for queued in &queued {
        let id = queued.entry_id;
        // A queue row twice, or for an entry already in the tree (only someone writing
        // the database by hand makes either): the tree takes each entry once.
        if in_tree.contains(&id) || taken.contains(&id) {
            tracing::warn!(tenant = %tenant_id, entry = %id, "a queued entry is a leaf already or queued twice; skipped");
            continue;
        }
        let leaf = match queued.leaf_hash.as_deref().map(<[u8; 32]>::try_from) {
            Some(Ok(hash)) => Hash(hash),
            _ => match unhashed.get(&id) {
                Some(hash) => *hash,
                None => continue,
            },
        };
        taken.insert(id);
        let n = size + leaves.len() as u64;
        let stored = hashes
            .run(conn, |reader| {
                tlog_tiles::stored_hashes_for_record_hash(n, leaf, reader)
            })
            .await?;
        hashes.learn(n, &stored);
        leaves.push(leaf::Model {
            tenant_id,
            leaf_index: i64::try_from(n).unwrap_or(i64::MAX),
            entry_id: id,
            hashes: join(&stored),
        });
    }
    let new_size = size + leaves.len() as u64;
    if !backend.insert_leaves(conn, leaves).await? {
        return Err(Attempt::AlreadyLeaves);
    }
    if new_size == size {
        return Ok((queued.len(), None));
    }
    let root = hashes
        .run(conn, |reader| tlog_tiles::tree_hash(new_size, reader))
        .await?;
    sign(conn, signer, tenant_id, new_size, root).await?;
    Ok((queued.len(), Some(new_size)))
}

/// The leaf hashes of the queued entries that were queued without one (a bulk load
/// queues them so), computed from the stored entries. An entry that is not stored, or
/// that cannot become a leaf, has none and stays out of the tree, which `verify`
/// reports, rather than stop the log.
async fn leaves_of_unhashed<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    queued: &[pending::Model],
) -> Result<HashMap<Uuid, Hash>, StoreError> {
    let ids: Vec<Uuid> = queued
        .iter()
        .filter(|q| q.leaf_hash.as_ref().is_none_or(|hash| hash.len() != 32))
        .map(|q| q.entry_id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let entries = entries_by_id(conn, entry::Column::TenantId.eq(tenant_id).into(), &ids).await?;
    let mut leaves = HashMap::with_capacity(entries.len());
    for id in ids {
        // Only someone writing the database by hand queues an entry that is not there.
        let Some(entry) = entries.get(&id) else {
            tracing::warn!(tenant = %tenant_id, entry = %id, "a queued entry is not stored; skipped");
            continue;
        };
        // Only an entry stored before integers beyond 2^53 were refused has none.
        match leaf_bytes(entry) {
            Ok(bytes) => {
                leaves.insert(id, Hash(leaf_hash(&bytes).0));
            }
            Err(error) => {
                tracing::warn!(tenant = %tenant_id, entry = %id, %error, "an entry cannot become a leaf; skipped");
            }
        }
    }
    Ok(leaves)
}

/// Signs and keeps the checkpoint of the tenant's tree at `size` leaves with `root`.
async fn sign<C: ConnectionTrait>(
    conn: &C,
    signer: &LogSigner,
    tenant_id: Uuid,
    size: u64,
    root: Hash,
) -> Result<(), StoreError> {
    let origin = tenant_origin(&signer.origin, tenant_id);
    let note = Checkpoint::new(&origin, size, LogHash(root.0))
        .and_then(|checkpoint| checkpoint.sign(&signer.key))
        .map_err(|err| StoreError::Backend(format!("signing a checkpoint failed: {err}")))?;
    checkpoint::Entity::insert(checkpoint::ActiveModel {
        tenant_id: Set(tenant_id),
        size: Set(i64::try_from(size).unwrap_or(i64::MAX)),
        root: Set(root.0.to_vec()),
        note: Set(note),
        created_at: Set(auditlog_domain::entry::timestamp::to_micros(now())),
    })
    .exec_without_returning(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
