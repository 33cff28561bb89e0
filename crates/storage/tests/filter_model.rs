//! The store against the reference meaning of a filter: for random entries and random
//! filters (built from query parameters, as the APIs build them), `list` answers what
//! `AuditLogFilter::matches`, the order `created_at desc, id desc` and skip/take
//! answer in memory; and walking keyset pages visits the same entries in the same order.
//!
//! One database per backend for the whole run, a fresh tenant per case. `PROPTEST_CASES`
//! sets the number of cases (default 128).

mod common;
#[path = "filter_model/inputs.rs"]
mod inputs;

use std::sync::atomic::{AtomicUsize, Ordering};

use auditlog_domain::{AuditLog, AuditLogFilter, AuditLogStore, Cursor, NewAuditLog, PageRequest};
use auditlog_storage::SeaOrmStore;
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use uuid::Uuid;

use common::{Backend, TestDb};
use inputs::{EntrySpec, FilterSpec, entry_spec, filter_pairs, filter_spec, new_entry};

/// What `list` must answer for `filter`: every match, newest first.
fn model(entries: &[AuditLog], filter: &AuditLogFilter) -> Vec<AuditLog> {
    let mut matching: Vec<AuditLog> = entries
        .iter()
        .filter(|e| filter.matches(e))
        .cloned()
        .collect();
    matching.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
    matching
}

async fn check(
    store: &SeaOrmStore,
    entries: &[EntrySpec],
    filters: &[FilterSpec],
) -> Result<(), TestCaseError> {
    let tenant = Uuid::new_v4();
    let submitted: Vec<NewAuditLog> = entries
        .iter()
        .enumerate()
        .map(|(i, spec)| new_entry(i, spec))
        .collect();
    let stored = store
        .append(tenant, submitted)
        .await
        .map_err(|e| TestCaseError::fail(format!("append: {e}")))?;
    for spec in filters {
        let pairs = filter_pairs(spec);
        let filter =
            AuditLogFilter::from_query_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| TestCaseError::fail(format!("filter: {e}")))?;
        let expected = model(&stored, &filter);
        let page = store
            .list(tenant, &filter)
            .await
            .map_err(|e| TestCaseError::fail(format!("list: {e}")))?;
        let request = filter.page();
        let window: Vec<AuditLog> = expected
            .iter()
            .skip(usize::try_from(request.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(request.per_page()).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        prop_assert_eq!(page.total, expected.len() as u64, "total for {:?}", pairs);
        prop_assert_eq!(&page.items, &window, "items for {:?}", pairs);

        // Keyset pages from the first to the end visit every match once, in order.
        let per_page = request.per_page();
        let mut walked: Vec<AuditLog> = Vec::new();
        let mut next = PageRequest::Offset { page: 1, per_page };
        loop {
            let page = store
                .list(tenant, &filter.with_page(next))
                .await
                .map_err(|e| TestCaseError::fail(format!("list: {e}")))?;
            prop_assert_eq!(
                page.total,
                expected.len() as u64,
                "keyset total for {:?}",
                pairs
            );
            walked.extend(page.items.iter().cloned());
            match page.items.last() {
                Some(last) if walked.len() <= expected.len() => {
                    next = PageRequest::After {
                        cursor: Cursor::after(last),
                        per_page,
                    };
                }
                _ => break,
            }
        }
        prop_assert_eq!(
            &walked,
            &expected,
            "keyset pages of {} for {:?}",
            per_page,
            pairs
        );
    }
    Ok(())
}

fn run_model(backend: Backend) {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let db = rt.block_on(TestDb::open(backend));
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let runs = AtomicUsize::new(0);
    let strategy = (
        prop::collection::vec(entry_spec(), 0..50),
        prop::collection::vec(filter_spec(), 1..4),
    );
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |(entries, filters)| {
        runs.fetch_add(1, Ordering::Relaxed);
        rt.block_on(check(&db.store, &entries, &filters))
    });
    rt.block_on(db.close());
    if let Err(err) = result {
        panic!(
            "the store disagrees with the model on {}: {err}",
            backend.name()
        );
    }
    eprintln!(
        "filter model: {cases} cases on {} ({} runs, {:.1?})",
        backend.name(),
        runs.load(Ordering::Relaxed),
        started.elapsed()
    );
}

#[test]
fn sqlite_matches_the_model() {
    run_model(Backend::Sqlite);
}

#[test]
fn postgres_matches_the_model() {
    run_model(Backend::Postgres);
}
