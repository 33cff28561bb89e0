//! Recording entries from inside a Rust service that uses axum, as Hanko's backend does
//! inside its own request handling.
//!
//! [`RequestMeta`] is an extractor that captures what an entry needs from the request:
//! the request id (`X-Request-Id`, or a new one), the user agent, and the client's
//! address. The address is the direct peer by default; `X-Forwarded-For` or
//! `X-Real-IP` are believed only when the peer is a trusted proxy ([`ClientIp`], added
//! to the router with `Extension`). [`Recorder`] records an entry through any
//! [`AuditLogStore`] in one call; for recording inside the caller's own database
//! transaction, build the entry with [`Recorder::entry`] and store it with
//! `auditlog_storage::append_in(&txn, ...)`.

use std::{
    convert::Infallible,
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

use auditlog_domain::{AuditLog, AuditLogStore, AuditLogType, NewAuditLog, StoreError};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use ipnet::IpNet;
use serde_json::{Map, Value};
use uuid::Uuid;

use auditlog_domain::entry::limits;

use crate::headers::X_REQUEST_ID;

/// How the client's address is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientIpSource {
    /// The address of the direct peer; headers are ignored.
    #[default]
    Peer,
    /// The rightmost address of `X-Forwarded-For` that is not a trusted proxy, when the
    /// peer is a trusted proxy.
    XForwardedFor,
    /// `X-Real-IP`, when the peer is a trusted proxy.
    XRealIp,
}

impl FromStr for ClientIpSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "peer" | "direct" => Ok(Self::Peer),
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "x-real-ip" => Ok(Self::XRealIp),
            other => Err(format!(
                "'{other}' is not one of peer, x-forwarded-for, x-real-ip"
            )),
        }
    }
}

/// The rule that finds a request's client address.
#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    /// Where the address is read.
    pub source: ClientIpSource,
    /// The proxies whose headers are believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl ClientIp {
    /// Believe `source` from peers inside `trusted_proxies`.
    pub fn new(source: ClientIpSource, trusted_proxies: Vec<IpNet>) -> Self {
        Self {
            source,
            trusted_proxies,
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if self.source == ClientIpSource::Peer || !self.is_trusted(peer) {
            return peer;
        }
        match self.source {
            ClientIpSource::Peer => peer,
            ClientIpSource::XRealIp => headers
                .get("x-real-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
                .map_or(peer, |ip| ip.to_canonical()),
            ClientIpSource::XForwardedFor => {
                // Every X-Forwarded-For header, in order, as one list; walk it from the
                // right (the hop nearest to us) past trusted proxies.
                let hops: Vec<&str> = headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .collect();
                let mut client = peer;
                for hop in hops.iter().rev() {
                    let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                        // An unreadable hop ends what can be believed.
                        break;
                    };
                    client = ip;
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                client
            }
        }
    }
}

/// What an entry needs from the request that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    /// `X-Request-Id`, or a new UUID.
    pub request_id: String,
    /// The client's address, by the [`ClientIp`] rule.
    pub source_ip: IpAddr,
    /// `User-Agent`, or empty.
    pub user_agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let header_text = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        // Over-long values are cut to the entry's limits, marked by a final `…`, so that
        // a careless client cannot make the entry fail to record.
        let request_id = header_text(X_REQUEST_ID.as_str())
            .filter(|id| !id.is_empty())
            .map(|id| truncate_marked(id, limits::ID_CHARS))
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let user_agent = header_text(header::USER_AGENT.as_str())
            .map(|agent| truncate_marked(agent, limits::USER_AGENT_CHARS))
            .unwrap_or_default();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                addr.ip()
            });
        let rule = parts
            .extensions
            .get::<ClientIp>()
            .cloned()
            .unwrap_or_default();
        let source_ip = rule.client(peer, &parts.headers);
        Ok(Self {
            request_id,
            source_ip,
            user_agent,
        })
    }
}

/// `text` when it has at most `max_chars` characters; else its first `max_chars - 1`
/// and `…`, which marks the cut.
pub fn truncate_marked(text: String, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text,
        Some(_) => {
            let keep = text
                .char_indices()
                .nth(max_chars.saturating_sub(1))
                .map_or(text.len(), |(at, _)| at);
            let mut cut = text[..keep].to_owned();
            cut.push('…');
            cut
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The user's id.
    pub user_id: Option<String>,
    /// The user's e-mail address.
    pub email: Option<String>,
}

impl Actor {
    /// A known user.
    pub fn user(id: impl Into<String>, email: Option<String>) -> Self {
        Self {
            user_id: Some(id.into()),
            email,
        }
    }

    /// Nobody known (a failed login of an unknown address, say).
    pub fn anonymous() -> Self {
        Self::default()
    }
}

/// Records entries of one tenant through any store.
#[derive(Clone)]
pub struct Recorder {
    store: Arc<dyn AuditLogStore>,
    tenant_id: Uuid,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Records into `tenant_id` of `store`.
    pub fn new(store: Arc<dyn AuditLogStore>, tenant_id: Uuid) -> Self {
        Self { store, tenant_id }
    }

    /// The entry that [`Recorder::record`] would store, for storing it elsewhere (inside
    /// the caller's own transaction, say).
    pub fn entry(
        meta: &RequestMeta,
        r#type: AuditLogType,
        actor: Actor,
        error: Option<String>,
        details: Option<Map<String, Value>>,
    ) -> NewAuditLog {
        let mut entry = NewAuditLog::new(
            r#type,
            meta.request_id.clone(),
            meta.source_ip,
            meta.user_agent.clone(),
        );
        entry.actor_user_id = actor.user_id;
        entry.actor_email = actor.email;
        entry.error = error;
        entry.details = details;
        entry
    }

    /// Records one entry and returns it once it is stored.
    pub async fn record(
        &self,
        meta: &RequestMeta,
        r#type: AuditLogType,
        actor: Actor,
        error: Option<String>,
        details: Option<Map<String, Value>>,
    ) -> Result<AuditLog, StoreError> {
        let entry = Self::entry(meta, r#type, actor, error, details);
        let mut stored = self.store.append(self.tenant_id, vec![entry]).await?;
        stored
            .pop()
            .ok_or_else(|| StoreError::Backend("the store returned no entry".to_owned()))
    }

    /// The tenant this recorder writes to.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[tokio::test]
    async fn over_long_headers_are_cut_and_marked_and_the_entry_still_records() {
        let agent = "A".repeat(5000);
        let request_id = "r".repeat(300);
        let request = axum::http::Request::builder()
            .header(header::USER_AGENT, &agent)
            .header(X_REQUEST_ID, &request_id)
            .body(())
            .expect("request");
        let (mut parts, ()) = request.into_parts();
        let meta = RequestMeta::from_request_parts(&mut parts, &())
            .await
            .expect("meta");
        assert_eq!(meta.user_agent.chars().count(), limits::USER_AGENT_CHARS);
        assert!(meta.user_agent.ends_with("A…"), "marked as cut");
        assert_eq!(meta.request_id.chars().count(), limits::ID_CHARS);
        assert!(meta.request_id.ends_with("r…"));
        let entry = Recorder::entry(
            &meta,
            AuditLogType::LoginSuccess,
            Actor::anonymous(),
            None,
            None,
        );
        entry
            .validate(time::OffsetDateTime::now_utc())
            .expect("the entry is valid, so it records");
        // Values within the limits are kept whole, multi-byte characters included.
        assert_eq!(truncate_marked("é".repeat(1024), 1024), "é".repeat(1024));
        assert_eq!(
            truncate_marked("é".repeat(1025), 1024),
            format!("{}…", "é".repeat(1023))
        );
    }

    fn proxies() -> Vec<IpNet> {
        vec![
            "10.0.0.0/8".parse().expect("cidr"),
            "fd00::/8".parse().expect("cidr"),
        ]
    }

    #[test]
    fn the_peer_is_the_client_by_default() {
        let forged = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")]);
        assert_eq!(
            ClientIp::default().client(ip("10.0.0.1"), &forged),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
        let rule = ClientIp::new(ClientIpSource::XForwardedFor, proxies());
        let forged = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(rule.client(ip("198.51.100.9"), &forged), ip("198.51.100.9"));
        let rule = ClientIp::new(ClientIpSource::XRealIp, proxies());
        assert_eq!(
            rule.client(ip("198.51.100.9"), &headers(&[("x-real-ip", "1.2.3.4")])),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let rule = ClientIp::new(ClientIpSource::XForwardedFor, proxies());
        // The client forged the leftmost hop; the proxies appended the real one.
        let chain = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.5"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(rule.client(ip("10.0.0.2"), &chain), ip("203.0.113.5"));
        let mapped = headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]);
        assert_eq!(
            rule.client(ip("::ffff:10.0.0.2"), &mapped),
            ip("203.0.113.7")
        );
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9, fd00::1")]);
        assert_eq!(rule.client(ip("10.0.0.2"), &all_trusted), ip("10.9.9.9"));
        let garbage = headers(&[("x-forwarded-for", "203.0.113.5, garbage")]);
        assert_eq!(rule.client(ip("10.0.0.2"), &garbage), ip("10.0.0.2"));
        let rule = ClientIp::new(ClientIpSource::XRealIp, proxies());
        assert_eq!(
            rule.client(ip("10.0.0.2"), &headers(&[("x-real-ip", "203.0.113.8")])),
            ip("203.0.113.8")
        );
    }
}
