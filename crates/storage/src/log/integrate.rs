//! The integrator: moves the entries that a bulk load queued into their tenant's tree,
//! in queue order, and signs a checkpoint of every tree that has grown since its last
//! one, whoever grew it. Writes take their entries into the tree themselves; a
//! checkpoint follows them within a round. After a crash it resumes from the queue and
//! the heads, which are written in the transactions of the entries they hold.

use std::collections::{HashMap, HashSet};

use auditlog_domain::{
    StoreError,
    log::{Checkpoint, Hash as LogHash, leaf_bytes, leaf_hash, tenant_origin},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Set, Statement};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::{
    LogSigner, entries_by_id,
    sequence::{append_leaves, hashes_of},
};
use crate::{
    SeaOrmStore,
    backend::Backend,
    error::db_error,
    schema::{checkpoint, entry, head, now, pending},
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

/// Takes up to [`BATCH`] of the tenant's queued entries into its tree; returns how
/// many queue rows it took (a full batch: more may be queued).
pub(crate) async fn integrate(store: &SeaOrmStore, tenant_id: Uuid) -> Result<u64, StoreError> {
    let taken = match attempt(store, tenant_id, false).await? {
        Some(taken) => taken,
        // The leaves' unique key found a queued entry that is a leaf already: the batch
        // is taken again, with a look at which of its entries the tree holds.
        None => attempt(store, tenant_id, true).await?.ok_or_else(|| {
            StoreError::Backend(format!(
                "the log of tenant {tenant_id} cannot take its queued entries: one of them is a leaf already"
            ))
        })?,
    };
    Ok(taken as u64)
}

/// [`integrate_in`] in a transaction of its own: committed, or rolled back with `None`
/// when a queued entry is a leaf already.
async fn attempt(
    store: &SeaOrmStore,
    tenant_id: Uuid,
    look: bool,
) -> Result<Option<usize>, StoreError> {
    let txn = WriteTxn::begin(store).await?;
    match integrate_in(&*txn, tenant_id, look).await {
        Ok(done) => txn.end(Ok(done)).await.map(Some),
        Err(Attempt::AlreadyLeaves) => {
            txn.rollback().await;
            Ok(None)
        }
        Err(Attempt::Failed(err)) => txn.end(Err(err)).await,
    }
}

/// The heads of the trees that have grown past their newest checkpoint.
const GROWN: &str = "SELECT h.tenant_id, h.size, h.edge FROM audit_log_heads AS h \
     WHERE h.size > COALESCE( \
       (SELECT MAX(c.size) FROM audit_log_checkpoints AS c WHERE c.tenant_id = h.tenant_id), 0)";

/// Signs a checkpoint of every tree that has grown past its newest one; returns how
/// many it signed.
pub(crate) async fn sign_grown<C: ConnectionTrait>(
    conn: &C,
    signer: &LogSigner,
) -> Result<usize, StoreError> {
    let heads = head::Entity::find()
        .from_raw_sql(Statement::from_string(conn.get_database_backend(), GROWN))
        .all(conn)
        .await
        .map_err(db_error)?;
    for head in &heads {
        let (size, mut hashes) = hashes_of(head);
        let root = hashes
            .run(conn, |reader| tlog_tiles::tree_hash(size, reader))
            .await?;
        sign(conn, signer, head.tenant_id, size, root).await?;
        tracing::debug!(tenant = %head.tenant_id, size, "checkpoint signed");
    }
    Ok(heads.len())
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

/// Moves a batch into the tree; returns how many queue rows it took. With `look`, the
/// entries that are leaves already are found first and left out; without, a batch that
/// holds one fails with [`Attempt::AlreadyLeaves`].
async fn integrate_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    look: bool,
) -> Result<usize, Attempt> {
    let backend = Backend::of(conn)?;
    let queued = backend.take_queued(conn, tenant_id, BATCH).await?;
    if queued.is_empty() {
        return Ok(0);
    }
    let in_tree = if look {
        let ids: Vec<Uuid> = queued.iter().map(|q| q.entry_id).collect();
        backend.in_tree(conn, tenant_id, ids).await?
    } else {
        HashSet::new()
    };
    let unhashed = leaves_of_unhashed(conn, tenant_id, &queued).await?;

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
        leaves.push((id, leaf));
    }
    match append_leaves(conn, tenant_id, &leaves).await? {
        Some(_) => Ok(queued.len()),
        None => Err(Attempt::AlreadyLeaves),
    }
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
    // Another process may have signed the same size, with the same root.
    .on_conflict_do_nothing()
    .exec_without_returning(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
