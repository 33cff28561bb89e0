//! Each tenant's number of entries per UTC day, kept in the transaction that stores the
//! entries: the unfiltered total without a scan, and the day where a deep page starts.

use std::collections::BTreeMap;

use auditlog_domain::StoreError;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use crate::{
    error::db_error,
    schema::count::{ActiveModel, Column, Entity},
};

/// Microseconds in a UTC day: the width of a count bucket.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// [`day_of`] `created_at` in SQL that every backend evaluates alike, also before 1970
/// (where `/` alone would round towards zero).
pub(crate) fn day_sql() -> String {
    format!(
        "((created_at - (((created_at % {DAY_MICROS}) + {DAY_MICROS}) % {DAY_MICROS})) / {DAY_MICROS})"
    )
}

/// The day bucket of a `created_at` in microseconds.
pub(crate) fn day_of(created_at_micros: i64) -> i64 {
    created_at_micros.div_euclid(DAY_MICROS)
}

/// Adds `per_day` (entries per day) to the tenant's counts. Days go in ascending order, so concurrent
/// batches lock the rows in one order and never deadlock.
pub(crate) async fn increment<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    per_day: &BTreeMap<i64, i64>,
) -> Result<(), StoreError> {
    if per_day.is_empty() {
        return Ok(());
    }
    let rows = per_day.iter().map(|(&day, &entries)| ActiveModel {
        tenant_id: sea_orm::Set(tenant_id),
        day: sea_orm::Set(day),
        entries: sea_orm::Set(entries),
    });
    let sum = Expr::col((Entity, Column::Entries)).add(Expr::cust("excluded.entries"));
    Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([Column::TenantId, Column::Day])
                .value(Column::Entries, sum)
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The tenant's (day, entries), newest day first.
pub(crate) async fn days<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
) -> Result<Vec<(i64, u64)>, StoreError> {
    let rows = Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .order_by_desc(Column::Day)
        .all(conn)
        .await
        .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|row| (row.day, u64::try_from(row.entries).unwrap_or(0)))
        .collect())
}

/// Where an unfiltered offset lands: the first microsecond after the day that holds
/// entry number `offset` (newest first), and how many entries of that day and later
/// days come before it. `None` when the offset lies past the last entry.
pub(crate) fn seek(days: &[(i64, u64)], offset: u64) -> Option<(i64, u64)> {
    let mut before = 0u64;
    for &(day, entries) in days {
        if before + entries > offset {
            return Some(((day + 1).saturating_mul(DAY_MICROS), offset - before));
        }
        before += entries;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_floor_also_before_1970() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MICROS - 1), 0);
        assert_eq!(day_of(DAY_MICROS), 1);
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn seek_finds_the_day_of_an_offset() {
        let days = [(10, 5), (9, 0), (8, 3)];
        assert_eq!(seek(&days, 0), Some((11 * DAY_MICROS, 0)));
        assert_eq!(seek(&days, 4), Some((11 * DAY_MICROS, 4)));
        assert_eq!(seek(&days, 5), Some((9 * DAY_MICROS, 0)));
        assert_eq!(seek(&days, 7), Some((9 * DAY_MICROS, 2)));
        assert_eq!(seek(&days, 8), None);
    }
}
