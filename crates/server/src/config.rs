//! Settings from the environment, and logging.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use auditlog_http::HttpConfig;
use axum::http::HeaderValue;

/// How logs are written: `text` (key=value) or `json` (one object a line).
pub fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is invalid: {e}")),
    }
}

/// The settings of `auditlog serve`.
#[derive(Debug)]
pub struct ServeConfig {
    pub listen: String,
    pub http: HttpConfig,
    pub bootstrap_api_key: Option<String>,
    pub bootstrap_tenant_id: uuid::Uuid,
    pub console_output: Option<auditlog_http::console::ConsoleTarget>,
}

impl ServeConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        let listen = env("AUDITLOG_LISTEN").unwrap_or_else(|| "127.0.0.1:8000".to_owned());
        let cors_origins = env("AUDITLOG_CORS_ORIGINS")
            .map(|v| parse_origins(&v))
            .transpose()
            .context("AUDITLOG_CORS_ORIGINS must be a comma-separated list of origins")?
            .unwrap_or_default();
        let http = HttpConfig {
            public_url: env("AUDITLOG_PUBLIC_URL"),
            listen_host: listen.clone(),
            body_limit: env_parse("AUDITLOG_BODY_LIMIT", 4 * 1024 * 1024)?,
            cors_origins,
            request_timeout: Duration::from_secs(env_parse("AUDITLOG_REQUEST_TIMEOUT_SECS", 30)?),
        };
        let console_output = match env("AUDITLOG_CONSOLE_OUTPUT").as_deref() {
            None | Some("off") | Some("none") => None,
            Some(other) => Some(
                other
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("AUDITLOG_CONSOLE_OUTPUT: {e}"))?,
            ),
        };
        Ok(Self {
            listen,
            http,
            bootstrap_api_key: env("AUDITLOG_BOOTSTRAP_API_KEY"),
            bootstrap_tenant_id: bootstrap_tenant_id()?,
            console_output,
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
    pub fn from_env() -> Self {
        let key_file = env("AUDITLOG_SIGNING_KEY_FILE")
            .map_or_else(|| PathBuf::from("auditlog-signing.key"), PathBuf::from);
        let origin = env("AUDITLOG_LOG_ORIGIN")
            .map(|origin| origin.trim().to_owned())
            .or_else(|| env("AUDITLOG_PUBLIC_URL").and_then(|url| host_of(&url)))
            .unwrap_or_else(|| auditlog_domain::log::DEFAULT_LOG_ORIGIN.to_owned());
        Self { key_file, origin }
    }
}

/// The host of a URL, lower case and without a port.
fn host_of(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.trim().parse().ok()?;
    uri.host()
        .filter(|host| !host.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The tenant that `serve` and `migrate` create, from `AUDITLOG_BOOTSTRAP_TENANT_ID`.
pub fn bootstrap_tenant_id() -> anyhow::Result<uuid::Uuid> {
    env_parse(
        "AUDITLOG_BOOTSTRAP_TENANT_ID",
        auditlog_domain::DEFAULT_TENANT_ID,
    )
}

/// The pool size from `AUDITLOG_DB_MAX_CONNECTIONS`.
pub fn max_connections() -> anyhow::Result<u32> {
    env_parse("AUDITLOG_DB_MAX_CONNECTIONS", 10)
}

fn parse_origins(list: &str) -> anyhow::Result<Vec<HeaderValue>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| {
            HeaderValue::from_str(origin)
                .map_err(|_| anyhow::anyhow!("'{origin}' is not a valid origin"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::host_of;

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
