//! The read scenarios: what auditlog is asked over HTTP, and what Hanko's backend
//! would ask its database for the same request.

use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::params::{PER_PAGE, Params};

/// One filter of Hanko's `addQueryParamsToSqlQuery`.
#[derive(Debug, Clone, Serialize)]
pub enum HankoFilter {
    /// `created_at > ? AND created_at < ?` (both ends exclusive).
    Window(
        #[serde(with = "time::serde::rfc3339")] OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")] OffsetDateTime,
    ),
    /// `type IN ('a','b')`, the values concatenated into the SQL as Hanko does.
    Types(Vec<String>),
    /// `actor_user_id::text LIKE '%v%'`.
    UserId(String),
    /// `(actor_email LIKE '%v%' OR meta_source_ip LIKE '%v%' OR actor_user_id::text LIKE '%v%')`.
    Search(String),
}

/// A read scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// `S1` ... `S5`, what `BENCH_SCENARIOS` selects.
    pub id: &'static str,
    /// For the report.
    pub name: String,
    /// The query string of auditlog's request (without `?`); keyset's is filled in
    /// once the cursor is known.
    pub query: String,
    /// Hanko's filters and offset; None where Hanko has no equivalent (keyset mode).
    pub hanko: Option<(Vec<HankoFilter>, u64)>,
    /// Keyset mode: the query is only known after walking to the position.
    pub keyset: bool,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The scenarios S1 to S5 with these parameters, in the order they run.
pub fn read_scenarios(p: &Params) -> Vec<Scenario> {
    let page = p.deep_offset / PER_PAGE + 1;
    vec![
        Scenario {
            id: "S1",
            name: "first page, no filter".to_owned(),
            query: String::new(),
            hanko: Some((vec![], 0)),
            keyset: false,
        },
        Scenario {
            id: "S2",
            name: format!("types {} + {}, newest 7 days", p.types[0], p.types[1]),
            query: format!(
                "type={},{}&start_time={}&end_time={}",
                encode(&p.types[0]),
                encode(&p.types[1]),
                encode(&rfc3339(p.window_start)),
                encode(&rfc3339(p.window_end))
            ),
            hanko: Some((
                vec![
                    HankoFilter::Window(p.window_start, p.window_end),
                    HankoFilter::Types(p.types.to_vec()),
                ],
                0,
            )),
            keyset: false,
        },
        Scenario {
            id: "S3",
            name: "one actor_user_id".to_owned(),
            query: format!("actor_user_id={}", encode(&p.actor_user_id)),
            hanko: Some((vec![HankoFilter::UserId(p.actor_user_id.clone())], 0)),
            keyset: false,
        },
        Scenario {
            id: "S4",
            name: format!("q = e-mail fragment `{}`", p.email_fragment),
            query: format!("q={}", encode(&p.email_fragment)),
            hanko: Some((vec![HankoFilter::Search(p.email_fragment.clone())], 0)),
            keyset: false,
        },
        Scenario {
            id: "S4",
            name: format!("q = IP fragment `{}`", p.ip_fragment),
            query: format!("q={}", encode(&p.ip_fragment)),
            hanko: Some((vec![HankoFilter::Search(p.ip_fragment.clone())], 0)),
            keyset: false,
        },
        Scenario {
            id: "S5",
            name: format!("deep page, offset {}", p.deep_offset),
            query: format!("page={page}&per_page={PER_PAGE}"),
            hanko: Some((vec![], p.deep_offset)),
            keyset: false,
        },
        Scenario {
            id: "S5",
            name: "same position in keyset mode (`cursor`)".to_owned(),
            query: String::new(),
            hanko: None,
            keyset: true,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode("2026-01-01T00:00:00+01:00"),
            "2026-01-01T00%3A00%3A00%2B01%3A00"
        );
        assert_eq!(encode("10.1.2."), "10.1.2.");
    }
}
