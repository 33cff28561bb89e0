//! The properties that the fuzz targets check, as plain functions: the fuzz targets
//! (`fuzz_targets/`) call them with libFuzzer's inputs, and
//! `crates/server/tests/fuzz_regressions.rs` replays every input kept under
//! `fuzz/regressions/` through the same functions in the ordinary test run.
//!
//! Each function panics when a property does not hold; returning means the input was
//! handled as the contract says.

use auditlog_domain::{AuditLogFilter, NewAuditLog, PageRequest, limits};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// The tenant every fuzzed entry is recorded in.
const TENANT: Uuid = auditlog_domain::DEFAULT_TENANT_ID;

/// A raw query string, as the list endpoints decode it.
///
/// - Parsing never panics; a refusal names the parameter it refuses.
/// - An accepted filter survives the trip through a `Link` header: its query pairs
///   plus the page (or cursor) parse back to the same filter.
/// - The page's offset is computable (no overflow).
pub fn filter_query(raw: &[u8]) {
    let parsed = AuditLogFilter::from_query_pairs(form_urlencoded::parse(raw));
    let filter = match parsed {
        Ok(filter) => filter,
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains(&format!("'{}'", err.parameter)),
                "a refusal names its parameter: {message}"
            );
            return;
        }
    };
    let _ = filter.page().offset();
    let mut pairs: Vec<(String, String)> = filter
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    match filter.page() {
        PageRequest::Offset { page, per_page } => {
            pairs.push(("page".into(), page.to_string()));
            pairs.push(("per_page".into(), per_page.to_string()));
        }
        PageRequest::After { cursor, per_page } => {
            pairs.push(("cursor".into(), cursor.to_string()));
            pairs.push(("per_page".into(), per_page.to_string()));
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let again = AuditLogFilter::from_query_pairs(form_urlencoded::parse(query.as_bytes()))
        .unwrap_or_else(|err| {
            panic!("the query of a link must parse again: {query:?} from {raw:?}: {err}")
        });
    assert_eq!(
        again, filter,
        "a link's query names the same filter: {query:?}"
    );
}

/// A raw request body, as the ingest endpoints read it.
///
/// - Reading and validating never panic; a refusal names its field.
/// - A valid entry, stored and then served as JSON, is valid again when sent back (the
///   contract lets a client send an entry read from the API) and has the same content,
///   so a retry of it is never a conflict.
pub fn ingest_body(raw: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(raw) else {
        return;
    };
    let values = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    if values.is_empty() || values.len() > limits::MAX_BATCH {
        return;
    }
    let now = OffsetDateTime::now_utc();
    for value in &values {
        let entry = match NewAuditLog::from_json(value, TENANT).and_then(|e| e.validate(now)) {
            Ok(entry) => entry,
            Err(err) => {
                let message = err.to_string();
                assert!(
                    message.contains(&format!("'{}'", err.field)),
                    "a refusal names its field: {message}"
                );
                continue;
            }
        };
        let stored = entry.clone().into_entry(TENANT, now);
        assert!(
            entry.same_content_as(&stored),
            "an entry has the content it was stored with: {value}"
        );
        let served = serde_json::to_value(&stored).expect("a stored entry serialises");
        let resent = NewAuditLog::from_json(&served, TENANT)
            .and_then(|e| e.validate(now))
            .unwrap_or_else(|err| {
                panic!("an entry served by the API must be accepted back: {served}: {err}")
            });
        assert!(
            resent.same_content_as(&stored),
            "an entry sent back has the content it was served with: {served}"
        );
    }
}
