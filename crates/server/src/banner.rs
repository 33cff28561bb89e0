//! What `serve` prints once it listens: where it serves, the database it uses (its
//! password hidden), and commands that work as printed from wherever the reader runs
//! them. In JSON log format it is one JSON log line, like every other line.

use std::{net::SocketAddr, path::Path};

use uuid::Uuid;

use crate::{database::Database, settings::LogFormat};

/// Prints the banner of a server at `addr` on `database`, for `tenant`.
pub fn print(addr: SocketAddr, database: &Database, tenant: Uuid, format: LogFormat) {
    let url = format!("http://{addr}");
    let run = invocation();
    let with_database = database.portable_url().map_or_else(String::new, |url| {
        format!(" --database-url {}", quoted(&url))
    });
    let get_a_key =
        format!("{run} keys create --tenant {tenant} --scopes read,write{with_database}");
    let demo_data = format!("{run} seed --tenant {tenant} --count 10000{with_database}");
    let shown = match database.location() {
        crate::database::Location::SqliteFile(path) => format!("SQLite file {}", path.display()),
        crate::database::Location::SqliteMemory => {
            "SQLite in memory (gone when the server stops)".to_owned()
        }
        crate::database::Location::Server => database.redacted(),
    };
    match format {
        LogFormat::Json => tracing::info!(
            url,
            database = shown,
            swagger_ui = format!("{url}/swagger-ui/"),
            openapi = format!("{url}/openapi.json"),
            log_key = format!("{url}/log-key"),
            get_a_key,
            demo_data,
            "auditlog is serving"
        ),
        LogFormat::Text => {
            let same_database = if with_database.is_empty() {
                "\n                (with the database URL that serve has: AUDITLOG_DATABASE_URL or --config)"
            } else {
                ""
            };
            eprintln!(
                "\nauditlog is serving at {url}\n  \
                 Database:     {shown}\n  \
                 Swagger UI:   {url}/swagger-ui/\n  \
                 OpenAPI:      {url}/openapi.json\n  \
                 Log key:      {url}/log-key\n  \
                 Get a key:    {get_a_key}{same_database}\n                \
                 (or start with AUDITLOG_BOOTSTRAP_API_KEY=<secret of 16+ characters>)\n  \
                 Demo data:    {demo_data}\n"
            );
        }
    }
}

/// How the reader runs this binary: its name when `PATH` finds this very file,
/// `cargo run -q -p auditlog --` when Cargo runs it, else its absolute path.
fn invocation() -> String {
    let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
    else {
        return "auditlog".to_owned();
    };
    if let Some(name) = exe.file_name().and_then(|name| name.to_str())
        && on_path(name, &exe)
    {
        return name.to_owned();
    }
    let by_cargo = std::env::var_os("CARGO").is_some_and(|cargo| !cargo.is_empty())
        && std::env::var("CARGO_PKG_NAME").as_deref() == Ok(env!("CARGO_PKG_NAME"));
    if by_cargo {
        return format!("cargo run -q -p {} --", env!("CARGO_PKG_NAME"));
    }
    quoted(&exe.display().to_string())
}

/// Whether `PATH` finds `exe` under `name`.
fn on_path(name: &str, exe: &Path) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
            .and_then(|found| found.canonicalize().ok())
            .is_some_and(|found| found == exe)
    })
}

/// `text` as one shell word.
fn quoted(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| text.to_owned(), |quoted| quoted.into_owned())
}
