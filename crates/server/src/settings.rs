//! The settings of every command, from four layers, each overriding the one before:
//! the defaults, an optional TOML file (`--config` or `AUDITLOG_CONFIG`), the
//! environment (`AUDITLOG_*`) and the command line. clap reads the last two, so that
//! each command's `--help` names its flags and their variables; figment lays what they
//! gave over the file and the defaults.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::{
    Figment,
    providers::{Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` text, in colour only on a terminal.
    #[default]
    Text,
    /// One JSON object a line, the start banner included.
    Json,
}

/// Where `serve` also writes each recorded entry, as one JSON line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleOutput {
    /// Nowhere but the database.
    #[default]
    #[value(alias = "none")]
    #[serde(alias = "none")]
    Off,
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Every setting, under the name a config file gives it: the environment variable's
/// name without `AUDITLOG_`, in lower case. No `Debug`: it holds secrets.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://FILE?mode=rwc` (embedded) or `postgres://...`.
    pub database_url: String,
    /// The most connections the database pool opens.
    pub db_max_connections: u32,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The address `serve` listens on.
    pub listen: String,
    /// The base URL of `Link` headers behind a proxy; the request's Host when absent.
    pub public_url: Option<String>,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// The longest a request may take, in seconds.
    pub request_timeout_secs: u64,
    /// How long an idle connection stays open, in seconds.
    pub idle_timeout_secs: u64,
    /// The most connections open at once; from the open-file limit when absent.
    pub max_connections: Option<usize>,
    /// How long requests in flight may take to finish at shutdown, in seconds.
    pub shutdown_drain_secs: u64,
    /// The most lists and exports served at once.
    pub max_expensive_requests: usize,
    /// Origins that CORS allows; CORS is off when empty.
    pub cors_origins: Vec<String>,
    /// Where recorded entries are echoed.
    pub console_output: ConsoleOutput,
    /// A secret registered at start for the bootstrap tenant, with `read` and `write`.
    pub bootstrap_api_key: Option<String>,
    /// The tenant that `serve` and `migrate` create.
    pub bootstrap_tenant_id: Uuid,
    /// The file of the log signing key.
    pub signing_key_file: PathBuf,
    /// The name of the log; the host of `public_url`, else `auditlog`, when absent.
    pub log_origin: Option<String>,
    /// How many days entries are kept, for tenants that set none; for ever when absent.
    pub retention_days: Option<u32>,
    /// How often `serve` removes expired entries, in seconds.
    pub purge_interval_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://auditlog.db?mode=rwc".to_owned(),
            db_max_connections: 10,
            log_format: LogFormat::Text,
            listen: "127.0.0.1:8000".to_owned(),
            public_url: None,
            body_limit: 4 * 1024 * 1024,
            request_timeout_secs: 30,
            idle_timeout_secs: 60,
            max_connections: None,
            shutdown_drain_secs: 10,
            max_expensive_requests: 16,
            cors_origins: Vec::new(),
            console_output: ConsoleOutput::Off,
            bootstrap_api_key: None,
            bootstrap_tenant_id: auditlog_domain::DEFAULT_TENANT_ID,
            signing_key_file: PathBuf::from("auditlog-signing.key"),
            log_origin: None,
            retention_days: None,
            purge_interval_secs: 3600,
        }
    }
}

/// Lays the layers of one command's settings.
#[derive(Debug)]
pub struct Loader(Figment);

impl Loader {
    /// The defaults, and over them the config file when one is named. A named file
    /// that cannot be read stops the command: it would otherwise run on other settings
    /// than the operator wrote.
    pub fn new(file: Option<&Path>) -> anyhow::Result<Self> {
        let figment = Figment::from(Serialized::defaults(Settings::default()));
        let Some(file) = file else {
            return Ok(Self(figment));
        };
        let metadata = std::fs::metadata(file)
            .with_context(|| format!("cannot read the config file {}", file.display()))?;
        if !metadata.is_file() {
            bail!("the config file {} is not a regular file", file.display());
        }
        Ok(Self(figment.merge(Toml::file_exact(file))))
    }

    /// Lays what the environment and the command line gave over the file: `given`
    /// serialises to the settings it holds (and leaves out those it does not).
    pub fn given(self, given: &impl Serialize) -> Self {
        Self(self.0.merge(Serialized::defaults(given)))
    }

    /// The settings, or an error that names the key and where its value came from.
    pub fn load(self) -> anyhow::Result<Settings> {
        // figment names keys under its profile ("default.listen"); a config file has none.
        self.0.extract().map_err(|err| {
            let message = err.to_string().replace("for key \"default.", "for key \"");
            anyhow::anyhow!("invalid settings: {message}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), text).expect("written");
        file
    }

    #[derive(Serialize)]
    struct Given {
        #[serde(skip_serializing_if = "Option::is_none")]
        listen: Option<String>,
    }

    #[test]
    fn what_is_given_overrides_the_file_which_overrides_the_defaults() {
        let toml = file("listen = \"0.0.0.0:9000\"\nbody_limit = 1024\n");
        let from_file = Loader::new(Some(toml.path()))
            .and_then(|l| l.given(&Given { listen: None }).load())
            .expect("valid");
        assert_eq!(from_file.listen, "0.0.0.0:9000");
        assert_eq!(from_file.body_limit, 1024);
        assert_eq!(from_file.request_timeout_secs, 30, "a default stays");
        let given = Loader::new(Some(toml.path()))
            .and_then(|l| {
                l.given(&Given {
                    listen: Some("127.0.0.1:1".to_owned()),
                })
                .load()
            })
            .expect("valid");
        assert_eq!(given.listen, "127.0.0.1:1");
        assert_eq!(given.body_limit, 1024);
    }

    #[test]
    fn a_file_with_an_unknown_key_or_a_wrong_value_is_refused_naming_the_key() {
        for (text, named) in [
            ("lissen = \"x\"", "lissen"),
            ("log_format = \"yaml\"", "log_format"),
            ("body_limit = \"big\"", "body_limit"),
        ] {
            let toml = file(text);
            let err = Loader::new(Some(toml.path()))
                .and_then(Loader::load)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(named), "{text}: {err}");
            assert!(
                err.contains(&toml.path().display().to_string()),
                "names the file: {err}"
            );
        }
    }

    /// The example config file and the README document every key, and the example,
    /// with each key's first line uncommented, is a valid file.
    #[test]
    fn every_key_is_documented_and_the_example_is_valid() {
        let example = include_str!("../../../deploy/auditlog.toml");
        let readme = include_str!("../../../README.md");
        let mut seen = std::collections::HashSet::new();
        let uncommented: String = example
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                line.split_once(" = ")
                    .is_some_and(|(key, _)| !key.contains(' ') && seen.insert(key.to_owned()))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let toml = file(&uncommented);
        Loader::new(Some(toml.path()))
            .and_then(Loader::load)
            .unwrap_or_else(|err| panic!("{err}: {uncommented}"));
        let keys = serde_json::to_value(Settings::default()).expect("serialisable");
        for key in keys.as_object().expect("an object").keys() {
            assert!(seen.contains(key), "deploy/auditlog.toml lacks {key}");
            assert!(readme.contains(&format!("| `{key}`")), "README lacks {key}");
        }
    }

    #[test]
    fn a_named_file_that_is_missing_is_an_error() {
        let err = Loader::new(Some(Path::new("/nonexistent/auditlog.toml")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/nonexistent/auditlog.toml"), "{err}");
    }
}
