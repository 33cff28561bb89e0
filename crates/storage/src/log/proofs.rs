//! Reading a tenant's log: its checkpoints, and inclusion and consistency proofs from
//! the stored hashes.

use auditlog_domain::{
    StoreError,
    log::{Checkpoint, Hash as LogHash, LogKey, tenant_origin},
    store::{ConsistencyProof, InclusionProof, LogError, SignedCheckpoint},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::{LogSigner, hashes::StoredHashes};
use crate::{
    error::db_error,
    schema::{checkpoint, leaf, now, pending, signing_key},
};

/// Records the verifier key of `key` among those that have signed here.
pub(crate) async fn remember_key<C: ConnectionTrait>(
    conn: &C,
    key: &LogKey,
) -> Result<(), StoreError> {
    signing_key::Entity::insert(signing_key::ActiveModel {
        verifier_key: Set(key.verifier_key().to_string()),
        created_at: Set(auditlog_domain::entry::timestamp::to_micros(now())),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The tenant's newest checkpoint.
pub(crate) async fn latest<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let row = checkpoint::Entity::find()
        .filter(checkpoint::Column::TenantId.eq(tenant_id))
        .order_by_desc(checkpoint::Column::Size)
        .limit(1)
        .one(conn)
        .await
        .map_err(db_error)?;
    Ok(row.map(|row| SignedCheckpoint {
        size: u64::try_from(row.size).unwrap_or_default(),
        note: row.note,
    }))
}

/// The checkpoint of the tenant's tree at exactly `size`: the one kept, or one signed
/// now by `signer` from the stored hashes.
async fn at_size<C: ConnectionTrait>(
    conn: &C,
    signer: Option<&LogSigner>,
    tenant_id: Uuid,
    size: u64,
    hashes: &mut StoredHashes,
) -> Result<String, LogError> {
    let kept = checkpoint::Entity::find_by_id((tenant_id, i64::try_from(size).unwrap_or(i64::MAX)))
        .one(conn)
        .await
        .map_err(db_error)?;
    if let Some(kept) = kept {
        return Ok(kept.note);
    }
    let signer = signer.ok_or_else(|| {
        LogError::Store(StoreError::Backend(
            "no checkpoint of that size is kept, and this store signs none".to_owned(),
        ))
    })?;
    let root = hashes
        .run(conn, |reader| tlog_tiles::tree_hash(size, reader))
        .await?;
    let origin = tenant_origin(&signer.origin, tenant_id);
    Checkpoint::new(&origin, size, LogHash(root.0))
        .and_then(|checkpoint| checkpoint.sign(&signer.key))
        .map_err(|err| {
            LogError::Store(StoreError::Backend(format!(
                "signing a checkpoint failed: {err}"
            )))
        })
}

/// The proof that entry `entry_id` is in the tenant's tree at `tree_size` (the newest
/// checkpoint's size when `None`), with the checkpoint of that size.
pub(crate) async fn inclusion<C: ConnectionTrait>(
    conn: &C,
    signer: Option<&LogSigner>,
    tenant_id: Uuid,
    entry_id: Uuid,
    tree_size: Option<u64>,
) -> Result<InclusionProof, LogError> {
    let index: Option<i64> = leaf::Entity::find()
        .select_only()
        .column(leaf::Column::LeafIndex)
        .filter(leaf::Column::TenantId.eq(tenant_id))
        .filter(leaf::Column::EntryId.eq(entry_id))
        .into_tuple()
        .one(conn)
        .await
        .map_err(db_error)?;
    let Some(index) = index.and_then(|i| u64::try_from(i).ok()) else {
        let queued = pending::Entity::find()
            .filter(pending::Column::TenantId.eq(tenant_id))
            .filter(pending::Column::EntryId.eq(entry_id))
            .one(conn)
            .await
            .map_err(db_error)?;
        return Err(if queued.is_some() {
            LogError::NotYetInLog
        } else {
            LogError::EntryNotFound
        });
    };
    let latest = latest(conn, tenant_id).await?;
    let newest = latest.as_ref().map_or(0, |c| c.size);
    let size = match tree_size {
        Some(size) if size > newest => {
            return Err(LogError::SizeNotReached {
                parameter: "tree_size",
                asked: size,
                size: newest,
            });
        }
        Some(size) if size <= index => {
            return Err(LogError::SizeBelowLeaf {
                asked: size,
                leaf_index: index,
            });
        }
        Some(size) => size,
        // Covered by no checkpoint yet: signed but not yet in a checkpoint.
        None if newest <= index => return Err(LogError::NotYetInLog),
        None => newest,
    };
    let mut hashes = StoredHashes::new(tenant_id);
    let proof = hashes
        .run(conn, |reader| tlog_tiles::prove_record(size, index, reader))
        .await?;
    let checkpoint = match (tree_size, latest) {
        (None, Some(latest)) => latest.note,
        _ => at_size(conn, signer, tenant_id, size, &mut hashes).await?,
    };
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        proof: proof.into_iter().map(|h| LogHash(h.0)).collect(),
        checkpoint,
    })
}

/// The proof that the tenant's tree at `from` leaves is a prefix of the tree at `to`.
pub(crate) async fn consistency<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    from: u64,
    to: u64,
) -> Result<ConsistencyProof, LogError> {
    let reached = latest(conn, tenant_id).await?.map_or(0, |c| c.size);
    if to > reached {
        return Err(LogError::SizeNotReached {
            parameter: "to",
            asked: to,
            size: reached,
        });
    }
    if from > to {
        return Err(LogError::SizeNotReached {
            parameter: "from",
            asked: from,
            size: to,
        });
    }
    // From the empty tree, or to itself, nothing needs proving.
    let proof = if from == 0 || from == to {
        Vec::new()
    } else {
        StoredHashes::new(tenant_id)
            .run(conn, |reader| tlog_tiles::prove_tree(to, from, reader))
            .await?
    };
    Ok(ConsistencyProof {
        from,
        to,
        proof: proof.into_iter().map(|h| LogHash(h.0)).collect(),
    })
}
