//! Reaching a deep position in keyset mode as a client does: from the first page,
//! following `rel="next"` links with large pages, until the cursor of the position.

use std::time::Instant;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// How the walk went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Keyset {
    /// The query string of the page at the position (`cursor=...&per_page=20`).
    Reached {
        query: String,
        pages: u64,
        seconds: f64,
    },
    /// Keyset mode could not be entered; why.
    Unavailable(String),
}

const WALK_PAGE: u64 = 1000;

/// Walks `list_url` (the list endpoint, no query) to `position` entries from the start.
/// The cursor comes from the `rel="next"` link when it carries one, else from the
/// `X-Next-Cursor` header (how an offset page hands over to keyset mode).
pub async fn walk(
    client: &reqwest::Client,
    list_url: &str,
    auth: (&str, &str),
    position: u64,
    per_page: u64,
) -> anyhow::Result<Keyset> {
    let started = Instant::now();
    let mut url = format!("{list_url}?per_page={}", WALK_PAGE.min(position.max(1)));
    let mut fetched = 0;
    let mut pages = 0;
    while pages <= position / WALK_PAGE + 1 {
        let answer = client
            .get(&url)
            .header(auth.0, auth.1)
            .send()
            .await
            .context("a keyset page failed")?;
        if !answer.status().is_success() {
            bail!("a keyset page answered {}", answer.status());
        }
        let headers = answer.headers();
        let from_link = headers
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_link)
            .and_then(|next| query_value(&next, "cursor"));
        let from_header = headers
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(encode);
        let cursor = from_link.or(from_header);
        let items: Vec<serde_json::Value> = answer.json().await.context("a keyset page")?;
        fetched += items.len() as u64;
        pages += 1;
        let Some(cursor) = cursor else {
            return Ok(Keyset::Unavailable(format!(
                "after {fetched} entries neither the next link nor an X-Next-Cursor header carries a cursor"
            )));
        };
        if fetched >= position {
            return Ok(Keyset::Reached {
                query: format!("cursor={cursor}&per_page={per_page}"),
                pages,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let size = (position - fetched).min(WALK_PAGE);
        url = format!("{list_url}?cursor={cursor}&per_page={size}");
    }
    bail!("the keyset walk did not reach {position} entries")
}

/// A cursor as a query value (cursors are opaque: encode whatever they hold).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The URL of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("rel=\"next\""));
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// The (still encoded) value of a query parameter of `url`.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_and_its_cursor() {
        let header = "<http://h/t/audit_logs?page=1&per_page=5>; rel=\"first\",\
                      <http://h/t/audit_logs?cursor=abc&per_page=5>; rel=\"next\"";
        let next = next_link(header).expect("next");
        assert_eq!(next, "http://h/t/audit_logs?cursor=abc&per_page=5");
        assert_eq!(query_value(&next, "cursor").as_deref(), Some("abc"));
        assert_eq!(query_value(&next, "page"), None);
        assert_eq!(encode("a+b/c"), "a%2Bb%2Fc");
        assert_eq!(next_link("<http://h/x?page=1>; rel=\"first\""), None);
    }
}
