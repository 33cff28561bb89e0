//! The write path: a batch is validated, inserted with `ON CONFLICT DO NOTHING`, then
//! read back and compared, all on the caller's connection or transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use auditlog_domain::{
    AuditLog, NewAuditLog, StoreError, entry::timestamp::to_micros, store::prepare_batch,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TryInsertResult};
use uuid::Uuid;

use crate::{
    convert::{entry_from_row, entry_to_row, now},
    counts,
    entity::audit_log,
    error::db_error,
    terms,
};

/// Rows per `INSERT`: 15 bind parameters each stays far below the limits of SQLite
/// (32766) and PostgreSQL (65535).
const INSERT_ROWS: usize = 500;
/// Ids per `SELECT ... IN (...)`, for the same reason.
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
/// rolling back is the caller's duty (the batch may be partly inserted when a
/// [`StoreError::Conflict`] is found). [`auditlog_domain::AuditLogStore::append`] of
/// [`crate::SeaOrmStore`] does it in a transaction of its own.
pub async fn append_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: Vec<NewAuditLog>,
) -> Result<Vec<AuditLog>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
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
    let inserted = insert_new(conn, tenant_id, own.values()).await?;

    // Only ids that were stored before need reading: the rest are as inserted.
    let existing: Vec<Uuid> = own
        .keys()
        .filter(|id| !inserted.contains(id))
        .copied()
        .collect();
    for chunk in existing.chunks(SELECT_IDS) {
        let found = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await
            .map_err(db_error)?;
        for row in found {
            let entry = entry_from_row(row)?;
            own.insert(entry.id, entry);
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
    Ok(answer)
}

/// Inserts `entries` into `tenant_id` with `ON CONFLICT DO NOTHING` and adds the ones
/// inserted to the daily counts; returns the ids inserted. Rows go in id order, so two
/// batches that share ids wait for each other in one order and never deadlock.
pub(crate) async fn insert_new<'a, C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: impl Iterator<Item = &'a AuditLog>,
) -> Result<HashSet<Uuid>, StoreError> {
    let mut rows = Vec::new();
    let mut by_id: HashMap<Uuid, &AuditLog> = HashMap::new();
    for entry in entries {
        rows.push(entry_to_row(entry)?);
        by_id.insert(entry.id, entry);
    }
    rows.sort_unstable_by_key(|row| row.id);
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(rows.len());
    let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<audit_log::ActiveModel> =
            rows.by_ref().take(INSERT_ROWS).map(Into::into).collect();
        let keys = audit_log::Entity::insert_many(chunk)
            .on_conflict_do_nothing()
            .exec_with_returning_keys(conn)
            .await
            .map_err(db_error)?;
        if let TryInsertResult::Inserted(keys) = keys {
            for (_, id) in keys {
                if let Some(entry) = by_id.get(&id) {
                    *per_day
                        .entry(counts::day_of(to_micros(entry.created_at)))
                        .or_default() += 1;
                }
                inserted.insert(id);
            }
        }
    }
    counts::add(conn, tenant_id, &per_day).await?;
    let new_entries = inserted.iter().filter_map(|id| by_id.get(id).copied());
    terms::add(conn, tenant_id, new_entries).await?;
    Ok(inserted)
}
