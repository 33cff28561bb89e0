//! What `serve`, `log-key` and `verify` make of the settings.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use auditlog_http::{HttpConfig, console::ConsoleTarget};
use axum::http::HeaderValue;

use crate::settings::{ConsoleOutput, Settings};

/// The largest count or number of seconds the connection settings take: far beyond any
/// use, and within what the server's semaphores and timers hold.
const MAX_COUNT: u64 = 1_000_000;

/// The settings of `auditlog serve`. No `Debug`: it holds the bootstrap secret.
pub struct ServeConfig {
    pub listen: String,
    pub http: HttpConfig,
    pub bootstrap_api_key: Option<String>,
    pub bootstrap_tenant_id: uuid::Uuid,
    pub console_output: Option<ConsoleTarget>,
    /// The default retention in days; none keeps everything.
    pub retention_days: Option<u32>,
    /// How often expired entries are removed.
    pub purge_interval: Duration,
}

impl ServeConfig {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let cors_origins = parse_origins(&settings.cors_origins)
            .context("cors_origins (AUDITLOG_CORS_ORIGINS) must be a list of origins")?;
        let http = HttpConfig {
            public_url: settings.public_url.clone(),
            listen_host: settings.listen.clone(),
            body_limit: settings.body_limit,
            cors_origins,
            request_timeout: Duration::from_secs(settings.request_timeout_secs),
            idle_timeout: Duration::from_secs(settings.idle_timeout_secs),
            max_connections: settings
                .max_connections
                .unwrap_or_else(auditlog_http::connections::default_max_connections),
            shutdown_drain: Duration::from_secs(settings.shutdown_drain_secs),
            max_expensive_requests: settings.max_expensive_requests,
        };
        for (name, value) in [
            (
                "idle_timeout_secs (AUDITLOG_IDLE_TIMEOUT_SECS)",
                settings.idle_timeout_secs,
            ),
            (
                "max_connections (AUDITLOG_MAX_CONNECTIONS)",
                http.max_connections as u64,
            ),
            (
                "max_expensive_requests (AUDITLOG_MAX_EXPENSIVE_REQUESTS)",
                http.max_expensive_requests as u64,
            ),
            (
                "purge_interval_secs (AUDITLOG_PURGE_INTERVAL_SECS)",
                settings.purge_interval_secs,
            ),
        ] {
            if !(1..=MAX_COUNT).contains(&value) {
                anyhow::bail!("{name} must be between 1 and {MAX_COUNT}, not {value}");
            }
        }
        let console_output = match settings.console_output {
            ConsoleOutput::Off => None,
            ConsoleOutput::Stdout => Some(ConsoleTarget::Stdout),
            ConsoleOutput::Stderr => Some(ConsoleTarget::Stderr),
        };
        Ok(Self {
            listen: settings.listen.clone(),
            http,
            bootstrap_api_key: settings.bootstrap_api_key.clone(),
            bootstrap_tenant_id: settings.bootstrap_tenant_id,
            console_output,
            retention_days: crate::purge::default_days(settings)?,
            purge_interval: Duration::from_secs(settings.purge_interval_secs),
        })
    }
}

/// Where the log signing key is kept and the origin it signs for: what `serve` and
/// `log-key` need.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `AUDITLOG_SIGNING_KEY_FILE`, default `auditlog-signing.key` in the working
    /// directory.
    pub key_file: PathBuf,
    /// `AUDITLOG_LOG_ORIGIN`, else the host of `AUDITLOG_PUBLIC_URL`, else `auditlog`;
    /// each tenant's log is `<origin>/<tenant id>`.
    pub origin: String,
}

impl LogConfig {
    pub fn new(settings: &Settings) -> Self {
        let origin = settings
            .log_origin
            .as_deref()
            .map(|origin| origin.trim().to_owned())
            .or_else(|| settings.public_url.as_deref().and_then(host_of))
            .unwrap_or_else(|| auditlog_domain::log::DEFAULT_LOG_ORIGIN.to_owned());
        Self {
            key_file: settings.signing_key_file.clone(),
            origin,
        }
    }
}

/// The host of a URL, lower case and without a port.
fn host_of(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.trim().parse().ok()?;
    uri.host()
        .filter(|host| !host.is_empty())
        .map(str::to_ascii_lowercase)
}

fn parse_origins(list: &[String]) -> anyhow::Result<Vec<HeaderValue>> {
    let origins: Vec<&str> = list
        .iter()
        .map(|origin| origin.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if origins.contains(&"*") && origins.len() > 1 {
        anyhow::bail!("'*' (any origin) stands alone, not beside other origins");
    }
    origins
        .into_iter()
        .map(|origin| {
            if origin != "*" {
                check_origin(origin)?;
            }
            HeaderValue::from_str(origin)
                .map_err(|_| anyhow::anyhow!("'{origin}' is not a valid origin"))
        })
        .collect()
}

/// An origin as browsers send it: `http` or `https`, a host, an optional port, and
/// nothing after (a trailing `/` would never match).
fn check_origin(origin: &str) -> anyhow::Result<()> {
    let uri: axum::http::Uri = origin
        .parse()
        .map_err(|_| anyhow::anyhow!("'{origin}' is not a valid origin"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let after_scheme = origin.split_once("://").map_or("", |(_, rest)| rest);
    let bare = !after_scheme.contains(['/', '?', '#', '@']);
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || !bare {
        anyhow::bail!(
            "'{origin}' is not an origin: give scheme, host and port only, such as https://admin.example.com"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ServeConfig, host_of, parse_origins};
    use crate::settings::Settings;

    #[test]
    fn connection_counts_out_of_range_are_refused_naming_them() {
        for (set, name) in [
            (
                (|s: &mut Settings| s.max_connections = Some(usize::MAX)) as fn(&mut Settings),
                "AUDITLOG_MAX_CONNECTIONS",
            ),
            (
                |s: &mut Settings| s.max_connections = Some(0),
                "AUDITLOG_MAX_CONNECTIONS",
            ),
            (
                |s: &mut Settings| s.max_expensive_requests = usize::MAX,
                "AUDITLOG_MAX_EXPENSIVE_REQUESTS",
            ),
            (
                |s: &mut Settings| s.max_expensive_requests = 0,
                "AUDITLOG_MAX_EXPENSIVE_REQUESTS",
            ),
            (
                |s: &mut Settings| s.idle_timeout_secs = 0,
                "AUDITLOG_IDLE_TIMEOUT_SECS",
            ),
        ] {
            let mut settings = Settings::default();
            set(&mut settings);
            let err = ServeConfig::new(&settings)
                .err()
                .unwrap_or_else(|| panic!("{name} out of range is refused"))
                .to_string();
            assert!(err.contains(name) && err.contains("between 1 and"), "{err}");
        }
        assert!(ServeConfig::new(&Settings::default()).is_ok());
    }

    #[test]
    fn origins_are_checked_and_a_lone_star_is_any() {
        let parsed = |list: &[&str]| {
            parse_origins(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map_err(|err| err.to_string())
        };
        assert_eq!(parsed(&["*"]).expect("any").len(), 1);
        assert_eq!(
            parsed(&["https://a.example.com", " http://b.example:8080 "])
                .expect("two")
                .len(),
            2
        );
        for (bad, says) in [
            (&["*", "https://a.example.com"][..], "stands alone"),
            (&["https://a.example.com/"], "not an origin"),
            (&["https://a.example.com/path"], "not an origin"),
            (&["ftp://a.example.com"], "not an origin"),
            (&["a.example.com"], "not an origin"),
            (&["https://user@a.example.com"], "not an origin"),
        ] {
            let err = parsed(bad).expect_err("refused");
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_origin_is_the_public_urls_host_without_port() {
        for (url, host) in [
            ("https://Audit.Example.com", Some("audit.example.com")),
            (
                "https://audit.example.com:8443/base/",
                Some("audit.example.com"),
            ),
            ("http://user@10.0.0.1:8000", Some("10.0.0.1")),
            ("http://[2001:db8::1]:8000", Some("[2001:db8::1]")),
            ("not a url", None),
        ] {
            assert_eq!(host_of(url).as_deref(), host, "{url}");
        }
    }
}
