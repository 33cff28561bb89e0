//! Reading a tenant's entries in log order, a page at a time, for verifiable exports:
//! whatever the size of the log, a reader holds one page.

use auditlog_domain::{AuditLogFilter, ERASURE_MARKER, ExportPage, StoreError};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entries_by_id;
use crate::{error::db_error, log::hashes::split, read::condition, schema::leaf};

/// The page of [`auditlog_domain::LogStore::export_page`]: the leaves `from..to` are
/// read first, then their entries that the filter matches.
pub(crate) async fn export_page<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    filter: &AuditLogFilter,
    from: u64,
    end: u64,
    leaves: u64,
) -> Result<ExportPage, StoreError> {
    let to = end.min(from.saturating_add(leaves.max(1)));
    if from >= to {
        return Ok(ExportPage {
            entries: Vec::new(),
            removed: Vec::new(),
            erased: Vec::new(),
            next: from,
        });
    }
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let rows: Vec<(i64, Uuid, Vec<u8>)> = leaf::Entity::find()
        .select_only()
        .column(leaf::Column::LeafIndex)
        .column(leaf::Column::EntryId)
        .column(leaf::Column::Hashes)
        .filter(leaf::Column::TenantId.eq(tenant_id))
        .filter(leaf::Column::LeafIndex.gte(as_i64(from)))
        .filter(leaf::Column::LeafIndex.lt(as_i64(to)))
        .order_by_asc(leaf::Column::LeafIndex)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_error)?;
    let ids: Vec<Uuid> = rows.iter().map(|(_, id, _)| *id).collect();
    let mut found = entries_by_id(conn, condition(tenant_id, filter), &ids).await?;
    // Unfiltered, a leaf without its entry is a removed one: its recorded hash stands in.
    let whole = filter.is_unfiltered();
    let (mut entries, mut removed, mut erased) =
        (Vec::with_capacity(rows.len()), Vec::new(), Vec::new());
    for (index, id, hashes) in rows {
        let index = u64::try_from(index).unwrap_or_default();
        let recorded = || {
            split(&hashes)
                .and_then(|hashes| hashes.first().copied())
                .map(Into::into)
                .ok_or_else(|| {
                    StoreError::Backend(format!(
                        "the hashes stored with leaf {index} cannot be read"
                    ))
                })
        };
        match found.remove(&id) {
            Some(entry) => {
                let is_erased = entry
                    .details
                    .as_ref()
                    .is_some_and(|details| details.contains_key(ERASURE_MARKER));
                if whole && is_erased {
                    erased.push((index, recorded()?));
                }
                entries.push((index, entry));
            }
            None if whole => removed.push((index, recorded()?)),
            None => {}
        }
    }
    Ok(ExportPage {
        entries,
        removed,
        erased,
        next: to,
    })
}
