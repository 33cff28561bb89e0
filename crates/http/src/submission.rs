//! A submitted body, read into entries without first building its whole JSON tree: the
//! body's entries and each entry's members stay slices of the body ([`RawValue`]) until
//! their size is checked, so that what a request costs is bounded by the body limit
//! and the field limits, not by how many values the body packs. `details` over its
//! 65,536 bytes is refused after counting its compact form as it is read, without
//! building it; every other member is refused past [`MAX_MEMBER_BYTES`] of JSON; a batch
//! past 1,000 entries is counted, not collected.

use std::{fmt, io};

use auditlog_domain::{EntryError, NewAuditLog, limits, text::excerpt};
use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use serde_json::{Map, Value, value::RawValue};
use uuid::Uuid;

use crate::error::ApiError;

/// The most bytes of JSON a member other than `details` may take: far beyond the
/// longest string a field takes (4,096 characters, each up to six bytes escaped).
pub(crate) const MAX_MEMBER_BYTES: usize = 32 * 1024;

/// The members an entry may have: those of its leaf, and `updated_at` (accepted and
/// ignored, so that an entry read from the API can be sent back); any other is refused
/// by name.
fn member(name: &str) -> Option<&'static str> {
    auditlog_domain::log::LEAF_MEMBERS
        .into_iter()
        .chain(["updated_at"])
        .find(|known| *known == name)
}

/// The entries of a body (a JSON object, or an array of 1 to 1000), each checked
/// against its limits as it is read, and whether it was a single object.
pub(crate) fn entries(bytes: &[u8], tenant_id: Uuid) -> Result<(Vec<NewAuditLog>, bool), ApiError> {
    let invalid_json = |err: &dyn fmt::Display| {
        ApiError::bad_request(format!("the body is not valid JSON: {err}")).kind("invalid_json")
    };
    let text = std::str::from_utf8(bytes).map_err(|err| invalid_json(&err))?;
    let single = !text.trim_start().starts_with('[');
    let raws = if single {
        vec![serde_json::from_str::<&RawValue>(text).map_err(|err| invalid_json(&err))?]
    } else {
        let batch: Batch = serde_json::from_str(text).map_err(|err| invalid_json(&err))?;
        if batch.entries.is_empty() || batch.count > limits::MAX_BATCH {
            return Err(ApiError::bad_request(format!(
                "a batch holds 1 to {} entries, not {}",
                limits::MAX_BATCH,
                batch.count
            ))
            .kind("invalid_batch_size"));
        }
        batch.entries
    };
    let entries = raws
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            entry(raw, tenant_id).map_err(|err| ApiError::invalid_entry(index, &err))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((entries, single))
}

/// One entry from its slice of the body.
fn entry(raw: &RawValue, tenant_id: Uuid) -> Result<NewAuditLog, EntryError> {
    let not_an_object = || EntryError::new("entry", excerpt(raw.get()), "must be a JSON object");
    if !raw.get().starts_with('{') {
        return Err(not_an_object());
    }
    let members: Members = serde_json::from_str(raw.get()).map_err(|_| not_an_object())?;
    if let Some((name, value)) = members.unknown {
        return Err(EntryError::new(
            &name,
            excerpt(value.get()),
            "is not a field of an entry",
        ));
    }
    let mut object = Map::new();
    for (name, value) in members.known {
        let text = value.get();
        if name == "details" {
            if text.len() > limits::DETAILS_BYTES && compact_len_over(text, limits::DETAILS_BYTES) {
                return Err(EntryError::new(
                    "details",
                    excerpt(text),
                    format!("must be at most {} bytes serialised", limits::DETAILS_BYTES),
                ));
            }
        } else if text.len() > MAX_MEMBER_BYTES {
            return Err(EntryError::new(
                name,
                excerpt(text),
                format!("must be at most {MAX_MEMBER_BYTES} bytes of JSON"),
            ));
        }
        let parsed: Value = serde_json::from_str(text).map_err(|err| {
            EntryError::new(name, excerpt(text), format!("is not valid JSON: {err}"))
        })?;
        object.insert(name.to_owned(), parsed);
    }
    NewAuditLog::from_object(object, tenant_id)
}

/// Whether the compact JSON of `text` (as serde_json writes a value) is longer than
/// `limit` bytes, found by writing it to a counter that stops past the limit.
fn compact_len_over(text: &str, limit: usize) -> bool {
    let mut counter = Counter { count: 0, limit };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut serializer = serde_json::Serializer::new(&mut counter);
    match serde_transcode::transcode(&mut deserializer, &mut serializer) {
        Ok(()) => counter.count > limit,
        // Stopped by the counter, or not JSON (which the parse after says by name).
        Err(_) => counter.count > limit,
    }
}

/// Counts bytes, failing once past `limit`.
struct Counter {
    count: usize,
    limit: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count += buf.len();
        if self.count > self.limit {
            return Err(io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The first [`limits::MAX_BATCH`] elements of an array, and how many it has.
struct Batch<'a> {
    entries: Vec<&'a RawValue>,
    count: usize,
}

impl<'de> Deserialize<'de> for Batch<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BatchVisitor;

        impl<'de> Visitor<'de> for BatchVisitor {
            type Value = Batch<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of entries")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch<'de>, A::Error> {
                let mut entries = Vec::new();
                let mut count = 0;
                loop {
                    if count < limits::MAX_BATCH {
                        match seq.next_element::<&RawValue>()? {
                            Some(raw) => entries.push(raw),
                            None => break,
                        }
                    } else if seq.next_element::<IgnoredAny>()?.is_none() {
                        break;
                    }
                    count += 1;
                }
                Ok(Batch { entries, count })
            }
        }

        deserializer.deserialize_seq(BatchVisitor)
    }
}

/// An entry's members an entry may have, as slices of the body, in the order sent;
/// and the first member it may not have.
struct Members<'a> {
    known: Vec<(&'static str, &'a RawValue)>,
    unknown: Option<(String, &'a RawValue)>,
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an entry")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Members {
                    known: Vec::new(),
                    unknown: None,
                };
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match member(&name) {
                        // A member given twice: the last one counts, as in a JSON object.
                        Some(known) => {
                            let value = map.next_value::<&RawValue>()?;
                            members.known.retain(|(n, _)| *n != known);
                            members.known.push((known, value));
                        }
                        None if members.unknown.is_none() => {
                            let value = map.next_value::<&RawValue>()?;
                            members.unknown = Some((name.into_owned(), value));
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(members)
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry_json() -> Value {
        json!({
            "type": "login_success",
            "meta_http_request_id": "r1",
            "meta_source_ip": "192.0.2.1",
            "meta_user_agent": "ua",
            "details": {"method": "password", "attempt": 2},
        })
    }

    fn read(body: &Value) -> Result<(Vec<NewAuditLog>, bool), ApiError> {
        entries(body.to_string().as_bytes(), Uuid::nil())
    }

    #[test]
    fn entries_read_as_the_tree_reads_them() {
        let (one, single) = read(&entry_json()).expect("valid");
        assert!(single);
        assert_eq!(
            one,
            vec![NewAuditLog::from_json(&entry_json(), Uuid::nil()).expect("valid")]
        );
        let (two, single) = read(&json!([entry_json(), entry_json()])).expect("valid");
        assert!(!single);
        assert_eq!(two.len(), 2);
        // A member given twice counts once, the last time, as a JSON object keeps it.
        let twice = r#"{"type":"login_failure","type":"login_success","meta_http_request_id":"r1","meta_source_ip":"192.0.2.1","meta_user_agent":"ua"}"#;
        let (entries, _) = entries(twice.as_bytes(), Uuid::nil()).expect("valid");
        assert_eq!(entries[0].r#type.to_string(), "login_success");
    }

    #[test]
    fn details_over_the_limit_are_refused_by_their_compact_size() {
        // Small values packed tight: the tree of these would be sixteen times the text.
        let packed: Vec<u8> = vec![0; 40_000];
        let mut big = entry_json();
        big["details"] = json!({ "a": packed });
        let err = read(&json!([entry_json(), big])).expect_err("over the limit");
        assert!(err.details.starts_with("entry 1: "), "{}", err.details);
        assert!(err.details.contains("details"), "{}", err.details);
        assert!(
            err.details.contains("65536 bytes serialised"),
            "{}",
            err.details
        );
        // Whitespace is not counted: the same limit as a compact body.
        let mut spaced = entry_json();
        spaced["details"] = json!({ "a": vec![0; 20_000] });
        let text = serde_json::to_string_pretty(&spaced).expect("JSON");
        assert!(text.len() > limits::DETAILS_BYTES);
        entries(text.as_bytes(), Uuid::nil()).expect("compact, it fits");
    }

    #[test]
    fn batches_unknown_members_and_oversized_fields_are_named() {
        let err = read(&json!([])).expect_err("empty");
        assert!(err.details.contains("not 0"), "{}", err.details);
        let many: Vec<Value> = (0..1_001).map(|_| json!(1)).collect();
        let err = read(&json!(many)).expect_err("too many");
        assert!(err.details.contains("not 1001"), "{}", err.details);
        let mut unknown = entry_json();
        unknown["colour"] = json!("blue");
        let err = read(&unknown).expect_err("unknown");
        assert!(err.details.contains("colour"), "{}", err.details);
        let mut long = entry_json();
        long["error"] = json!(vec![1; 20_000]);
        let err = read(&long).expect_err("too large");
        assert!(
            err.details.contains("'error'") || err.details.contains("error"),
            "{}",
            err.details
        );
        let err = read(&json!([1])).expect_err("not an object");
        assert!(
            err.details.contains("must be a JSON object"),
            "{}",
            err.details
        );
        let err = entries(b"{\"type\": ", Uuid::nil()).expect_err("not JSON");
        assert!(
            err.details.starts_with("the body is not valid JSON"),
            "{}",
            err.details
        );
        let err = entries(&[b'{', 0xff, b'}'], Uuid::nil()).expect_err("not UTF-8");
        assert!(
            err.details.starts_with("the body is not valid JSON"),
            "{}",
            err.details
        );
    }
}
