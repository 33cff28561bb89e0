//! From a raw query string to a validated filter, and back to `Link` headers; and the
//! other parameters the handlers parse (tree sizes, an entry's id).

use auditlog_domain::{AuditLogFilter, Cursor, FilterError, PageRequest, filter::PAGE_PARAMETERS};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use uuid::Uuid;

use crate::{error::ApiError, export_format::ExportFormat};

/// Decodes the query string and validates it into a filter. Parameters that a filter
/// does not read are ignored, whatever their bytes; the value of one it reads whose
/// percent-decoded bytes are not UTF-8 is refused, naming it, rather than matched with
/// replacement characters in place of what the client sent.
pub(crate) fn parse_filter(raw: Option<&str>) -> Result<AuditLogFilter, ApiError> {
    let pairs = decoded_pairs(raw, AuditLogFilter::reads_parameter)?;
    Ok(AuditLogFilter::from_query_pairs(pairs)?)
}

/// Reads the query of an export: `format` (NDJSON when absent) and the filter of a
/// list, without its pagination: an export holds every matching entry, so `page`,
/// `per_page` and `cursor` are refused by name rather than ignored.
pub(crate) fn parse_export(raw: Option<&str>) -> Result<(ExportFormat, AuditLogFilter), ApiError> {
    let pairs = decoded_pairs(raw, |name| {
        name == FORMAT || AuditLogFilter::reads_parameter(name)
    })?;
    let mut format: Option<(ExportFormat, String)> = None;
    let mut filter = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        if value.is_empty() {
            continue;
        }
        if name == FORMAT {
            if let Some((_, first)) = &format {
                return Err(given_twice(FORMAT, &value, first).into());
            }
            let parsed = value.parse().map_err(|_| FilterError {
                parameter: FORMAT.to_owned(),
                value: auditlog_domain::text::excerpt(&value),
                reason: format!("must be one of: {}", ExportFormat::NAMES.join(", ")),
            })?;
            format = Some((parsed, value));
        } else if PAGE_PARAMETERS.contains(&name.as_str()) {
            return Err(FilterError {
                value: auditlog_domain::text::excerpt(&value),
                parameter: name,
                reason: "an export takes no pagination: it holds every matching entry, in log \
                         order; leave the parameter out"
                    .to_owned(),
            }
            .into());
        } else {
            filter.push((name, value));
        }
    }
    let format = format.map_or(ExportFormat::Ndjson, |(format, _)| format);
    Ok((format, AuditLogFilter::from_query_pairs(filter)?))
}

/// The id of an entry, from the path parameter `id`, or 400 naming it.
pub(crate) fn parse_entry_id(raw: &str) -> Result<Uuid, FilterError> {
    Uuid::parse_str(raw).map_err(|_| FilterError {
        parameter: "id".to_owned(),
        value: auditlog_domain::text::excerpt(raw),
        reason: "must be the UUID of an entry".to_owned(),
    })
}

/// The parameter that names an export's format.
const FORMAT: &str = "format";

/// Reads the tree sizes `names` from the query string: each is absent (or empty), or
/// given once as a decimal integer. Other parameters are ignored, as in a list query.
pub(crate) fn parse_sizes<const N: usize>(
    raw: Option<&str>,
    names: [&str; N],
) -> Result<[Option<u64>; N], ApiError> {
    let mut sizes = [None; N];
    let mut given: [Option<String>; N] = std::array::from_fn(|_| None);
    for (name, value) in decoded_pairs(raw, |name| names.contains(&name))? {
        let Some(slot) = names.iter().position(|n| *n == name) else {
            continue;
        };
        let parameter = names[slot];
        if value.is_empty() {
            continue;
        }
        if let Some(first) = &given[slot] {
            return Err(given_twice(parameter, &value, first).into());
        }
        let size = Some(&value)
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| FilterError {
                parameter: parameter.to_owned(),
                value: auditlog_domain::text::excerpt(&value),
                reason: format!("must be a tree size, an integer from 0 to {}", u64::MAX),
            })?;
        sizes[slot] = Some(size);
        given[slot] = Some(value);
    }
    Ok(sizes)
}

/// The pairs of the query string whose decoded names `wanted` keeps, decoded, in the
/// order sent. Other parameters are ignored, whatever their bytes; a kept value whose
/// percent-decoded bytes are not UTF-8 is refused, naming its parameter.
pub(crate) fn decoded_pairs(
    raw: Option<&str>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, FilterError> {
    let mut pairs = Vec::new();
    for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let Some(name) = decode(name).filter(|name| wanted(name)) else {
            continue;
        };
        let value = decode(value).ok_or_else(|| FilterError {
            parameter: name.clone(),
            value: auditlog_domain::text::excerpt(value),
            reason: "must be UTF-8 once percent-decoded".to_owned(),
        })?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// A single-valued parameter given a second time.
pub(crate) fn given_twice(parameter: &str, value: &str, first: &str) -> FilterError {
    FilterError {
        parameter: parameter.to_owned(),
        value: auditlog_domain::text::excerpt(value),
        reason: format!("the parameter may be given once only, and was already given as '{first}'"),
    }
}

/// One name or value of `application/x-www-form-urlencoded`: `+` is a space, `%XX` a
/// byte; `None` when the bytes are not UTF-8.
fn decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// The base URL of links: the configured public URL, else `http://` and the host the
/// request was sent to, else the listen address. The host is the request target's
/// authority when it has one (HTTP/2's `:authority`, which replaces Host, or an
/// absolute URL, which takes precedence over Host in HTTP/1.1), else the Host header.
pub(crate) fn base_url(
    public_url: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
    fallback_host: &str,
) -> String {
    if let Some(url) = public_url {
        return url.trim_end_matches('/').to_owned();
    }
    // Only a host name or address and a port: a Host header with a path, query, user,
    // quote or other punctuation in it would put them into every link.
    let host = uri
        .authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
        .filter(|h| is_host_and_port(h))
        .unwrap_or(fallback_host);
    format!("http://{host}")
}

/// `name`, `name:port`, `[v6]` or `[v6]:port`, where a name holds letters, digits, `.`
/// and `-`, and a port is a number up to 65535.
fn is_host_and_port(value: &str) -> bool {
    let (host, port) = match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => (host, Some(port)),
        _ => (value, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        }
    };
    host_ok
        && port.is_none_or(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
        })
}

fn url(base: &str, path: &str, filter: &AuditLogFilter, page: &[(&str, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in filter
        .query_pairs()
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(page.iter().map(|(k, v)| (*k, v.as_str())))
    {
        query.append_pair(key, value);
    }
    format!("{base}{path}?{}", query.finish())
}

/// The cursor of the page's last entry (at `last`, one of `returned` out of `total`)
/// when more entries may follow: what a client sends as `cursor` to continue in keyset
/// mode.
pub(crate) fn next_cursor(
    filter: &AuditLogFilter,
    returned: usize,
    total: u64,
    last: Option<Cursor>,
) -> Option<Cursor> {
    let per_page = filter.page().per_page();
    let full = returned as u64 == per_page;
    let more = match filter.page() {
        PageRequest::Offset { .. } => filter.page().offset() + (returned as u64) < total,
        PageRequest::After { .. } => full,
    };
    if full && more { last } else { None }
}

/// The `Link` header of a list answer: `first` and `last` always, `prev` when page > 1
/// (pointing at `min(page - 1, last)`), `next` when page < last. In keyset mode `next`
/// carries `next`, the cursor [`next_cursor`] gives, and there is no `prev` (`first`
/// and `last` are the pages of page mode, as always).
pub(crate) fn link_header(
    base: &str,
    path: &str,
    filter: &AuditLogFilter,
    total: u64,
    next: Option<&Cursor>,
) -> Option<HeaderValue> {
    let per_page = filter.page().per_page();
    let offset_link = |n: u64| {
        url(
            base,
            path,
            filter,
            &[("page", n.to_string()), ("per_page", per_page.to_string())],
        )
    };
    let mut links = vec![(offset_link(1), "first")];
    let last = total.div_ceil(per_page).max(1);
    match filter.page() {
        PageRequest::Offset { page: current, .. } => {
            if current > 1 {
                links.push((offset_link((current - 1).min(last)), "prev"));
            }
            if current < last {
                links.push((offset_link(current + 1), "next"));
            }
        }
        PageRequest::After { .. } => {
            if let Some(cursor) = next {
                links.push((
                    url(
                        base,
                        path,
                        filter,
                        &[
                            ("cursor", cursor.to_string()),
                            ("per_page", per_page.to_string()),
                        ],
                    ),
                    "next",
                ));
            }
        }
    }
    links.push((offset_link(last), "last"));
    let value = links
        .iter()
        .map(|(u, rel)| format!("<{u}>; rel=\"{rel}\""))
        .collect::<Vec<_>>()
        .join(",");
    // Each link repeats the query: a long one would make the headers several times its
    // size, so past the bound there is no `Link` (`X-Next-Cursor` still pages).
    if value.len() > MAX_LINK_BYTES {
        return None;
    }
    HeaderValue::from_str(&value).ok()
}

/// The largest `Link` header sent, in bytes.
pub(crate) const MAX_LINK_BYTES: usize = 8 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_str(host).expect("a header value"),
        );
        headers
    }

    #[test]
    fn links_take_a_host_and_port_from_host_and_nothing_else() {
        let fallback = "127.0.0.1:8000";
        for (host, expected) in [
            ("audit.example.com", "http://audit.example.com"),
            ("audit.example.com:8443", "http://audit.example.com:8443"),
            ("[::1]:8000", "http://[::1]:8000"),
            ("evil.com/x?y=", "http://127.0.0.1:8000"),
            ("a\"b", "http://127.0.0.1:8000"),
            ("user@evil.com", "http://127.0.0.1:8000"),
            ("example.com:abc", "http://127.0.0.1:8000"),
            ("example.com:99999", "http://127.0.0.1:8000"),
            ("a,b", "http://127.0.0.1:8000"),
            ("a&b=c", "http://127.0.0.1:8000"),
            ("[::1", "http://127.0.0.1:8000"),
            ("::1", "http://127.0.0.1:8000"),
            ("", "http://127.0.0.1:8000"),
        ] {
            let origin_form = Uri::from_static("/admin/audit_logs?page=2");
            assert_eq!(
                base_url(None, &origin_form, &with_host(host), fallback),
                expected,
                "{host}"
            );
        }
        assert_eq!(
            base_url(
                Some("https://audit.example.com/base/"),
                &Uri::from_static("http://other.example.com/admin/audit_logs"),
                &with_host("evil.com"),
                fallback
            ),
            "https://audit.example.com/base"
        );
    }

    #[test]
    fn links_take_the_target_authority_before_host() {
        let fallback = "127.0.0.1:8000";
        // HTTP/2 sends no Host; an absolute target outranks Host in HTTP/1.1.
        for (target, host, expected) in [
            (
                "http://audit.example.com:8443/admin/audit_logs",
                None,
                "http://audit.example.com:8443",
            ),
            (
                "http://audit.example.com/admin/audit_logs",
                Some("evil.com"),
                "http://audit.example.com",
            ),
            (
                "http://[::1]:9000/admin/audit_logs?page=2",
                None,
                "http://[::1]:9000",
            ),
            (
                "http://user@evil.com/admin/audit_logs",
                Some("audit.example.com"),
                "http://127.0.0.1:8000",
            ),
            ("/admin/audit_logs", None, "http://127.0.0.1:8000"),
        ] {
            let uri: Uri = target.parse().expect("a URI");
            let headers = host.map_or_else(HeaderMap::new, with_host);
            assert_eq!(
                base_url(None, &uri, &headers, fallback),
                expected,
                "{target}"
            );
        }
    }

    #[test]
    fn an_export_takes_a_format_and_the_lists_filters_without_pagination() {
        let export = |raw: &str| parse_export(Some(raw)).map_err(|e| e.details);
        let format = |raw: &str| export(raw).map(|(format, _)| format);
        assert_eq!(format(""), Ok(ExportFormat::Ndjson));
        assert_eq!(format("format="), Ok(ExportFormat::Ndjson));
        assert_eq!(format("format=csv&page=&other=1"), Ok(ExportFormat::Csv));
        let filters = "type=login_success,login_failure&q=%41b&start_time=2024-01-01T00:00:00Z";
        assert_eq!(
            export(&format!("{filters}&format=ndjson")).map(|(_, filter)| filter),
            parse_filter(Some(filters)).map_err(|e| e.details),
            "the filters are the list's"
        );
        for (raw, named) in [
            ("format=xml", "'format'"),
            ("format=CSV", "'format'"),
            ("format=csv&format=ndjson", "'format'"),
            ("format=%FF", "'format'"),
            ("page=1", "'page'"),
            ("per_page=10", "'per_page'"),
            ("cursor=abc", "'cursor'"),
            ("type=nope", "'type'"),
            ("start_time=yesterday", "'start_time'"),
            ("meta_source_ip=10.0.0.0/99", "'meta_source_ip'"),
        ] {
            let err = export(raw).expect_err(raw);
            assert!(err.contains(&format!("parameter {named}")), "{raw}: {err}");
        }
    }

    #[test]
    fn sizes_are_decimal_integers_given_once() {
        let sizes = |raw: &str| parse_sizes(Some(raw), ["from", "to"]).map_err(|e| e.details);
        assert_eq!(sizes("from=3&to=%31%30&x=y"), Ok([Some(3), Some(10)]));
        assert_eq!(sizes("to=&from=0"), Ok([Some(0), None]));
        assert_eq!(sizes(""), Ok([None, None]));
        for (raw, named) in [
            ("from=-1", "'from'"),
            ("to=%2B5", "'to'"),
            ("to=1.0", "'to'"),
            ("from=18446744073709551616", "'from'"),
            ("from=1&from=1", "'from'"),
            ("to=%FF", "'to'"),
        ] {
            let err = sizes(raw).expect_err(raw);
            assert!(err.contains(&format!("parameter {named}")), "{raw}: {err}");
        }
    }
}
