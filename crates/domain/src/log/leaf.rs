//! The leaf of an entry: the RFC 8785 (JCS) canonical JSON of the entry as the API
//! serves it, without `updated_at`, and its RFC 9162 leaf hash.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{AuditLog, AuditLogType, limits};

use super::Hash;

/// The members of a leaf, each with the value the API serves; the optional ones are
/// left out when absent, as the API leaves them out. `updated_at` is not a member: it
/// says when the entry was stored, not what happened.
pub const LEAF_MEMBERS: [&str; 11] = [
    "id",
    "tenant_id",
    "type",
    "error",
    "meta_http_request_id",
    "meta_source_ip",
    "meta_user_agent",
    "actor_user_id",
    "actor_email",
    "details",
    "created_at",
];

/// Why an entry has no leaf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    /// `details` holds an integer that canonical JSON cannot write exactly: RFC 8785
    /// writes every number as an IEEE 754 double, so the leaf would commit to a
    /// neighbouring number rather than the stored one. Entry validation refuses such
    /// integers, so only an entry stored before that rule can meet this.
    #[error(
        "details{pointer} holds the integer {value}, beyond ±{max}, which canonical JSON cannot represent exactly",
        max = limits::MAX_EXACT_INTEGER
    )]
    InexactInteger {
        /// Where in `details`, as a JSON pointer (RFC 6901).
        pointer: String,
        /// The integer, as JSON.
        value: String,
    },
    /// The canonical JSON writer refused the entry.
    #[error("the entry has no canonical JSON: {0}")]
    Canonical(String),
}

/// The leaf bytes of `entry`: the JCS canonical JSON of the object with exactly the
/// [`LEAF_MEMBERS`], with the values the API serves (`created_at` as
/// `2022-09-14T12:15:09.788784Z`, the address canonical, the type's snake_case name).
pub fn leaf_bytes(entry: &AuditLog) -> Result<Vec<u8>, LeafError> {
    if let Some((pointer, value)) = entry.details.as_ref().and_then(first_inexact_integer) {
        return Err(LeafError::InexactInteger {
            pointer,
            value: value.to_string(),
        });
    }
    serde_json_canonicalizer::to_vec(&LeafView::of(entry))
        .map_err(|e| LeafError::Canonical(e.to_string()))
}

/// The [`LEAF_MEMBERS`] of an entry, borrowed, each declared as [`AuditLog`] declares
/// it (same type, same serde attributes), so that each serialises to the value the
/// API serves, and the canonical JSON writer reads them without an intermediate JSON
/// tree. A new field of `AuditLog` is not a member until it is added here.
#[derive(Serialize)]
struct LeafView<'a> {
    id: Uuid,
    tenant_id: Uuid,
    #[serde(rename = "type")]
    r#type: AuditLogType,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    meta_http_request_id: &'a str,
    meta_source_ip: IpAddr,
    meta_user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Map<String, Value>>,
    #[serde(serialize_with = "crate::entry::timestamp::serialize")]
    created_at: OffsetDateTime,
}

impl<'a> LeafView<'a> {
    fn of(entry: &'a AuditLog) -> Self {
        Self {
            id: entry.id,
            tenant_id: entry.tenant_id,
            r#type: entry.r#type,
            error: entry.error.as_deref(),
            meta_http_request_id: &entry.meta_http_request_id,
            meta_source_ip: entry.meta_source_ip,
            meta_user_agent: &entry.meta_user_agent,
            actor_user_id: entry.actor_user_id.as_deref(),
            actor_email: entry.actor_email.as_deref(),
            details: entry.details.as_ref(),
            created_at: entry.created_at,
        }
    }
}

/// The RFC 9162 leaf hash of leaf bytes: SHA-256(0x00 || bytes).
pub fn leaf_hash(leaf_bytes: &[u8]) -> Hash {
    tlog_tiles::record_hash(leaf_bytes).into()
}

/// The first integer in `details` whose magnitude exceeds
/// [`limits::MAX_EXACT_INTEGER`], with its JSON pointer (RFC 6901) below `details`.
/// Floats are doubles already and pass: JCS writes them exactly.
pub(crate) fn first_inexact_integer(details: &Map<String, Value>) -> Option<(String, Number)> {
    // An explicit stack: `details` built in code may nest deeper than the call stack.
    let mut pending: Vec<(String, &Value)> = details
        .iter()
        .rev()
        .map(|(key, value)| (pointer_step("", key), value))
        .collect();
    while let Some((pointer, value)) = pending.pop() {
        match value {
            Value::Number(number) if !is_exact(number) => return Some((pointer, number.clone())),
            Value::Array(items) => pending.extend(
                items
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, item)| (format!("{pointer}/{i}"), item)),
            ),
            Value::Object(members) => pending.extend(
                members
                    .iter()
                    .rev()
                    .map(|(key, item)| (pointer_step(&pointer, key), item)),
            ),
            _ => {}
        }
    }
    None
}

fn is_exact(number: &Number) -> bool {
    const MAX: u64 = limits::MAX_EXACT_INTEGER as u64;
    match (number.as_u64(), number.as_i64()) {
        (Some(n), _) => n <= MAX,
        (None, Some(n)) => n.unsigned_abs() <= MAX,
        (None, None) => true,
    }
}

fn pointer_step(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;
    use crate::{AuditLogType, NewAuditLog, entry::timestamp};

    fn at(text: &str) -> OffsetDateTime {
        timestamp::parse(text).expect("rfc 3339")
    }

    fn minimal() -> AuditLog {
        let mut entry = NewAuditLog::new(
            AuditLogType::LoginSuccess,
            "r1",
            "::ffff:10.0.0.1".parse().expect("ip"),
            "curl",
        );
        entry.id = Some(
            "0192e0a4-7b1c-7d3e-8f00-0123456789ab"
                .parse()
                .expect("uuid"),
        );
        entry.created_at = Some(at("2022-09-14T14:15:09.788784+02:00"));
        entry.into_entry(crate::DEFAULT_TENANT_ID, at("2022-09-14T12:15:10.000001Z"))
    }

    fn full() -> AuditLog {
        let mut entry = minimal();
        entry.error = Some("Zoë failed 🚀".into());
        entry.meta_source_ip = "2001:db8::1".parse().expect("ip");
        entry.meta_user_agent = "Mozilla/5.0\t\"x\"".into();
        entry.actor_user_id = Some("u-42".into());
        entry.actor_email = Some("zoë@example.com".into());
        let details = json!({
            "z": 1, "method": "passkey", "ratio": 0.1, "big": 1e21, "small": 1e-7,
            "ä": true, "nested": {"b": null, "a": [1, 2.5]}
        });
        entry.details = details.as_object().cloned();
        entry
    }

    fn leaf_text(entry: &AuditLog) -> String {
        String::from_utf8(leaf_bytes(entry).expect("leaf")).expect("utf-8")
    }

    /// The leaf as the API's whole serialisation makes it: the entry as a JSON value,
    /// the members picked from it, then canonical JSON.
    fn leaf_from_served(entry: &AuditLog) -> Vec<u8> {
        let served = serde_json::to_value(entry).expect("serialises");
        let Value::Object(mut served) = served else {
            panic!("an object")
        };
        let leaf: Map<String, Value> = LEAF_MEMBERS
            .iter()
            .filter_map(|&member| served.remove(member).map(|v| (member.to_owned(), v)))
            .collect();
        serde_json_canonicalizer::to_vec(&leaf).expect("canonical")
    }

    #[test]
    fn the_leaf_is_the_served_entry_picked_and_canonical() {
        let mut cases = vec![minimal(), full()];
        for mask in 0u8..32 {
            let mut entry = full();
            if mask & 1 == 0 {
                entry.error = None;
            }
            if mask & 2 == 0 {
                entry.actor_user_id = None;
            }
            if mask & 4 == 0 {
                entry.actor_email = None;
            }
            if mask & 8 == 0 {
                entry.details = None;
            }
            if mask & 16 == 0 {
                entry.meta_source_ip = "::ffff:192.0.2.1".parse().expect("ip");
                entry.meta_user_agent = "\u{0001}\u{1f}\u{7f}\u{2028}".into();
            }
            cases.push(entry);
        }
        for entry in &cases {
            assert_eq!(
                leaf_bytes(entry).expect("leaf"),
                leaf_from_served(entry),
                "{entry:?}"
            );
        }
    }

    #[test]
    fn leaf_of_a_minimal_entry_leaves_the_absent_fields_out() {
        assert_eq!(
            leaf_text(&minimal()),
            r#"{"created_at":"2022-09-14T12:15:09.788784Z","id":"0192e0a4-7b1c-7d3e-8f00-0123456789ab","meta_http_request_id":"r1","meta_source_ip":"10.0.0.1","meta_user_agent":"curl","tenant_id":"00000000-0000-0000-0000-000000000001","type":"login_success"}"#
        );
    }

    #[test]
    fn leaf_of_a_full_entry_is_its_canonical_json() {
        assert_eq!(
            leaf_text(&full()),
            r#"{"actor_email":"zoë@example.com","actor_user_id":"u-42","created_at":"2022-09-14T12:15:09.788784Z","details":{"big":1e+21,"method":"passkey","nested":{"a":[1,2.5],"b":null},"ratio":0.1,"small":1e-7,"z":1,"ä":true},"error":"Zoë failed 🚀","id":"0192e0a4-7b1c-7d3e-8f00-0123456789ab","meta_http_request_id":"r1","meta_source_ip":"2001:db8::1","meta_user_agent":"Mozilla/5.0\t\"x\"","tenant_id":"00000000-0000-0000-0000-000000000001","type":"login_success"}"#
        );
    }

    #[test]
    fn leaf_members_are_what_the_api_serves_but_updated_at() {
        let served = serde_json::to_value(full()).expect("serialises");
        let mut served: Vec<&str> = served
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .filter(|&member| member != "updated_at")
            .collect();
        let mut members = LEAF_MEMBERS.to_vec();
        served.sort_unstable();
        members.sort_unstable();
        assert_eq!(served, members, "a new field of AuditLog needs a decision");
        let mut later = full();
        later.updated_at = at("2030-01-01T00:00:00Z");
        assert_eq!(leaf_bytes(&later), leaf_bytes(&full()));
    }

    #[test]
    fn leaf_hash_is_sha256_of_zero_and_the_bytes() {
        assert_eq!(
            leaf_hash(b"").0.to_vec(),
            hex::decode("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
                .expect("hex")
        );
        let bytes = leaf_bytes(&full()).expect("leaf");
        assert_eq!(leaf_hash(&bytes), leaf_hash(&bytes));
        assert_ne!(
            leaf_hash(&bytes),
            leaf_hash(&leaf_bytes(&minimal()).expect("leaf"))
        );
    }

    #[test]
    fn an_inexact_integer_has_no_leaf() {
        let mut entry = minimal();
        entry.details = json!({"ids": [1, 9007199254740993_u64]})
            .as_object()
            .cloned();
        assert_eq!(
            leaf_bytes(&entry),
            Err(LeafError::InexactInteger {
                pointer: "/ids/1".into(),
                value: "9007199254740993".into()
            })
        );
    }
}
