//! Reading a tenant's entries in log order, a page at a time, for verifiable exports:
//! whatever the size of the log, a reader holds one page.

use auditlog_domain::{AuditLogFilter, ExportPage, StoreError};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entries_by_id;
use crate::{error::db_error, read::condition, schema::leaf};

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
            next: from,
        });
    }
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let rows: Vec<(i64, Uuid)> = leaf::Entity::find()
        .select_only()
        .column(leaf::Column::LeafIndex)
        .column(leaf::Column::EntryId)
        .filter(leaf::Column::TenantId.eq(tenant_id))
        .filter(leaf::Column::LeafIndex.gte(as_i64(from)))
        .filter(leaf::Column::LeafIndex.lt(as_i64(to)))
        .order_by_asc(leaf::Column::LeafIndex)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_error)?;
    let ids: Vec<Uuid> = rows.iter().map(|(_, id)| *id).collect();
    let mut found = entries_by_id(conn, condition(tenant_id, filter), &ids).await?;
    let entries = rows
        .into_iter()
        .filter_map(|(index, id)| {
            found
                .remove(&id)
                .map(|entry| (u64::try_from(index).unwrap_or_default(), entry))
        })
        .collect();
    Ok(ExportPage { entries, next: to })
}
