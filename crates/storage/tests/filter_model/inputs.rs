//! The random inputs of the filter model: entries and filters drawn from small pools,
//! so that filters hit, and their translation into submissions and query parameters.

use auditlog_domain::{AuditLogType, NewAuditLog, entry::timestamp};
use proptest::prelude::*;
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::common::{at, ip};

const USERS: &[&str] = &[
    "alice", "Alice", "ALICE", "bob", "b%b", "b_b", "ärger", "Ärger", "10.0", r"dom\bob",
];
const EMAILS: &[&str] = &[
    "Alice@Example.com",
    "alice@example.com",
    "x_y@ex.com",
    "x%y@ex.com",
    "xy@ex.com",
    "Ärger@ex.de",
    "ärger@ex.de",
    r"b\c@ex.com",
];
const IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.0.1.7",
    "10.1.0.1",
    "192.168.1.1",
    "::ffff:10.0.0.3",
    "::ffff:192.168.1.200",
    "2001:db8::1",
    "2001:DB8:1::5",
    "2001:db9::",
    "::1",
    "fe80::1",
    "::a00:1",
    "0.0.0.0",
    "255.255.255.255",
];
const CIDRS: &[&str] = &[
    "10.0.0.0/8",
    "10.0.0.0/24",
    "10.0.0.1/32",
    "10.0.0.7/30",
    "::ffff:10.0.0.0/120",
    "2001:db8::/32",
    "2001:db8::/48",
    "::/0",
    "0.0.0.0/0",
    "192.168.0.0/16",
    "fe80::/10",
    "::/127",
    "::/96",
];
const QS: &[&str] = &[
    "a", "A", "li", "%", "_", "x_y", "x%", "10.0", ":", "ä", "Ä", "db8", "@EX", r"\", "b%", "rger",
    "1", "::", "0.0.1", ".168.1.", "2001:db8", "8:1::",
];
/// Offsets from the base instant in microseconds: few, so that equal times are common.
/// The largest integer `details` may hold.
const MAX_EXACT: i64 = auditlog_domain::limits::MAX_EXACT_INTEGER;

const OFFSETS: &[i64] = &[0, 1, 2, 999_999, 1_000_000, 3_600_000_000, 86_400_000_000];
/// The types most entries and filters use, so that type filters hit.
const HOT_TYPES: usize = 4;

#[derive(Debug, Clone)]
pub struct EntrySpec {
    id: Option<[u8; 14]>,
    r#type: (bool, usize),
    user: Option<usize>,
    email: Option<usize>,
    ip: usize,
    at: usize,
    error: Option<String>,
    details: Option<(i64, f64, String)>,
}

#[derive(Debug, Clone)]
pub struct FilterSpec {
    page: Option<u64>,
    per_page: Option<u64>,
    start: Option<(usize, i64)>,
    end: Option<(usize, i64)>,
    types: Vec<(bool, usize)>,
    types_in_one_parameter: bool,
    user: Option<usize>,
    email: Option<(usize, u32)>,
    ip: Option<(bool, usize)>,
    q: Option<(usize, u32)>,
}

fn a_type() -> impl Strategy<Value = (bool, usize)> {
    (any::<bool>(), 0..AuditLogType::ALL.len())
}

pub fn entry_spec() -> impl Strategy<Value = EntrySpec> {
    (
        prop::option::weighted(0.8, any::<[u8; 14]>()),
        a_type(),
        prop::option::of(0..USERS.len()),
        prop::option::of(0..EMAILS.len()),
        0..IPS.len(),
        0..OFFSETS.len(),
        prop::option::weighted(0.2, "[a-z ]{0,12}"),
        prop::option::of((
            // Integers that canonical JSON writes exactly (larger ones are refused).
            -MAX_EXACT..=MAX_EXACT,
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            "[a-zäÄ%_ ]{0,8}",
        )),
    )
        .prop_map(
            |(id, r#type, user, email, ip, at, error, details)| EntrySpec {
                id,
                r#type,
                user,
                email,
                ip,
                at,
                error,
                details,
            },
        )
}

pub fn filter_spec() -> impl Strategy<Value = FilterSpec> {
    let time = prop::option::weighted(0.3, (0..OFFSETS.len(), -1i64..=1));
    (
        (
            prop::option::of(1u64..=6),
            prop::option::of(1u64..=15),
            time.clone(),
            time,
        ),
        (
            prop::option::weighted(0.3, prop::collection::vec(a_type(), 1..=3))
                .prop_map(Option::unwrap_or_default),
            any::<bool>(),
        ),
        (
            prop::option::weighted(0.2, 0..USERS.len()),
            prop::option::weighted(0.2, (0..EMAILS.len(), any::<u32>())),
            prop::option::weighted(0.3, (any::<bool>(), 0..IPS.len().max(CIDRS.len()))),
            prop::option::weighted(0.3, (0..QS.len(), any::<u32>())),
        ),
    )
        .prop_map(
            |(
                (page, per_page, start, end),
                (types, types_in_one_parameter),
                (user, email, ip, q),
            )| {
                FilterSpec {
                    page,
                    per_page,
                    start,
                    end,
                    types,
                    types_in_one_parameter,
                    user,
                    email,
                    ip,
                    q,
                }
            },
        )
}

fn base() -> time::OffsetDateTime {
    at("2024-01-01T00:00:00Z")
}

fn the_type((hot, index): (bool, usize)) -> AuditLogType {
    let all = AuditLogType::ALL;
    if hot {
        all[index % HOT_TYPES]
    } else {
        all[index % all.len()]
    }
}

/// Flips the case of the ASCII letters whose bit in `mask` is set.
fn mixed_case(s: &str, mask: u32) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask & (1 << (i % 32)) != 0 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

pub fn new_entry(index: usize, spec: &EntrySpec) -> NewAuditLog {
    let mut e = NewAuditLog::new(
        the_type(spec.r#type),
        format!("req-{index}"),
        ip(IPS[spec.ip]),
        "agent",
    );
    // Random bytes, made unique by the index, so that shrinking cannot produce a conflict.
    e.id = spec.id.map(|bytes| {
        let mut all = [0u8; 16];
        all[..14].copy_from_slice(&bytes);
        all[14..].copy_from_slice(&(index as u16).to_be_bytes());
        Uuid::from_bytes(all)
    });
    e.actor_user_id = spec.user.map(|i| USERS[i].to_owned());
    e.actor_email = spec.email.map(|i| EMAILS[i].to_owned());
    e.error = spec.error.clone();
    e.created_at = Some(base() + Duration::microseconds(OFFSETS[spec.at]));
    e.details = spec.details.as_ref().and_then(|(n, f, s)| {
        json!({"n": n, "f": f, "s": s, "nested": {"list": [n, s]}})
            .as_object()
            .cloned()
    });
    e
}

pub fn filter_pairs(spec: &FilterSpec) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: String| pairs.push((k.to_owned(), v));
    if let Some(page) = spec.page {
        push("page", page.to_string());
    }
    if let Some(per_page) = spec.per_page {
        push("per_page", per_page.to_string());
    }
    let instant = |(i, delta): (usize, i64)| base() + Duration::microseconds(OFFSETS[i] + delta);
    let (mut start, mut end) = (spec.start.map(instant), spec.end.map(instant));
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        (start, end) = (Some(e), Some(s));
    }
    if let Some(start) = start {
        push("start_time", timestamp::format(start));
    }
    if let Some(end) = end {
        push("end_time", timestamp::format(end));
    }
    let types: Vec<&str> = spec.types.iter().map(|t| the_type(*t).as_str()).collect();
    if spec.types_in_one_parameter && !types.is_empty() {
        push("type", types.join(","));
    } else {
        for t in types {
            push("type", t.to_owned());
        }
    }
    if let Some(user) = spec.user {
        push("actor_user_id", USERS[user].to_owned());
    }
    if let Some((email, mask)) = spec.email {
        push("actor_email", mixed_case(EMAILS[email], mask));
    }
    if let Some((cidr, i)) = spec.ip {
        push(
            "meta_source_ip",
            if cidr {
                CIDRS[i % CIDRS.len()]
            } else {
                IPS[i % IPS.len()]
            }
            .to_owned(),
        );
    }
    if let Some((q, mask)) = spec.q {
        push("q", mixed_case(QS[q], mask));
    }
    pairs
}
