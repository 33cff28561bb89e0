//! The search terms that this store has seen committed, remembered for a while so that
//! a write need not offer them again.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use uuid::Uuid;

use super::extract::RowTerm;

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
    use crate::search::extract::USER;

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
}
