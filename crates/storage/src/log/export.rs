//! Reading a tenant's entries in log order, a page at a time, for verifiable exports:
//! whatever the size of the log, a reader holds one page.

use auditlog_domain::{AuditLog, AuditLogFilter, StoreError};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{
    SeaOrmStore,
    error::db_error,
    read::condition,
    schema::{entry, leaf},
};

/// Ids per `SELECT ... IN (...)`.
const CHUNK: usize = 1_000;

/// A page of an export: the entries of leaves `from..next` that the filter matches,
/// in log order, and where the next page starts.
#[derive(Debug, Clone, Default)]
pub struct ExportPage {
    /// The matching entries with their leaf index, in log order.
    pub entries: Vec<(u64, AuditLog)>,
    /// The leaf index the next page starts at.
    pub next: u64,
}

impl SeaOrmStore {
    /// The entries of the tenant's leaves `from..` (at most `leaves` leaves, and none at
    /// or past `end`) that `filter` matches, in log order. Pagination in the filter is
    /// ignored: the export's own is by leaf.
    pub async fn export_page(
        &self,
        tenant_id: Uuid,
        filter: &AuditLogFilter,
        from: u64,
        end: u64,
        leaves: u64,
    ) -> Result<ExportPage, StoreError> {
        export_page(self.connection(), tenant_id, filter, from, end, leaves).await
    }
}

async fn export_page<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    filter: &AuditLogFilter,
    from: u64,
    end: u64,
    leaves: u64,
) -> Result<ExportPage, StoreError> {
    let to = end.min(from.saturating_add(leaves));
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
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    let ids: Vec<Uuid> = rows.iter().map(|(_, id)| *id).collect();
    let matching = condition(tenant_id, filter);
    for chunk in ids.chunks(CHUNK) {
        for row in entry::Entity::find()
            .filter(matching.clone())
            .filter(entry::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await
            .map_err(db_error)?
        {
            let entry = row.into_entry()?;
            found.insert(entry.id, entry);
        }
    }
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
