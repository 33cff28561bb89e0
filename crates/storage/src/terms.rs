//! Search through each tenant's distinct searchable values (`audit_log_terms`): written
//! when a value first appears, and read to turn `q` into exact values that the entries'
//! b-tree indexes find.

use std::{
    collections::{BTreeMap, HashSet},
    sync::LazyLock,
    time::{Duration, Instant},
};

use auditlog_domain::StoreError;
use auditlog_migrations::search_words_sql;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Statement,
    sea_query::Condition,
};
use uuid::Uuid;

use crate::{
    entity::{
        audit_log::{self, Column},
        audit_log_term,
    },
    error::db_error,
};

/// The address field.
pub(crate) const IP: i16 = 0;
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

/// Records `terms` (from [`of_rows`]) that the tenant has not had before, on SQLite
/// (PostgreSQL records them in the statement that inserts the rows). Values go in key
/// order, so concurrent writers lock them in one order.
pub async fn add<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    terms: Vec<RowTerm>,
) -> Result<(), StoreError> {
    let mut terms = terms.into_iter().peekable();
    while terms.peek().is_some() {
        let chunk: Vec<audit_log_term::ActiveModel> = terms
            .by_ref()
            .take(INSERT_ROWS)
            .map(|(field, value, key)| audit_log_term::ActiveModel {
                tenant_id: sea_orm::Set(tenant_id),
                field: sea_orm::Set(field),
                value: sea_orm::Set(value),
                key: sea_orm::Set((field == IP).then_some(key)),
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

/// A search term of some rows: its field, its value and (addresses only) the
/// address's sort key, empty otherwise.
pub(crate) type RowTerm = (i16, String, Vec<u8>);

/// The distinct search terms of `rows`, in field and byte order.
pub(crate) fn of_rows<'a>(rows: impl IntoIterator<Item = &'a audit_log::Model>) -> Vec<RowTerm> {
    let mut terms: BTreeMap<(i16, &str), &[u8]> = BTreeMap::new();
    for row in rows {
        terms.insert((IP, &row.meta_source_ip), &row.ip_key);
        if let Some(user) = &row.actor_user_id_ci {
            terms.insert((USER, user), &[]);
        }
        if let Some(email) = &row.actor_email_ci {
            terms.insert((EMAIL, email), &[]);
        }
    }
    terms
        .into_iter()
        .map(|((field, value), key)| (field, value.to_owned(), key.to_vec()))
        .collect()
}

/// One search term of a tenant: its field and its value.
type TermKey = (Uuid, i16, String);

/// Terms at most in each of [`KnownTerms`]' two generations: about 100 bytes each.
const KNOWN_PER_GENERATION: usize = 50_000;

/// How long a term is remembered at most: a new generation begins every half of it.
const KNOWN_FOR: Duration = Duration::from_secs(60);

/// The search terms that this store has seen committed, on PostgreSQL, so that a write
/// need not offer them again: entries repeat the same users, addresses and e-mail
/// addresses endlessly, and looking each of them up in `audit_log_terms` cost a
/// third of a write.
///
/// Terms are only ever removed by a bulk load into a store without entries, which
/// advances the sequence `audit_log_terms_epoch`. What is remembered holds for one
/// [`Epoch`]: a write offers every term again whenever the sequence has moved, the
/// database server has started again (a restart, a failover, a restore) or the
/// sequence is another one, and the statement itself decides, so a load by another
/// process is seen at once. Against what none of these reveal (commits lost in a
/// crash under `synchronous_commit = off`, say), a term is remembered for at most
/// [`KNOWN_FOR`]. Terms are learned only after the transaction that wrote them
/// committed. The memory is bounded: when a generation is full or half of
/// [`KNOWN_FOR`] old, the older one is forgotten.
#[derive(Default)]
pub(crate) struct KnownTerms(std::sync::Mutex<Option<Known>>);

impl std::fmt::Debug for KnownTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.known();
        f.debug_struct("KnownTerms")
            .field("epoch", &known.as_ref().map(|k| &k.epoch))
            .field(
                "terms",
                &known.as_ref().map_or(0, |k| k.recent.len() + k.older.len()),
            )
            .finish()
    }
}

/// What the statement of a write reads to decide whether remembered terms still hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Epoch {
    /// The database server's start time and the sequence's identity.
    pub origin: String,
    /// The sequence's value.
    pub value: i64,
}

struct Known {
    epoch: Epoch,
    recent: HashSet<TermKey>,
    /// When `recent` began.
    recent_since: Instant,
    older: HashSet<TermKey>,
    /// When `older` began.
    older_since: Instant,
}

impl Known {
    fn new(epoch: Epoch, now: Instant) -> Self {
        Self {
            epoch,
            recent: HashSet::new(),
            recent_since: now,
            older: HashSet::new(),
            older_since: now,
        }
    }
}

/// What a committed write teaches [`KnownTerms`]: its terms, stored at this epoch.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    pub epoch: Option<Epoch>,
    pub terms: Vec<TermKey>,
}

impl KnownTerms {
    fn known(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        // A panic elsewhere while holding the lock leaves nothing half-done here.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// For each of `terms` of `tenant_id`, whether it is known; and the epoch that
    /// this holds for (`None`: nothing is known).
    pub fn lookup(&self, tenant_id: Uuid, terms: &[RowTerm]) -> (Option<Epoch>, Vec<bool>) {
        self.lookup_at(Instant::now(), tenant_id, terms)
    }

    fn lookup_at(
        &self,
        now: Instant,
        tenant_id: Uuid,
        terms: &[RowTerm],
    ) -> (Option<Epoch>, Vec<bool>) {
        let known = self.known();
        let Some(known) = known.as_ref() else {
            return (None, vec![false; terms.len()]);
        };
        let fresh = |since: Instant| now.saturating_duration_since(since) < KNOWN_FOR;
        let (recent, older) = (fresh(known.recent_since), fresh(known.older_since));
        let mut key: TermKey = (tenant_id, 0, String::new());
        let flags = terms
            .iter()
            .map(|(field, value, _)| {
                key.1 = *field;
                value.clone_into(&mut key.2);
                (recent && known.recent.contains(&key)) || (older && known.older.contains(&key))
            })
            .collect();
        (Some(known.epoch.clone()), flags)
    }

    /// Remembers the terms of a committed write.
    pub fn learn(&self, learned: Learned) {
        self.learn_at(Instant::now(), learned);
    }

    fn learn_at(&self, now: Instant, learned: Learned) {
        let Some(epoch) = learned.epoch else {
            return;
        };
        let mut guard = self.known();
        let known = match guard.as_mut() {
            // Learned before the terms were last removed: no longer sure.
            Some(known)
                if known.epoch.origin == epoch.origin && epoch.value < known.epoch.value =>
            {
                return;
            }
            Some(known) if known.epoch == epoch => known,
            _ => guard.insert(Known::new(epoch, now)),
        };
        for term in learned.terms {
            if known.recent.len() >= KNOWN_PER_GENERATION
                || now.saturating_duration_since(known.recent_since) >= KNOWN_FOR / 2
            {
                known.older = std::mem::take(&mut known.recent);
                known.older_since = known.recent_since;
                known.recent_since = now;
            }
            known.recent.insert(term);
        }
    }

    /// Forgets everything (the terms are being removed).
    pub fn forget(&self) {
        *self.known() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(value: &str) -> RowTerm {
        (USER, value.to_owned(), Vec::new())
    }

    fn epoch(origin: &str, value: i64) -> Epoch {
        Epoch {
            origin: origin.to_owned(),
            value,
        }
    }

    fn learned(epoch: &Epoch, tenant: Uuid, values: &[&str]) -> Learned {
        Learned {
            epoch: Some(epoch.clone()),
            terms: values
                .iter()
                .map(|v| (tenant, USER, (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn terms_are_known_per_tenant_for_the_epoch_they_were_learned_in() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let known = KnownTerms::default();
        assert_eq!(known.lookup(a, &[term("x")]), (None, vec![false]));

        let e3 = epoch("s1", 3);
        known.learn(learned(&e3, a, &["x"]));
        assert_eq!(
            known.lookup(a, &[term("x"), term("y")]),
            (Some(e3.clone()), vec![true, false])
        );
        assert_eq!(
            known.lookup(b, &[term("x")]),
            (Some(e3.clone()), vec![false])
        );

        // Learned before the terms were last removed: ignored.
        known.learn(learned(&epoch("s1", 2), a, &["y"]));
        assert_eq!(known.lookup(a, &[term("y")]), (Some(e3), vec![false]));

        // A later epoch: what was known before is forgotten.
        let e4 = epoch("s1", 4);
        known.learn(learned(&e4, a, &["y"]));
        assert_eq!(
            known.lookup(a, &[term("x"), term("y")]),
            (Some(e4.clone()), vec![false, true])
        );

        // Another server start or sequence: forgotten too, whatever the value.
        let other = epoch("s2", 1);
        known.learn(learned(&other, a, &["z"]));
        assert_eq!(
            known.lookup(a, &[term("y"), term("z")]),
            (Some(other.clone()), vec![false, true])
        );

        // A write that inserted nothing teaches nothing.
        known.learn(Learned::default());
        assert_eq!(known.lookup(a, &[term("z")]), (Some(other), vec![true]));

        known.forget();
        assert_eq!(known.lookup(a, &[term("z")]), (None, vec![false]));
    }

    #[test]
    fn terms_are_remembered_for_a_minute_at_most() {
        let tenant = Uuid::new_v4();
        let known = KnownTerms::default();
        let e = epoch("s", 1);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        known.learn_at(at(0), learned(&e, tenant, &["a"]));
        // Half a minute on, a new generation begins with "b".
        known.learn_at(at(40), learned(&e, tenant, &["b"]));
        let both = [term("a"), term("b")];
        assert_eq!(known.lookup_at(at(59), tenant, &both).1, vec![true, true]);
        assert_eq!(known.lookup_at(at(60), tenant, &both).1, vec![false, true]);
        assert_eq!(
            known.lookup_at(at(100), tenant, &both).1,
            vec![false, false]
        );
    }

    #[test]
    fn memory_is_bounded_to_two_generations() {
        let tenant = Uuid::new_v4();
        let known = KnownTerms::default();
        let values: Vec<String> = (0..KNOWN_PER_GENERATION * 2 + 1)
            .map(|i| format!("v{i}"))
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let e = epoch("s", 1);
        known.learn(learned(&e, tenant, &refs));
        let first_and_last = [term(refs[0]), term(refs[refs.len() - 1])];
        assert_eq!(
            known.lookup(tenant, &first_and_last),
            (Some(e), vec![false, true])
        );
        let held = known
            .known()
            .as_ref()
            .map_or(0, |k| k.recent.len() + k.older.len());
        assert!(held <= 2 * KNOWN_PER_GENERATION, "{held} terms held");
    }

    #[test]
    fn row_terms_are_distinct_in_field_and_byte_order() {
        let row = |ip: &str, key: u8, user: Option<&str>, email: Option<&str>| audit_log::Model {
            tenant_id: Uuid::nil(),
            id: Uuid::new_v4(),
            r#type: "login_success".into(),
            error: None,
            meta_http_request_id: "r".into(),
            meta_source_ip: ip.into(),
            ip_key: vec![key; 16],
            meta_user_agent: "ua".into(),
            actor_user_id: user.map(str::to_uppercase),
            actor_user_id_ci: user.map(str::to_owned),
            actor_email: None,
            actor_email_ci: email.map(str::to_owned),
            details: None,
            created_at: 0,
            updated_at: 0,
        };
        let rows = [
            row("10.0.0.2", 2, Some("bob"), None),
            row("10.0.0.1", 1, Some("Zed"), Some("a@x")),
            row("10.0.0.2", 2, Some("bob"), Some("a@x")),
        ];
        assert_eq!(
            of_rows(&rows),
            vec![
                (IP, "10.0.0.1".to_owned(), vec![1; 16]),
                (IP, "10.0.0.2".to_owned(), vec![2; 16]),
                (USER, "Zed".to_owned(), Vec::new()),
                (USER, "bob".to_owned(), Vec::new()),
                (EMAIL, "a@x".to_owned(), Vec::new()),
            ]
        );
    }
}
