//! `q` as the exact values of the tenant that contain it.

use auditlog_domain::StoreError;
use sea_orm::{ColumnTrait, ConnectionTrait, FromQueryResult, sea_query::Condition};
use uuid::Uuid;

use super::extract::{EMAIL, IP, USER};
use crate::{backend::Backend, error::db_error, read::like_contains, schema::entry::Column};

/// Trigrams need three characters; a shorter `q` is matched without the index.
pub(crate) const MIN_CHARS: usize = 3;
/// More matching values than this and the index does not narrow much: the entries are
/// then matched by scanning.
pub(crate) const MAX_TERMS: usize = 1000;

/// A term as a backend's lookup statement answers it.
#[derive(Debug, FromQueryResult)]
pub(crate) struct Term {
    pub field: i16,
    pub value: String,
    pub key: Option<Vec<u8>>,
}

/// What the search index makes of `q`.
#[derive(Debug)]
pub(crate) enum Search {
    /// The index cannot narrow (`q` too short, or too many values match): the entries
    /// are matched by scanning.
    Scan,
    /// No value of the tenant contains `q`: no entry can match.
    Nothing,
    /// Exactly the entries holding one of these values, found by the b-tree indexes.
    Values(Condition),
}

/// What `q` (case-folded) matches among the tenant's values.
pub(crate) async fn matching<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    q: &str,
) -> Result<Search, StoreError> {
    if q.chars().count() < MIN_CHARS {
        return Ok(Search::Scan);
    }
    let statement =
        Backend::of(conn)?.term_lookup(tenant_id, q, &like_contains(q), MAX_TERMS as i64 + 1);
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
