//! The database a command works on: where it is, its URL as it may be shown (never
//! with a password), and opening it, which only `migrate` and `serve` may do by making
//! a new SQLite file.

use std::{path::PathBuf, str::FromStr};

use anyhow::bail;
use auditlog_domain::StoreError;
use auditlog_storage::{SeaOrmStore, StoreOptions};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;

use crate::settings::Settings;

/// What stands for a password in a URL that is shown.
const HIDDEN: &str = "***";

/// Whether opening may make a new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// `migrate` and `serve`: a missing SQLite file is made.
    Allowed,
    /// Every other command: a missing SQLite file is an error that names it, since
    /// a new empty database is never what the operator meant.
    Refused,
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, by its absolute path.
    SqliteFile(PathBuf),
    /// A SQLite database in memory, gone when the process ends.
    SqliteMemory,
    /// Anything else (PostgreSQL): the URL says where.
    Server,
}

/// A database URL. No `Debug`: it may hold a password.
#[derive(Clone)]
pub struct Database {
    url: String,
    max_connections: u32,
}

impl Database {
    /// The database of `settings`.
    pub fn new(settings: &Settings) -> Self {
        Self {
            url: settings.database_url.clone(),
            max_connections: settings.db_max_connections,
        }
    }

    /// The URL as it may be printed and logged: a password in it, or in a `password`
    /// parameter, is `***`; a URL that cannot be parsed but might hold one is not shown.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }

    /// Where the URL points.
    pub fn location(&self) -> Location {
        let scheme = self.url.split_once(':').map(|(scheme, _)| scheme);
        if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("sqlite")) {
            return Location::Server;
        }
        let in_memory = self.url.contains(":memory:")
            || self
                .url
                .split_once('?')
                .is_some_and(|(_, query)| query.split('&').any(|pair| pair == "mode=memory"));
        if in_memory {
            return Location::SqliteMemory;
        }
        match SqliteConnectOptions::from_str(&self.url) {
            Ok(options) => std::path::absolute(options.get_filename())
                .map_or(Location::Server, Location::SqliteFile),
            Err(_) => Location::Server,
        }
    }

    /// The URL of the same database as another command should be given it from any
    /// directory: a SQLite file by its absolute path; `None` when the URL holds a
    /// password, which is never printed.
    pub fn portable_url(&self) -> Option<String> {
        match self.location() {
            Location::SqliteFile(path) => Some(format!("sqlite://{}", path.display())),
            Location::SqliteMemory => None,
            Location::Server => (redact(&self.url) == self.url).then(|| self.url.clone()),
        }
    }

    /// Connects (and migrates). A missing SQLite file is made only when `create`
    /// allows it. Errors name the database with its password hidden.
    pub async fn open(&self, create: Create) -> anyhow::Result<SeaOrmStore> {
        if create == Create::Refused
            && let Location::SqliteFile(path) = self.location()
            && !path.exists()
        {
            bail!(
                "no database at {}: give the one `serve` uses (--database-url or \
                 AUDITLOG_DATABASE_URL), or make this one with `auditlog migrate`",
                path.display()
            );
        }
        let options = StoreOptions {
            max_connections: self.max_connections,
            ..StoreOptions::default()
        };
        SeaOrmStore::connect(&self.url, options)
            .await
            .map_err(|err| self.error(err))
    }

    /// A store error as one line naming the database: the storage crate keeps URLs
    /// out of its errors, and any that slipped in is replaced here.
    fn error(&self, err: StoreError) -> anyhow::Error {
        let message = match err {
            StoreError::Unavailable(message) | StoreError::Backend(message) => message,
            other => other.to_string(),
        };
        let message = message.replace(&self.url, &self.redacted());
        anyhow::anyhow!("{message} (database {})", self.redacted())
    }
}

/// `url` with its password (and any `password` query parameter) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return if url.contains('@') || url.to_ascii_lowercase().contains("password") {
            "<a database URL that cannot be parsed>".to_owned()
        } else {
            url.to_owned()
        };
    };
    if parsed.password().is_some() && parsed.set_password(Some(HIDDEN)).is_err() {
        return "<a database URL that cannot be shown>".to_owned();
    }
    let secret_parameter = |name: &str| name.to_ascii_lowercase().contains("password");
    if parsed
        .query_pairs()
        .any(|(name, _)| secret_parameter(&name))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret_parameter(&name) {
                    HIDDEN.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The URL crate writes `***` percent-encoded in a query; it reads better as typed.
    parsed.to_string().replace("%2A%2A%2A", HIDDEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_nothing_else_changes() {
        for (url, shown) in [
            (
                "postgres://postgres:s3cretPassw0rd@127.0.0.1:5432/x",
                "postgres://postgres:***@127.0.0.1:5432/x",
            ),
            (
                "postgresql://u:p%40ss@db.example.com/audit?sslmode=require",
                "postgresql://u:***@db.example.com/audit?sslmode=require",
            ),
            (
                "postgres://u@h/db?password=hunter22&sslmode=require",
                "postgres://u@h/db?password=***&sslmode=require",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            (
                "sqlite://auditlog.db?mode=rwc",
                "sqlite://auditlog.db?mode=rwc",
            ),
            (
                "not a url with p@ss",
                "<a database URL that cannot be parsed>",
            ),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    fn database(url: &str) -> Database {
        Database {
            url: url.to_owned(),
            max_connections: 1,
        }
    }

    #[test]
    fn a_sqlite_file_is_found_by_its_absolute_path() {
        let here = std::env::current_dir().expect("a working directory");
        assert_eq!(
            database("sqlite://auditlog.db?mode=rwc").location(),
            Location::SqliteFile(here.join("auditlog.db"))
        );
        assert_eq!(
            database("sqlite:///var/lib/auditlog/auditlog.db").location(),
            Location::SqliteFile(PathBuf::from("/var/lib/auditlog/auditlog.db"))
        );
        assert_eq!(
            database("sqlite::memory:").location(),
            Location::SqliteMemory
        );
        assert_eq!(database("postgres://u:p@h/db").location(), Location::Server);
        assert_eq!(database("postgres://u:p@h/db").portable_url(), None);
        assert_eq!(
            database("postgres://u@h/db").portable_url().as_deref(),
            Some("postgres://u@h/db")
        );
    }
}
