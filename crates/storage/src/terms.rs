//! Search through each tenant's distinct searchable values (`audit_log_terms`): written
//! when a value first appears, and read to turn `q` into exact values that the entries'
//! b-tree indexes find.

use std::{collections::BTreeSet, sync::LazyLock};

use auditlog_domain::{AuditLog, StoreError, ip, text::fold_case};
use auditlog_migrations::search_words_sql;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Statement,
    sea_query::Condition,
};
use uuid::Uuid;

use crate::{
    entity::{audit_log::Column, audit_log_term},
    error::db_error,
};

/// The address field.
const IP: i16 = 0;
/// The folded user id field.
const USER: i16 = 1;
/// The folded e-mail field.
const EMAIL: i16 = 2;

/// Trigrams need three characters; a shorter `q` is matched without the index.
pub const MIN_CHARS: usize = 3;
/// More matching values than this and the index does not narrow much: the entries are
/// then matched by scanning.
const MAX_TERMS: usize = 1000;
/// Terms per `INSERT`.
const INSERT_ROWS: usize = 1000;

/// Records the searchable values of `entries` that the tenant has not had before.
/// Values go in key order, so concurrent writers lock them in one order.
pub async fn add<'a, C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    entries: impl Iterator<Item = &'a AuditLog>,
) -> Result<(), StoreError> {
    let mut terms: BTreeSet<(i16, String, Option<Vec<u8>>)> = BTreeSet::new();
    for entry in entries {
        terms.insert((
            IP,
            entry.meta_source_ip.to_string(),
            Some(ip::sort_key(entry.meta_source_ip).to_vec()),
        ));
        if let Some(user) = &entry.actor_user_id {
            terms.insert((USER, fold_case(user), None));
        }
        if let Some(email) = &entry.actor_email {
            terms.insert((EMAIL, fold_case(email), None));
        }
    }
    let mut terms = terms.into_iter().peekable();
    while terms.peek().is_some() {
        let chunk: Vec<audit_log_term::ActiveModel> = terms
            .by_ref()
            .take(INSERT_ROWS)
            .map(|(field, value, key)| audit_log_term::ActiveModel {
                tenant_id: sea_orm::Set(tenant_id),
                field: sea_orm::Set(field),
                value: sea_orm::Set(value),
                key: sea_orm::Set(key),
            })
            .collect();
        audit_log_term::Entity::insert_many(chunk)
            .on_conflict_do_nothing()
            .exec_without_returning(conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// The lookup of [`matching`] on PostgreSQL: the user ids and e-mail addresses through
/// their trigram index, then the addresses through theirs ([`ADDRESS_BY_TRIGRAMS`]) or
/// their suffixes ([`ADDRESS_BY_SUFFIX`]). Each part keeps at most `$3` values; the
/// exact `LIKE` on the value decides in each.
static POSTGRES_LOOKUP: LazyLock<[String; 2]> = LazyLock::new(|| {
    let by_trigrams = |fields: &str| {
        format!(
            "SELECT field, value, key FROM audit_log_terms \
             WHERE tenant_id = $1 AND {fields} AND {} LIKE {} ESCAPE '\\' \
               AND value LIKE $2 ESCAPE '\\' LIMIT $3",
            search_words_sql("value"),
            search_words_sql("$2"),
        )
    };
    let others = by_trigrams("field <> 0");
    [
        format!("({others}) UNION ALL ({})", by_trigrams("field = 0")),
        format!(
            "({others}) UNION ALL (SELECT field, value, key FROM audit_log_terms \
               WHERE tenant_id = $1 AND field = 0 AND value IN ( \
                 SELECT value FROM audit_log_ip_suffixes \
                 WHERE tenant_id = $1 AND suffix >= $4 AND suffix < $5 \
                   AND value LIKE $2 ESCAPE '\\') \
               LIMIT $3)"
        ),
    ]
});
/// Which of [`POSTGRES_LOOKUP`] finds the addresses.
const ADDRESS_BY_TRIGRAMS: usize = 0;
const ADDRESS_BY_SUFFIX: usize = 1;

/// The text after the first `.` or `:` of `q`, when it is long enough to narrow: an
/// address that contains `q` has a suffix that begins with it, right after one of its
/// own separators (migration m20260104).
fn after_first_separator(q: &str) -> Option<&str> {
    let at = q.find(['.', ':'])?;
    let rest = &q[at + 1..];
    (rest.chars().count() >= MIN_CHARS).then_some(rest)
}

#[derive(Debug, FromQueryResult)]
struct Term {
    field: i16,
    value: String,
    key: Option<Vec<u8>>,
}

/// What the search index makes of `q`.
#[derive(Debug)]
pub enum Search {
    /// The index cannot narrow (`q` too short, or too many values match): the entries
    /// are matched by scanning.
    Scan,
    /// No value of the tenant contains `q`: no entry can match.
    Nothing,
    /// Exactly the entries holding one of these values, found by the b-tree indexes.
    Values(Condition),
}

/// What `q` matches among the tenant's values.
pub async fn matching<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    q: &str,
    escaped_pattern: &str,
) -> Result<Search, StoreError> {
    if q.chars().count() < MIN_CHARS {
        return Ok(Search::Scan);
    }
    let backend = conn.get_database_backend();
    let statement = match backend {
        // The index covers the values as single words; the exact LIKE decides.
        DbBackend::Postgres => {
            let mut values: Vec<sea_orm::Value> = vec![
                tenant_id.into(),
                escaped_pattern.into(),
                (MAX_TERMS as i64 + 1).into(),
            ];
            let lookup = match after_first_separator(q) {
                Some(rest) => {
                    // Every suffix that begins with `rest`, in byte order: up to `rest`
                    // followed by the greatest character.
                    values.push(rest.into());
                    values.push(format!("{rest}{}", char::MAX).into());
                    ADDRESS_BY_SUFFIX
                }
                None => ADDRESS_BY_TRIGRAMS,
            };
            Statement::from_sql_and_values(backend, POSTGRES_LOOKUP[lookup].as_str(), values)
        }
        // FTS5 serves LIKE through its trigram index only without ESCAPE; unescaped,
        // `%` and `_` of `q` are wildcards and match more, so the escaped LIKE then
        // keeps exactly the values that contain `q`.
        _ => Statement::from_sql_and_values(
            backend,
            "SELECT field, value, key FROM audit_log_terms_search \
             WHERE value LIKE ? AND value LIKE ? ESCAPE '\\' AND tenant_id = ? LIMIT ?",
            [
                format!("%{q}%").into(),
                escaped_pattern.into(),
                tenant_id.into(),
                (MAX_TERMS as i64 + 1).into(),
            ],
        ),
    };
    let terms = Term::find_by_statement(statement)
        .all(conn)
        .await
        .map_err(db_error)?;
    if terms.len() > MAX_TERMS {
        return Ok(Search::Scan);
    }
    if terms.is_empty() {
        return Ok(Search::Nothing);
    }
    let (mut keys, mut users, mut emails) = (Vec::new(), Vec::new(), Vec::new());
    for term in terms {
        match (term.field, term.key) {
            (IP, Some(key)) => keys.push(key),
            (USER, _) => users.push(term.value),
            (EMAIL, _) => emails.push(term.value),
            _ => {}
        }
    }
    let mut any = Condition::any();
    if !keys.is_empty() {
        any = any.add(Column::IpKey.is_in(keys));
    }
    if !users.is_empty() {
        any = any.add(Column::ActorUserIdCi.is_in(users));
    }
    if !emails.is_empty() {
        any = any.add(Column::ActorEmailCi.is_in(emails));
    }
    Ok(Search::Values(any))
}
