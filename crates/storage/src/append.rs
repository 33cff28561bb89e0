//! The write path: a batch is validated, inserted with `ON CONFLICT DO NOTHING`, then
//! read back and compared, all on the caller's connection or transaction.

use std::collections::HashMap;

use auditlog_domain::{AuditLog, NewAuditLog, StoreError, store::prepare_batch};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    convert::{entry_from_row, entry_to_row, now},
    entity::audit_log,
    error::db_error,
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
    let mut rows = Vec::with_capacity(prepared.len());
    for (entry, duplicate_of) in prepared {
        if let Some(first) = duplicate_of {
            slots.push(Slot::SameAs(first));
            continue;
        }
        let submitted = entry.id.is_some().then(|| Box::new(entry.clone()));
        let stored = entry.into_entry(tenant_id, now);
        rows.push(entry_to_row(&stored)?);
        slots.push(Slot::Own(stored.id, submitted));
    }

    // Insert first, then read: a reader that later writes is refused with SQLITE_BUSY
    // under concurrency, and on PostgreSQL the insert waits for a concurrent inserter
    // of the same id, so that the read below sees its row. Rows go in id order, so two
    // batches that share ids wait for each other in one order and never deadlock.
    rows.sort_unstable_by_key(|row| row.id);
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<audit_log::ActiveModel> =
            rows.by_ref().take(INSERT_ROWS).map(Into::into).collect();
        audit_log::Entity::insert_many(chunk)
            .on_conflict_do_nothing()
            .exec_without_returning(conn)
            .await
            .map_err(db_error)?;
    }

    let mut stored: HashMap<Uuid, AuditLog> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(SELECT_IDS) {
        let found = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await
            .map_err(db_error)?;
        for row in found {
            let entry = entry_from_row(row)?;
            stored.insert(entry.id, entry);
        }
    }

    let mut answer: Vec<AuditLog> = Vec::with_capacity(slots.len());
    for (index, slot) in slots.into_iter().enumerate() {
        let entry = match slot {
            Slot::SameAs(first) => answer.get(first).cloned(),
            Slot::Own(id, submitted) => {
                let entry = stored.get(&id).cloned();
                if let (Some(submitted), Some(entry)) = (&submitted, &entry)
                    && !submitted.same_content_as(entry)
                {
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
