//! The filter that both list APIs share, built only by validating raw query parameters,
//! so that an invalid filter cannot exist.

use std::{collections::BTreeSet, fmt, net::IpAddr, str::FromStr};

use ipnet::IpNet;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    AuditLog, AuditLogType, FilterError,
    entry::{timestamp, truncate_to_micros},
    ip,
    text::fold_case,
};

/// The default number of entries on a page.
pub const DEFAULT_PER_PAGE: u64 = 20;
/// The largest number of entries on a page.
pub const MAX_PER_PAGE: u64 = 1000;
/// The largest page: any page up to it, at any `per_page`, starts at an offset the
/// databases can count (`i64::MAX / MAX_PER_PAGE`).
pub const MAX_PAGE: u64 = i64::MAX as u64 / MAX_PER_PAGE;

/// Which slice of the ordered result a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRequest {
    /// Page `page` (from 1) of `per_page` entries.
    Offset {
        /// The page, from 1.
        page: u64,
        /// Entries on a page, 1 to 1000.
        per_page: u64,
    },
    /// The `per_page` entries that follow the entry a cursor points at (keyset mode):
    /// any depth costs what the first page costs.
    After {
        /// The position to continue after.
        cursor: Cursor,
        /// Entries on a page, 1 to 1000.
        per_page: u64,
    },
}

impl PageRequest {
    /// Entries on a page.
    pub fn per_page(&self) -> u64 {
        match self {
            PageRequest::Offset { per_page, .. } | PageRequest::After { per_page, .. } => *per_page,
        }
    }

    /// How many entries come before this page in offset mode; 0 in keyset mode.
    pub fn offset(&self) -> u64 {
        match self {
            // Bounded when the filter is built, so this cannot overflow.
            PageRequest::Offset { page, per_page } => (page - 1) * per_page,
            PageRequest::After { .. } => 0,
        }
    }
}

/// A position in the order `created_at desc, id desc`: the last entry of a page.
/// Its text form is opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the entry, in microseconds since the epoch.
    pub created_at_micros: i64,
    /// `id` of the entry.
    pub id: Uuid,
}

impl Cursor {
    /// The cursor that points at `entry`.
    pub fn after(entry: &AuditLog) -> Self {
        Self {
            created_at_micros: timestamp::to_micros(entry.created_at),
            id: entry.id,
        }
    }

    /// Whether `entry` comes after this position in the order.
    pub fn precedes(&self, entry: &AuditLog) -> bool {
        (timestamp::to_micros(entry.created_at), entry.id) < (self.created_at_micros, self.id)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:016x}{}",
            self.created_at_micros as u64,
            self.id.simple()
        )
    }
}

impl FromStr for Cursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() != 48 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(());
        }
        let micros = u64::from_str_radix(&s[..16], 16).map_err(|_| ())? as i64;
        let id = Uuid::try_parse(&s[16..]).map_err(|_| ())?;
        Ok(Self {
            created_at_micros: micros,
            id,
        })
    }
}

/// How `meta_source_ip` is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMatch {
    /// Exactly this address, in canonical form.
    Exact(IpAddr),
    /// Any address inside this network (host bits already masked).
    Network(IpNet),
}

impl IpMatch {
    /// Whether `addr` matches, in canonical form.
    pub fn matches(&self, addr: IpAddr) -> bool {
        match self {
            IpMatch::Exact(exact) => ip::canonical(addr) == *exact,
            IpMatch::Network(net) => ip::network_contains(net, addr),
        }
    }
}

impl fmt::Display for IpMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpMatch::Exact(addr) => addr.fmt(f),
            IpMatch::Network(net) => net.fmt(f),
        }
    }
}

/// A validated filter over one tenant's entries. Build it with
/// [`AuditLogFilter::from_query_pairs`]; `Default` is every entry, page 1 of 20.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogFilter {
    page: PageRequest,
    start_time: Option<OffsetDateTime>,
    end_time: Option<OffsetDateTime>,
    types: BTreeSet<AuditLogType>,
    actor_user_id: Option<String>,
    actor_email: Option<String>,
    meta_source_ip: Option<IpMatch>,
    q: Option<String>,
}

impl Default for AuditLogFilter {
    fn default() -> Self {
        Self {
            page: PageRequest::Offset {
                page: 1,
                per_page: DEFAULT_PER_PAGE,
            },
            start_time: None,
            end_time: None,
            types: BTreeSet::new(),
            actor_user_id: None,
            actor_email: None,
            meta_source_ip: None,
            q: None,
        }
    }
}

/// The parameters that choose a page of the result rather than entries; a verifiable
/// export, which is read whole in log order, takes none of them.
pub const PAGE_PARAMETERS: [&str; 3] = ["page", "per_page", "cursor"];

/// The parameters that may be given once only.
const SINGLE_VALUED: &[&str] = &[
    "page",
    "per_page",
    "cursor",
    "start_time",
    "end_time",
    "actor_user_id",
    "actor_email",
    "meta_source_ip",
    "q",
];

impl AuditLogFilter {
    /// Whether `name` is a query parameter that a filter reads (others are ignored).
    pub fn reads_parameter(name: &str) -> bool {
        name == "type" || SINGLE_VALUED.contains(&name)
    }

    /// Validates decoded query parameters, in the order given. Unknown parameters are
    /// ignored; empty values count as absent; `type` may repeat and holds
    /// comma-separated types; every other parameter may appear once.
    pub fn from_query_pairs<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, FilterError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: Vec<(&'static str, String)> = Vec::new();
        let mut filter = Self::default();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            if key == "type" {
                filter.add_types(value)?;
                continue;
            }
            let Some(name) = SINGLE_VALUED.iter().find(|name| **name == key) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            if value.contains('\0') {
                return Err(FilterError::new(
                    name,
                    &value.replace('\0', "\\0"),
                    "must not contain a NUL character",
                ));
            }
            if let Some((_, first)) = seen.iter().find(|(seen_name, _)| seen_name == name) {
                return Err(FilterError::new(
                    name,
                    value,
                    format!(
                        "the parameter may be given once only, and was already given as '{first}'"
                    ),
                ));
            }
            seen.push((name, value.to_owned()));
        }
        let get = |name: &str| {
            seen.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };

        let per_page = match get("per_page") {
            None => DEFAULT_PER_PAGE,
            Some(v) => parse_in_range("per_page", v, 1, MAX_PER_PAGE)?,
        };
        filter.page = match (get("page"), get("cursor")) {
            // Page numbers count from the cursor in keyset mode, and only the page that
            // follows it can be had without an offset. `page=1` is that page: clients
            // that send every parameter's default (generated from a document that gave
            // `page` one, or forms that fill it in) page by cursor unchanged.
            (Some(page), Some(_)) if parse_in_range("page", page, 1, MAX_PAGE)? != 1 => {
                return Err(FilterError::new(
                    "page",
                    page,
                    "with 'cursor' the page is the one that follows the cursor: leave \
                     'page' out (or give 1), or leave 'cursor' out to ask for a page by number",
                ));
            }
            (_, Some(cursor)) => PageRequest::After {
                cursor: cursor.parse().map_err(|()| {
                    FilterError::new(
                        "cursor",
                        cursor,
                        "is not a cursor that this service handed out",
                    )
                })?,
                per_page,
            },
            (page, None) => {
                let page = match page {
                    None => 1,
                    Some(v) => parse_in_range("page", v, 1, MAX_PAGE)?,
                };
                let reachable = (page - 1)
                    .checked_mul(per_page)
                    .is_some_and(|offset| offset <= i64::MAX as u64);
                if !reachable {
                    return Err(FilterError::new(
                        "page",
                        &page.to_string(),
                        format!(
                            "page * per_page ({per_page}) is beyond what this service can count"
                        ),
                    ));
                }
                PageRequest::Offset { page, per_page }
            }
        };
        // Each bound as sent and as parsed, to the nanosecond.
        let bound = |name: &'static str| {
            get(name)
                .map(|sent| parse_time(name, sent).map(|at| (sent, at)))
                .transpose()
        };
        let (start, end) = (bound("start_time")?, bound("end_time")?);
        if let (Some((start_sent, start)), Some((end_sent, end))) = (start, end)
            && start > end
        {
            return Err(FilterError::new(
                "end_time",
                end_sent,
                format!("must not be before start_time ({start_sent})"),
            ));
        }
        // Entries are stored to the microsecond, so a bound finer than that moves up to
        // the next microsecond: `created_at >= start` and `created_at < end` select
        // exactly the same entries with the rounded bound as with the one given.
        filter.start_time = start
            .map(|(sent, at)| ceil_to_micros("start_time", sent, at))
            .transpose()?;
        filter.end_time = end
            .map(|(sent, at)| ceil_to_micros("end_time", sent, at))
            .transpose()?;
        filter.actor_user_id = get("actor_user_id").map(str::to_owned);
        filter.actor_email = get("actor_email").map(fold_case);
        filter.meta_source_ip = get("meta_source_ip").map(parse_ip_match).transpose()?;
        filter.q = get("q").map(fold_case);
        Ok(filter)
    }

    fn add_types(&mut self, value: &str) -> Result<(), FilterError> {
        if value.is_empty() {
            return Ok(());
        }
        for segment in value.split(',') {
            let name = segment.trim();
            if name.is_empty() {
                return Err(FilterError::new(
                    "type",
                    value,
                    "has an empty item between commas",
                ));
            }
            let t = name
                .parse::<AuditLogType>()
                .map_err(|_| FilterError::new("type", name, "is not a known audit log type"))?;
            self.types.insert(t);
        }
        Ok(())
    }

    /// Which page is asked for.
    pub fn page(&self) -> PageRequest {
        self.page
    }
    /// Entries with `created_at >= start_time`.
    pub fn start_time(&self) -> Option<OffsetDateTime> {
        self.start_time
    }
    /// Entries with `created_at < end_time`.
    pub fn end_time(&self) -> Option<OffsetDateTime> {
        self.end_time
    }
    /// Entries of any of these types; all types when empty.
    pub fn types(&self) -> &BTreeSet<AuditLogType> {
        &self.types
    }
    /// Entries of exactly this actor.
    pub fn actor_user_id(&self) -> Option<&str> {
        self.actor_user_id.as_deref()
    }
    /// Entries of this e-mail address, compared case-insensitively; held case-folded.
    pub fn actor_email(&self) -> Option<&str> {
        self.actor_email.as_deref()
    }
    /// Entries from this address or network.
    pub fn meta_source_ip(&self) -> Option<IpMatch> {
        self.meta_source_ip
    }
    /// Entries where this text, case-folded, is a substring of the case-folded source IP,
    /// actor user id or actor e-mail address.
    pub fn q(&self) -> Option<&str> {
        self.q.as_deref()
    }

    /// Whether the filter selects every entry (pagination aside).
    pub fn is_unfiltered(&self) -> bool {
        self.start_time.is_none()
            && self.end_time.is_none()
            && self.types.is_empty()
            && self.actor_user_id.is_none()
            && self.actor_email.is_none()
            && self.meta_source_ip.is_none()
            && self.q.is_none()
    }

    /// The same filter at another page.
    pub fn with_page(&self, page: PageRequest) -> Self {
        Self {
            page,
            ..self.clone()
        }
    }

    /// Whether `entry` passes every condition of the filter (pagination aside). This is
    /// the reference meaning of the filter; every store must agree with it.
    pub fn matches(&self, entry: &AuditLog) -> bool {
        let created = truncate_to_micros(entry.created_at);
        self.start_time.is_none_or(|start| created >= start)
            && self.end_time.is_none_or(|end| created < end)
            && (self.types.is_empty() || self.types.contains(&entry.r#type))
            && self
                .actor_user_id
                .as_deref()
                .is_none_or(|id| entry.actor_user_id.as_deref() == Some(id))
            && self.actor_email.as_deref().is_none_or(|email| {
                entry.actor_email.as_deref().map(fold_case).as_deref() == Some(email)
            })
            && self
                .meta_source_ip
                .is_none_or(|m| m.matches(entry.meta_source_ip))
            && self.q.as_deref().is_none_or(|q| {
                ip::canonical(entry.meta_source_ip).to_string().contains(q)
                    || entry
                        .actor_user_id
                        .as_deref()
                        .is_some_and(|v| fold_case(v).contains(q))
                    || entry
                        .actor_email
                        .as_deref()
                        .is_some_and(|v| fold_case(v).contains(q))
            })
    }

    /// The query parameters that reproduce this filter, pagination left out: what a
    /// `Link` header keeps. Values are in canonical form.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(start) = self.start_time {
            pairs.push(("start_time", timestamp::format(start)));
        }
        if let Some(end) = self.end_time {
            pairs.push(("end_time", timestamp::format(end)));
        }
        if !self.types.is_empty() {
            let names: Vec<&str> = self.types.iter().map(|t| t.as_str()).collect();
            pairs.push(("type", names.join(",")));
        }
        if let Some(v) = &self.actor_user_id {
            pairs.push(("actor_user_id", v.clone()));
        }
        if let Some(v) = &self.actor_email {
            pairs.push(("actor_email", v.clone()));
        }
        if let Some(v) = &self.meta_source_ip {
            pairs.push(("meta_source_ip", v.to_string()));
        }
        if let Some(v) = &self.q {
            pairs.push(("q", v.clone()));
        }
        pairs
    }
}

fn parse_in_range(name: &str, value: &str, min: u64, max: u64) -> Result<u64, FilterError> {
    let reason = || format!("must be an integer from {min} to {max}");
    let n: u64 = value
        .parse()
        .map_err(|_| FilterError::new(name, value, reason()))?;
    if n < min || n > max {
        return Err(FilterError::new(name, value, reason()));
    }
    Ok(n)
}

/// `at` (in UTC, as [`timestamp::parse`] gives it) moved up to the next whole
/// microsecond when it falls between two.
fn ceil_to_micros(
    name: &str,
    value: &str,
    at: OffsetDateTime,
) -> Result<OffsetDateTime, FilterError> {
    let below = truncate_to_micros(at);
    if below == at {
        return Ok(at);
    }
    below
        .checked_add(time::Duration::microseconds(1))
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| {
            FilterError::new(name, value, "must not be after 9999-12-31T23:59:59.999999Z")
        })
}

/// The time as given, to the nanosecond ([`ceil_to_micros`] rounds it once the two
/// bounds are compared).
fn parse_time(name: &str, value: &str) -> Result<OffsetDateTime, FilterError> {
    timestamp::parse(value).ok_or_else(|| {
        let reason = if value.contains(' ') {
            "must be an RFC 3339 date-time; a '+' in the offset must be sent URL-encoded as %2B, \
             or it arrives as a space"
        } else {
            "must be an RFC 3339 date-time in the years 0000 to 9999 (UTC), such as 2024-05-01T12:00:00Z"
        };
        FilterError::new(name, value, reason)
    })
}

fn parse_ip_match(value: &str) -> Result<IpMatch, FilterError> {
    if let Ok(addr) = value.parse::<IpAddr>() {
        return Ok(IpMatch::Exact(ip::canonical(addr)));
    }
    ip::parse_network(value)
        .map(IpMatch::Network)
        .ok_or_else(|| {
            FilterError::new(
                "meta_source_ip",
                value,
                "must be an IPv4 or IPv6 address or a CIDR block such as 10.1.0.0/16",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &[(&str, &str)]) -> Result<AuditLogFilter, FilterError> {
        AuditLogFilter::from_query_pairs(q.iter().copied())
    }

    #[test]
    fn defaults() {
        let f = parse(&[("unknown", "x"), ("q", ""), ("type", "")]).expect("valid");
        assert_eq!(f, AuditLogFilter::default());
        assert_eq!(
            f.page(),
            PageRequest::Offset {
                page: 1,
                per_page: 20
            }
        );
    }

    #[test]
    fn refuses_bad_pages_naming_parameter_and_value() {
        for (k, v) in [
            ("page", "0"),
            ("page", "-1"),
            ("page", "x"),
            ("per_page", "0"),
            ("per_page", "1001"),
            ("per_page", "2.5"),
        ] {
            let err = parse(&[(k, v)]).expect_err("invalid");
            assert_eq!((err.parameter.as_str(), err.value.as_str()), (k, v));
            assert!(err.to_string().contains(k) && err.to_string().contains(v));
        }
        let err =
            parse(&[("page", "18446744073709551615"), ("per_page", "1000")]).expect_err("overflow");
        assert_eq!(err.parameter, "page");
        assert!(parse(&[("page", "9223372036854775"), ("per_page", "1000")]).is_ok());
        assert_eq!(
            parse(&[("page", "9223372036854776")])
                .expect_err("above the maximum")
                .parameter,
            "page"
        );
    }

    #[test]
    fn types_repeat_and_split() {
        let f = parse(&[
            ("type", "login_success, login_failure"),
            ("type", "user_created"),
        ])
        .expect("valid");
        assert_eq!(f.types().len(), 3);
        let err = parse(&[("type", "login_success,nope")]).expect_err("unknown");
        assert_eq!(
            (err.parameter.as_str(), err.value.as_str()),
            ("type", "nope")
        );
        assert_eq!(
            parse(&[("type", "login_success,")])
                .expect_err("empty")
                .parameter,
            "type"
        );
    }

    #[test]
    fn times() {
        let f = parse(&[
            ("start_time", "2024-01-01T00:00:00Z"),
            ("end_time", "2024-01-01T00:00:00Z"),
        ])
        .expect("equal ok");
        assert_eq!(f.start_time(), f.end_time());
        let err = parse(&[
            ("start_time", "2024-01-02T00:00:00Z"),
            ("end_time", "2024-01-01T00:00:00Z"),
        ])
        .expect_err("reversed");
        assert_eq!(err.parameter, "end_time");
        let err = parse(&[("start_time", "2024-01-01T00:00:00 02:00")]).expect_err("plus as space");
        assert!(err.reason.contains("%2B"));
    }

    #[test]
    fn bounds_finer_than_a_microsecond_keep_their_meaning() {
        let at = |v: &str| timestamp::parse(v).expect("a time");
        // Entries are stored to the microsecond: one at .123456 is before .1234561.
        let f = parse(&[
            ("start_time", "2026-11-01T10:00:00.1234561Z"),
            ("end_time", "2026-11-01T10:00:00.1234561Z"),
        ])
        .expect("equal bounds");
        assert_eq!(f.start_time(), Some(at("2026-11-01T10:00:00.123457Z")));
        assert_eq!(f.end_time(), Some(at("2026-11-01T10:00:00.123457Z")));
        let f = parse(&[("start_time", "2026-11-01T10:00:00.123456Z")]).expect("whole");
        assert_eq!(f.start_time(), Some(at("2026-11-01T10:00:00.123456Z")));

        let err = parse(&[
            ("start_time", "2026-11-01T10:00:00.1234569Z"),
            ("end_time", "2026-11-01T10:00:00.1234561Z"),
        ])
        .expect_err("start after end, within one microsecond");
        assert_eq!(err.parameter, "end_time");

        let err = parse(&[("end_time", "9999-12-31T23:59:59.9999999Z")]).expect_err("past 9999");
        assert_eq!(err.parameter, "end_time");
        assert!(parse(&[("end_time", "9999-12-31T23:59:59.999999Z")]).is_ok());
        // The bound is rounded in UTC, whatever offset it was given in.
        let err = parse(&[("end_time", "9999-12-31T23:58:59.9999999-00:01")])
            .expect_err("past 9999 in UTC");
        assert_eq!(err.parameter, "end_time");
        let f = parse(&[("end_time", "9999-12-31T23:59:59.9999999+01:00")]).expect("22:59 UTC");
        assert_eq!(f.end_time(), Some(at("9999-12-31T23:00:00Z")));
        assert_eq!(f.query_pairs()[0].1, "9999-12-31T23:00:00.000000Z");
        // An offset that moves a time past 9999 in UTC is refused, not a panic.
        let err = parse(&[("start_time", "9999-12-31T23:59:59-00:01")]).expect_err("year 10000");
        assert_eq!(err.parameter, "start_time");
    }

    #[test]
    fn nul_characters_are_refused() {
        let err = parse(&[("q", "a\0b")]).expect_err("nul");
        assert_eq!((err.parameter.as_str(), err.value.as_str()), ("q", "a\\0b"));
        assert_eq!(
            parse(&[("type", "login_success\0")])
                .expect_err("nul")
                .parameter,
            "type"
        );
    }

    #[test]
    fn single_valued_twice_is_refused() {
        let err = parse(&[("page", "1"), ("page", "2")]).expect_err("twice");
        assert_eq!((err.parameter.as_str(), err.value.as_str()), ("page", "2"));
    }

    #[test]
    fn ips_and_cidrs() {
        let f = parse(&[("meta_source_ip", "::FFFF:10.0.0.1")]).expect("ip");
        assert_eq!(
            f.meta_source_ip().map(|m| m.to_string()),
            Some("10.0.0.1".into())
        );
        let f = parse(&[("meta_source_ip", "10.1.2.3/16")]).expect("cidr");
        assert_eq!(
            f.meta_source_ip().map(|m| m.to_string()),
            Some("10.1.0.0/16".into())
        );
        assert_eq!(
            parse(&[("meta_source_ip", "10.1/16x")])
                .expect_err("bad")
                .parameter,
            "meta_source_ip"
        );
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            created_at_micros: 1_700_000_000_123_456,
            id: Uuid::now_v7(),
        };
        assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        let f = parse(&[("cursor", &c.to_string()), ("per_page", "5")]).expect("cursor");
        assert_eq!(
            f.page(),
            PageRequest::After {
                cursor: c,
                per_page: 5
            }
        );
        assert_eq!(
            parse(&[("cursor", "abc")]).expect_err("bad").parameter,
            "cursor"
        );
        // Page 1 is the page after the cursor; any other page with a cursor, or a page
        // that is no page, is refused naming `page`.
        for page in ["1", "01"] {
            assert_eq!(
                parse(&[
                    ("page", page),
                    ("cursor", &c.to_string()),
                    ("per_page", "5")
                ])
                .map(|f| f.page()),
                Ok(f.page()),
                "page={page}"
            );
        }
        for page in ["2", "0", "x", "9223372036854775808"] {
            let err = parse(&[("cursor", &c.to_string()), ("page", page)]).expect_err(page);
            assert_eq!((err.parameter.as_str(), err.value.as_str()), ("page", page));
        }
        assert_eq!(
            parse(&[("page", "1"), ("cursor", "abc")])
                .expect_err("bad cursor")
                .parameter,
            "cursor"
        );
    }
}
