//! The filter as one SQL condition: the SQL meaning of [`AuditLogFilter::matches`].

use auditlog_domain::{AuditLogFilter, Cursor, entry::timestamp::to_micros, text::fold_case};
use sea_orm::{
    ColumnTrait,
    sea_query::{Condition, LikeExpr},
};
use uuid::Uuid;

use crate::schema::{entry::Column, ip_key};

/// The escape character of the patterns that [`like_contains`] builds.
const LIKE_ESCAPE: char = '\\';

/// A `LIKE` pattern that matches `needle` as a literal substring, with [`LIKE_ESCAPE`]
/// as the escape character: `%`, `_` and `\` in the needle stand for themselves.
pub(crate) fn like_contains(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

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
pub(crate) fn q_condition(q: &str) -> Condition {
    // `q` is held case-folded; the address text is lowercase already.
    let pattern = like_contains(q);
    let like = || LikeExpr::new(pattern.clone()).escape(LIKE_ESCAPE);
    Condition::any()
        .add(Column::MetaSourceIp.like(like()))
        .add(Column::ActorUserIdCi.like(like()))
        .add(Column::ActorEmailCi.like(like()))
}

/// [`condition`] without `q`.
pub(crate) fn condition_but_q(tenant_id: Uuid, filter: &AuditLogFilter) -> Condition {
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
        let (low, high) = ip_key::range(&ip);
        condition = condition.add(Column::IpKey.between(low.to_vec(), high.to_vec()));
    }
    condition
}

/// The entries that come after `cursor` in the order `created_at desc, id desc`, as a
/// range on the sort index (`created_at <= c`) and a check of the rows at `c`.
pub(crate) fn after(cursor: &Cursor) -> Condition {
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
pub(crate) fn from(created_at: i64, id: Uuid) -> Condition {
    Condition::all().add(Column::CreatedAt.lte(created_at)).add(
        Condition::any()
            .add(Column::CreatedAt.lt(created_at))
            .add(Column::Id.lte(id)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_metacharacters() {
        assert_eq!(like_contains("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_contains(""), "%%");
    }
}
