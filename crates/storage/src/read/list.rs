//! The page a filter asks for, and how many entries match in all.

use auditlog_domain::{AuditLog, AuditLogFilter, Cursor, Page, PageRequest, StoreError};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::condition::{after, condition_but_q, from, q_condition};
use crate::{
    counts,
    error::db_error,
    schema::entry::{Column, Entity, Model},
    search::{self, Search},
};

/// Offsets from this on: an unfiltered page first seeks to its day through the daily
/// counts (read anyway for the total); the rows still to skip are then skipped in a
/// query of their own that reads only the sort columns (from the index alone, where it
/// covers the filter), and the page is read from the entry found, so the rows skipped
/// are never fetched whole.
const DEFER_FROM_OFFSET: u64 = 1_000;

/// The page of `tenant_id`'s entries that `filter` asks for, newest first, and how many
/// match in all, read on `conn` (a connection or the caller's transaction).
pub async fn list_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    filter: &AuditLogFilter,
) -> Result<Page<AuditLog>, StoreError> {
    let (rows, total) = page_in(conn, tenant_id, filter, Read::Entries).await?;
    let items = match rows {
        Rows::Entries(items) => items,
        Rows::Positions(_) => Vec::new(),
    };
    Ok(Page { items, total })
}

/// What [`list_in`] answers, with each entry's position in the order (its
/// `created_at` and id) instead of the entry: what a large page is read by, its entries
/// then read a slice at a time ([`super::entries_in`]).
pub(crate) async fn positions_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    filter: &AuditLogFilter,
) -> Result<Page<Cursor>, StoreError> {
    let (rows, total) = page_in(conn, tenant_id, filter, Read::Positions).await?;
    let items = match rows {
        Rows::Positions(items) => items,
        Rows::Entries(_) => Vec::new(),
    };
    Ok(Page { items, total })
}

/// What a page's rows are read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Entries,
    Positions,
}

/// A page's rows, as read.
enum Rows {
    Entries(Vec<AuditLog>),
    Positions(Vec<Cursor>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Entries(items) => items.len(),
            Rows::Positions(items) => items.len(),
        }
    }
}

/// The page's rows as `read` asks, and how many entries match in all.
async fn page_in<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    filter: &AuditLogFilter,
    read: Read,
) -> Result<(Rows, u64), StoreError> {
    let empty = || match read {
        Read::Entries => Rows::Entries(Vec::new()),
        Read::Positions => Rows::Positions(Vec::new()),
    };
    let mut matching = condition_but_q(tenant_id, filter);
    if let Some(q) = filter.q() {
        // The search index turns `q` into the exact values that contain it: an entry
        // holds one of them exactly when it matches `q`, so the indexes of those
        // columns answer alone (counts included) without a substring test per row.
        match search::matching(conn, tenant_id, q).await? {
            Search::Values(values) => matching = matching.add(values),
            Search::Nothing => return Ok((empty(), 0)),
            Search::Scan => matching = matching.add(q_condition(q)),
        }
    }
    let page = filter.page();
    let unfiltered = filter.is_unfiltered();
    // Unfiltered lists are counted by day, without a scan.
    let days = if unfiltered {
        Some(counts::days(conn, tenant_id).await?)
    } else {
        None
    };
    let mut select = Entity::find()
        .filter(matching.clone())
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(page.per_page());
    // An offset past the last entry, found while skipping: the page is empty.
    let mut past_the_end = false;
    match page {
        PageRequest::Offset { .. } => {
            let mut offset = page.offset();
            if i64::try_from(offset).is_err() {
                return Err(StoreError::Backend(format!(
                    "offset {offset} is beyond what the database can count"
                )));
            }
            if let Some(days) = days.as_deref().filter(|_| offset >= DEFER_FROM_OFFSET) {
                match counts::seek(days, offset) {
                    Some((before, skip)) => {
                        select = select.filter(Column::CreatedAt.lt(before));
                        offset = skip;
                    }
                    None => {
                        let total = days.iter().map(|(_, n)| n).sum();
                        return Ok((empty(), total));
                    }
                }
            }
            if offset >= DEFER_FROM_OFFSET {
                let first: Option<(i64, Uuid)> = select
                    .clone()
                    .select_only()
                    .column(Column::CreatedAt)
                    .column(Column::Id)
                    .offset(offset)
                    .limit(1)
                    .into_tuple()
                    .one(conn)
                    .await
                    .map_err(db_error)?;
                match first {
                    Some((created_at, id)) => select = select.filter(from(created_at, id)),
                    None => past_the_end = true,
                }
            } else {
                select = select.offset(offset);
            }
        }
        PageRequest::After { cursor, .. } => select = select.filter(after(&cursor)),
    }
    let rows = match (past_the_end, read) {
        (true, _) => empty(),
        (false, Read::Entries) => Rows::Entries(
            select
                .all(conn)
                .await
                .map_err(db_error)?
                .into_iter()
                .map(Model::into_entry)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (false, Read::Positions) => Rows::Positions(
            select
                .select_only()
                .column(Column::CreatedAt)
                .column(Column::Id)
                .into_tuple::<(i64, Uuid)>()
                .all(conn)
                .await
                .map_err(db_error)?
                .into_iter()
                .map(|(created_at_micros, id)| Cursor {
                    created_at_micros,
                    id,
                })
                .collect(),
        ),
    };
    let returned = rows.len() as u64;
    let total = match (page, days) {
        (_, Some(days)) => days.iter().map(|(_, n)| n).sum(),
        // A short page that is not empty ends the result, so it tells the total.
        (PageRequest::Offset { .. }, None) if returned > 0 && returned < page.per_page() => {
            page.offset() + returned
        }
        _ => Entity::find()
            .filter(matching)
            .count(conn)
            .await
            .map_err(db_error)?,
    };
    Ok((rows, total))
}
