//! The read path: the filter as one SQL condition, and the page it asks for.

use auditlog_domain::{
    AuditLog, AuditLogFilter, Cursor, Page, PageRequest, StoreError,
    entry::timestamp::to_micros,
    text::{fold_case, like_contains_pattern},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Condition, LikeExpr},
};
use uuid::Uuid;

use crate::{
    convert::entry_from_row,
    counts,
    entity::audit_log::{Column, Entity},
    error::db_error,
    terms::{self, Search},
};

/// The escape character of the `LIKE` patterns that
/// [`auditlog_domain::text::like_contains_pattern`] builds.
const LIKE_ESCAPE: char = '\\';

/// The condition that selects the entries of `tenant_id` that `filter` matches,
/// pagination aside: the SQL meaning of [`AuditLogFilter::matches`]. Every value is a
/// bound parameter.
pub fn condition(tenant_id: Uuid, filter: &AuditLogFilter) -> Condition {
    let condition = condition_but_q(tenant_id, filter);
    match filter.q() {
        Some(q) => condition.add(q_condition(q)),
        None => condition,
    }
}

/// `q` as a scan: a case-insensitive substring of the address, user id or e-mail.
fn q_condition(q: &str) -> Condition {
    // `q` is held case-folded; the address text is lowercase already.
    let pattern = like_contains_pattern(q);
    let like = || LikeExpr::new(pattern.clone()).escape(LIKE_ESCAPE);
    Condition::any()
        .add(Column::MetaSourceIp.like(like()))
        .add(Column::ActorUserIdCi.like(like()))
        .add(Column::ActorEmailCi.like(like()))
}

/// [`condition`] without `q`.
fn condition_but_q(tenant_id: Uuid, filter: &AuditLogFilter) -> Condition {
    let mut condition = Condition::all().add(Column::TenantId.eq(tenant_id));
    if let Some(start) = filter.start_time() {
        condition = condition.add(Column::CreatedAt.gte(to_micros(start)));
    }
    if let Some(end) = filter.end_time() {
        condition = condition.add(Column::CreatedAt.lt(to_micros(end)));
    }
    if !filter.types().is_empty() {
        condition = condition.add(Column::Type.is_in(filter.types().iter().map(|t| t.as_str())));
    }
    if let Some(user) = filter.actor_user_id() {
        // The folded copy is indexed; the exact value decides.
        condition = condition
            .add(Column::ActorUserIdCi.eq(fold_case(user)))
            .add(Column::ActorUserId.eq(user));
    }
    if let Some(email) = filter.actor_email() {
        // Held case-folded by the filter, compared with the folded column.
        condition = condition.add(Column::ActorEmailCi.eq(email));
    }
    if let Some(ip) = filter.meta_source_ip() {
        let (low, high) = ip.key_range();
        condition = condition.add(Column::IpKey.between(low.to_vec(), high.to_vec()));
    }
    condition
}

/// The entries that come after `cursor` in the order `created_at desc, id desc`, as a
/// range on the sort index (`created_at <= c`) and a check of the rows at `c`.
fn after(cursor: &Cursor) -> Condition {
    Condition::all()
        .add(Column::CreatedAt.lte(cursor.created_at_micros))
        .add(
            Condition::any()
                .add(Column::CreatedAt.lt(cursor.created_at_micros))
                .add(Column::Id.lt(cursor.id)),
        )
}

/// The entries at or after the entry `(created_at, id)` in the order `created_at desc,
/// id desc`.
fn from(created_at: i64, id: Uuid) -> Condition {
    Condition::all().add(Column::CreatedAt.lte(created_at)).add(
        Condition::any()
            .add(Column::CreatedAt.lt(created_at))
            .add(Column::Id.lte(id)),
    )
}

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
    let mut matching = condition_but_q(tenant_id, filter);
    if let Some(q) = filter.q() {
        // The search index turns `q` into the exact values that contain it: an entry
        // holds one of them exactly when it matches `q`, so the indexes of those
        // columns answer alone (counts included) without a substring test per row.
        match terms::matching(conn, tenant_id, q, &like_contains_pattern(q)).await? {
            Search::Values(values) => matching = matching.add(values),
            Search::Nothing => {
                return Ok(Page {
                    items: Vec::new(),
                    total: 0,
                });
            }
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
                        return Ok(Page {
                            items: Vec::new(),
                            total,
                        });
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
    let items = if past_the_end {
        Vec::new()
    } else {
        select
            .all(conn)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>, _>>()?
    };
    let returned = items.len() as u64;
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
    Ok(Page { items, total })
}
