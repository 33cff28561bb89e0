//! The write path: a batch is validated, inserted with `ON CONFLICT DO NOTHING`, then
//! read back and compared, all on the caller's connection or transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use auditlog_domain::{AuditLog, EntryError, NewAuditLog, StoreError, store::prepare_batch};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    backend::Backend,
    counts,
    error::db_error,
    log,
    schema::{entry, now},
    search::{KnownTerms, Learned},
};

/// Ids per `SELECT ... IN (...)`: far below the bind parameter limits of every backend.
const SELECT_IDS: usize = 1000;

/// Where the answer for one submitted entry comes from.
enum Slot {
    /// An entry of its own, stored under this id; `Some` holds the submission when it
    /// carried the id, so that an entry already stored can be compared with it.
    Own(Uuid, Option<Box<NewAuditLog>>),
    /// The same id and content as the entry at this earlier index of the batch.
    SameAs(usize),
}

/// Stores a batch in `tenant_id` on `conn`, which may be the caller's own
/// [`sea_orm::DatabaseTransaction`]: the entries are recorded or rolled back with it.
///
/// Every entry is validated first; an entry whose id is already stored with the same
/// content is not stored again. Returns the stored entry for each submitted one, in the
/// order submitted (an id given twice gets the same stored entry twice).
///
/// On an error nothing of the batch is visible once the transaction is rolled back;
/// rolling back is the caller's duty (the batch may be partly inserted when an error
/// is returned, a [`StoreError::Conflict`] or any other). [`auditlog_domain::AuditLogStore::append`] of
/// [`crate::SeaOrmStore`] does it in a transaction of its own.
pub async fn append_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: Vec<NewAuditLog>,
) -> Result<Vec<AuditLog>, StoreError> {
    // The caller commits: what the write could teach is not known to be stored.
    store_batch(conn, tenant_id, entries, None)
        .await
        .map(|(stored, _)| stored)
}

/// [`append_in`], skipping the search terms that `known` holds; also returns what the
/// write teaches `known` once its transaction has committed.
pub(crate) async fn store_batch<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: Vec<NewAuditLog>,
    known: Option<&KnownTerms>,
) -> Result<(Vec<AuditLog>, Learned), StoreError> {
    if entries.is_empty() {
        return Ok((Vec::new(), Learned::default()));
    }
    let now = now();
    let prepared = prepare_batch(entries, now)?;

    let mut slots = Vec::with_capacity(prepared.len());
    let mut own: HashMap<Uuid, AuditLog> = HashMap::with_capacity(prepared.len());
    for (entry, duplicate_of) in prepared {
        if let Some(first) = duplicate_of {
            slots.push(Slot::SameAs(first));
            continue;
        }
        let submitted = entry.id.is_some().then(|| Box::new(entry.clone()));
        let stored = entry.into_entry(tenant_id, now);
        slots.push(Slot::Own(stored.id, submitted));
        own.insert(stored.id, stored);
    }

    // Insert first, then read: a reader that later writes is refused with SQLITE_BUSY
    // under concurrency, and on PostgreSQL the insert waits for a concurrent inserter
    // of the same id, so that the read below sees its row.
    let (inserted, learned) = insert_new(conn, tenant_id, own.values(), known).await?;

    // Only ids that were stored before need reading: the rest are as inserted.
    let existing: Vec<Uuid> = own
        .keys()
        .filter(|id| !inserted.contains(id))
        .copied()
        .collect();
    for chunk in existing.chunks(SELECT_IDS) {
        let found = entry::Entity::find()
            .filter(entry::Column::TenantId.eq(tenant_id))
            .filter(entry::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await
            .map_err(db_error)?;
        for row in found {
            let stored = row.into_entry()?;
            own.insert(stored.id, stored);
        }
    }

    let mut answer: Vec<AuditLog> = Vec::with_capacity(slots.len());
    for (index, slot) in slots.into_iter().enumerate() {
        let entry = match slot {
            Slot::SameAs(first) => answer.get(first).cloned(),
            Slot::Own(id, submitted) => {
                let entry = own.get(&id).cloned();
                let conflict = match (&submitted, &entry) {
                    (Some(submitted), Some(entry)) => !submitted.same_content_as(entry),
                    // An id of our own making that was taken: vanishingly unlikely, and
                    // never silently answered with another entry.
                    (None, _) => !inserted.contains(&id),
                    (Some(_), None) => false,
                };
                if conflict {
                    return Err(StoreError::Conflict {
                        id,
                        index,
                        other_index: None,
                    });
                }
                entry
            }
        };
        let entry = entry.ok_or_else(|| {
            StoreError::Backend(format!(
                "entry {index} was inserted but cannot be read back"
            ))
        })?;
        answer.push(entry);
    }
    Ok((answer, learned))
}

/// Inserts `entries` into `tenant_id` with `ON CONFLICT DO NOTHING`, adds the ones
/// inserted to the daily counts and to the tenant's log, and their new values to the
/// search terms (on
/// PostgreSQL, those that `known` does not hold); returns the ids inserted and what
/// the write teaches `known` once committed. Rows go in id order, so two batches that
/// share ids wait for each other in one order and never deadlock.
pub(crate) async fn insert_new<'a, C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: impl Iterator<Item = &'a AuditLog>,
    known: Option<&KnownTerms>,
) -> Result<(HashSet<Uuid>, Learned), StoreError> {
    let mut rows = entries
        .map(entry::Model::from_entry)
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort_unstable_by_key(|row| row.id);
    let (inserted, learned) = Backend::of(conn)?
        .insert_new(conn, tenant_id, &rows, known)
        .await?;
    let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
    for row in rows.iter().filter(|row| inserted.contains(&row.id)) {
        *per_day.entry(counts::day_of(row.created_at)).or_default() += 1;
    }
    counts::increment(conn, tenant_id, &per_day).await?;
    // Last, so that the tenant's log head, which every write of the tenant locks, and
    // the day's row, which every write of the day updates, stay locked only until the
    // commit that follows.
    let leaves = rows
        .iter()
        .filter(|row| inserted.contains(&row.id))
        .map(|row| Ok((row.id, log::sequence::leaf_of(row)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    if !leaves.is_empty()
        && log::sequence::append_leaves(conn, tenant_id, &leaves)
            .await?
            .is_none()
    {
        // The transaction may be aborted (PostgreSQL): the caller, once it has rolled
        // back, names the id ([`name_removed_id`]).
        return Err(StoreError::InvalidEntry {
            index: 0,
            source: EntryError::new("id", "", REMOVED_ID),
        });
    }
    Ok((inserted, learned))
}

/// Why an id whose entry a retention removal took is refused: its leaf still names it.
pub(crate) const REMOVED_ID: &str =
    "was used by an entry that retention has removed; ids are not used again";

/// `err` with the entry named, when it is the refusal of an id that a leaf of the
/// tenant names already (an entry removed by retention, whose leaf stays): `ids` are
/// the submitted ids by their place in the batch. Read outside the failed write's
/// transaction, which PostgreSQL has aborted.
pub(crate) async fn name_removed_id<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    ids: Vec<(usize, Uuid)>,
    err: StoreError,
) -> StoreError {
    let StoreError::InvalidEntry { source, .. } = &err else {
        return err;
    };
    if source.reason != REMOVED_ID {
        return err;
    }
    let backend = match Backend::of(conn) {
        Ok(backend) => backend,
        Err(other) => return other,
    };
    let in_tree = match backend
        .in_tree(conn, tenant_id, ids.iter().map(|(_, id)| *id).collect())
        .await
    {
        Ok(found) => found,
        Err(other) => return other,
    };
    match ids.into_iter().find(|(_, id)| in_tree.contains(id)) {
        Some((index, id)) => StoreError::InvalidEntry {
            index,
            source: EntryError::new("id", id.to_string(), REMOVED_ID),
        },
        None => err,
    }
}
