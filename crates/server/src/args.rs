//! The settings as flags, each with its environment variable, in groups that commands
//! take as they need them: `--help` lists a command's own settings only. Each group
//! serialises to the settings it was given (by flag or by variable), for
//! [`crate::settings::Loader::given`]; what it was not given comes from the config file
//! or the defaults.

use std::{ffi::OsStr, path::PathBuf};

use clap::{
    Args,
    builder::{EnumValueParser, PathBufValueParser, StringValueParser, TypedValueParser},
};
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::settings::{ConsoleOutput, LogFormat};

/// A setting's value from a flag or an environment variable; none when it is blank, as
/// `AUDITLOG_PUBLIC_URL=` in a compose file means "not set" rather than "empty".
#[derive(Clone)]
pub struct Setting<T>(pub Option<T>);

/// Whether it is set, never the value: some settings are secrets.
impl<T> std::fmt::Debug for Setting<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Setting(..)"
        } else {
            "Setting(None)"
        })
    }
}

impl<T: Serialize> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Whether a setting was left to the config file or the defaults.
fn unset<T>(value: &Option<Setting<T>>) -> bool {
    value.as_ref().is_none_or(|setting| setting.0.is_none())
}

/// The value of `setting`, when it was given.
pub fn given<T>(setting: &Option<Setting<T>>) -> Option<&T> {
    setting.as_ref().and_then(|setting| setting.0.as_ref())
}

/// Parses with `P`, taking a blank value as no value.
#[derive(Debug, Clone)]
pub struct BlankOr<P>(P);

impl<P> TypedValueParser for BlankOr<P>
where
    P: TypedValueParser,
    P::Value: 'static,
{
    type Value = Setting<P::Value>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        if value.to_str().is_some_and(|text| text.trim().is_empty()) {
            return Ok(Setting(None));
        }
        self.0.parse_ref(cmd, arg, value).map(|v| Setting(Some(v)))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        self.0.possible_values()
    }
}

fn text() -> BlankOr<StringValueParser> {
    BlankOr(StringValueParser::new())
}

fn path() -> BlankOr<PathBufValueParser> {
    BlankOr(PathBufValueParser::new())
}

fn number<T>() -> BlankOr<impl TypedValueParser<Value = T>>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    BlankOr(|raw: &str| raw.trim().parse::<T>())
}

fn uuid() -> BlankOr<impl TypedValueParser<Value = Uuid>> {
    BlankOr(|raw: &str| raw.trim().parse::<Uuid>())
}

/// The config file and the log format: every command that reads settings takes them.
#[derive(Debug, Args, Serialize)]
pub struct ConfigArgs {
    /// A TOML file of settings, keyed by the variables' names without `AUDITLOG_` in
    /// lower case (`listen = "0.0.0.0:8000"`); the environment and flags override it.
    #[arg(long, env = "AUDITLOG_CONFIG", hide_env_values = true, global = true,
          value_name = "FILE", value_parser = path())]
    #[serde(skip)]
    pub config: Option<Setting<PathBuf>>,
    /// How logs are written [default: text].
    #[arg(long, env = "AUDITLOG_LOG_FORMAT", hide_env_values = true, global = true,
          value_parser = BlankOr(EnumValueParser::<LogFormat>::new()))]
    #[serde(skip_serializing_if = "unset")]
    pub log_format: Option<Setting<LogFormat>>,
}

/// The database.
#[derive(Debug, Args, Serialize)]
pub struct DatabaseArgs {
    /// The database: `sqlite://FILE` (embedded; made by `migrate` and `serve`) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` [default: sqlite://auditlog.db?mode=rwc].
    #[arg(long, env = "AUDITLOG_DATABASE_URL", hide_env_values = true, global = true,
          value_name = "URL", value_parser = text())]
    #[serde(skip_serializing_if = "unset")]
    pub database_url: Option<Setting<String>>,
    /// The most connections the database pool opens [default: 10].
    #[arg(long, env = "AUDITLOG_DB_MAX_CONNECTIONS", hide_env_values = true, global = true,
          value_name = "N", value_parser = number::<u32>())]
    #[serde(skip_serializing_if = "unset")]
    pub db_max_connections: Option<Setting<u32>>,
}

/// How `serve` answers HTTP.
#[derive(Debug, Args, Serialize)]
pub struct HttpArgs {
    /// The address to listen on [default: 127.0.0.1:8000].
    #[arg(long, env = "AUDITLOG_LISTEN", hide_env_values = true,
          value_name = "ADDR", value_parser = text())]
    #[serde(skip_serializing_if = "unset")]
    pub listen: Option<Setting<String>>,
    /// The largest request body, in bytes; 413 beyond [default: 4194304].
    #[arg(long, env = "AUDITLOG_BODY_LIMIT", hide_env_values = true,
          value_name = "BYTES", value_parser = number::<usize>())]
    #[serde(skip_serializing_if = "unset")]
    pub body_limit: Option<Setting<usize>>,
    /// The longest a request may take, in seconds; 408 beyond [default: 30].
    #[arg(long, env = "AUDITLOG_REQUEST_TIMEOUT_SECS", hide_env_values = true,
          value_name = "SECS", value_parser = number::<u64>())]
    #[serde(skip_serializing_if = "unset")]
    pub request_timeout_secs: Option<Setting<u64>>,
    /// Close a connection that has nothing in flight and moves no byte for this many
    /// seconds, over HTTP/1 and HTTP/2 [default: 60].
    #[arg(long, env = "AUDITLOG_IDLE_TIMEOUT_SECS", hide_env_values = true,
          value_name = "SECS", value_parser = number::<u64>())]
    #[serde(skip_serializing_if = "unset")]
    pub idle_timeout_secs: Option<Setting<u64>>,
    /// The most connections open at once; past it a new one is closed unserved
    /// [default: 1024, or the open-file limit less 64 when lower].
    #[arg(long, env = "AUDITLOG_MAX_CONNECTIONS", hide_env_values = true,
          value_name = "N", value_parser = number::<usize>())]
    #[serde(skip_serializing_if = "unset")]
    pub max_connections: Option<Setting<usize>>,
    /// How long requests in flight may take to finish after SIGTERM or Ctrl-C, in
    /// seconds; connections still open then are closed [default: 10].
    #[arg(long, env = "AUDITLOG_SHUTDOWN_DRAIN_SECS", hide_env_values = true,
          value_name = "SECS", value_parser = number::<u64>())]
    #[serde(skip_serializing_if = "unset")]
    pub shutdown_drain_secs: Option<Setting<u64>>,
    /// The most lists and exports served at once; past it a 503 with `Retry-After`
    /// [default: 16].
    #[arg(long, env = "AUDITLOG_MAX_EXPENSIVE_REQUESTS", hide_env_values = true,
          value_name = "N", value_parser = number::<usize>())]
    #[serde(skip_serializing_if = "unset")]
    pub max_expensive_requests: Option<Setting<usize>>,
    /// Origins that CORS allows, separated by commas [default: none, CORS off].
    #[arg(long, env = "AUDITLOG_CORS_ORIGINS", hide_env_values = true,
          value_name = "ORIGINS", value_delimiter = ',', value_parser = text())]
    #[serde(skip_serializing_if = "no_origins", serialize_with = "origins")]
    pub cors_origins: Vec<Setting<String>>,
    /// Also write each recorded entry as one JSON line here [default: off].
    #[arg(long, env = "AUDITLOG_CONSOLE_OUTPUT", hide_env_values = true,
          value_parser = BlankOr(EnumValueParser::<ConsoleOutput>::new()))]
    #[serde(skip_serializing_if = "unset")]
    pub console_output: Option<Setting<ConsoleOutput>>,
}

fn no_origins(origins: &[Setting<String>]) -> bool {
    origins.iter().all(|origin| origin.0.is_none())
}

fn origins<S: Serializer>(origins: &[Setting<String>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(origins.iter().filter_map(|origin| origin.0.as_deref()))
}

/// How long entries are kept.
#[derive(Debug, Args, Serialize)]
pub struct RetentionArgs {
    /// Remove entries older than this many days, for every tenant that sets no
    /// retention of its own (`tenants update --retention-days`) and is not under legal
    /// hold [default: keep everything].
    #[arg(long, env = "AUDITLOG_RETENTION_DAYS", hide_env_values = true,
          value_name = "DAYS", value_parser = number::<u32>())]
    #[serde(skip_serializing_if = "unset")]
    pub retention_days: Option<Setting<u32>>,
}

/// How often `serve` removes expired entries.
#[derive(Debug, Args, Serialize)]
pub struct PurgeScheduleArgs {
    /// Remove expired entries this often, in seconds (the first time a minute after
    /// the start) [default: 3600].
    #[arg(long, env = "AUDITLOG_PURGE_INTERVAL_SECS", hide_env_values = true,
          value_name = "SECS", value_parser = number::<u64>())]
    #[serde(skip_serializing_if = "unset")]
    pub purge_interval_secs: Option<Setting<u64>>,
}

/// The log signing key, and the names it signs under.
#[derive(Debug, Args, Serialize)]
pub struct SigningArgs {
    /// The file of the log signing key (mode 0600; `serve` and `log-key` make it when
    /// missing) [default: auditlog-signing.key].
    #[arg(long, env = "AUDITLOG_SIGNING_KEY_FILE", hide_env_values = true,
          value_name = "FILE", value_parser = path())]
    #[serde(skip_serializing_if = "unset")]
    pub signing_key_file: Option<Setting<PathBuf>>,
    /// The name of the log and its key; each tenant's log is `<origin>/<tenant id>`
    /// [default: the host of --public-url, else auditlog].
    #[arg(long, visible_alias = "origin", env = "AUDITLOG_LOG_ORIGIN", hide_env_values = true,
          value_name = "ORIGIN", value_parser = text())]
    #[serde(skip_serializing_if = "unset")]
    pub log_origin: Option<Setting<String>>,
    /// The service's public base URL, as clients reach it behind a proxy; `Link`
    /// headers are built from it [default: the request's Host].
    #[arg(long, env = "AUDITLOG_PUBLIC_URL", hide_env_values = true,
          value_name = "URL", value_parser = text())]
    #[serde(skip_serializing_if = "unset")]
    pub public_url: Option<Setting<String>>,
}

/// The tenant that `serve` and `migrate` make.
#[derive(Debug, Args, Serialize)]
pub struct TenantArgs {
    /// The tenant to create at start when missing, and the bootstrap key's
    /// [default: 00000000-0000-0000-0000-000000000001].
    #[arg(long, env = "AUDITLOG_BOOTSTRAP_TENANT_ID", hide_env_values = true,
          value_name = "UUID", value_parser = uuid())]
    #[serde(skip_serializing_if = "unset")]
    pub bootstrap_tenant_id: Option<Setting<Uuid>>,
}

/// The key that `serve` registers at start.
#[derive(Debug, Args, Serialize)]
pub struct BootstrapKeyArgs {
    /// A secret of 16 or more characters to register at start with `read` and
    /// `write` (better in the environment or the config file than on a command line,
    /// which others may see) [default: none].
    #[arg(long, env = "AUDITLOG_BOOTSTRAP_API_KEY", hide_env_values = true,
          value_name = "SECRET", value_parser = text())]
    #[serde(skip_serializing_if = "unset")]
    pub bootstrap_api_key: Option<Setting<String>>,
}
