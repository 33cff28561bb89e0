//! Secrets are never shown by the real binary: not in `--help` (environment values are
//! hidden), not in the man page, and a database URL's password is `***` in the start
//! banner, in log lines and in the error of a connection that fails.

mod common;

use std::process::Output;

use auditlog_tests::{Backend, TestDatabase};
use serde_json::Value;

const PASSWORD: &str = "s3cretPassw0rd";
const BOOTSTRAP: &str = "bootstrap-secret-0123456789";

/// Runs `auditlog args...` with `env`.
fn auditlog(args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// A port on which nothing listens.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn help_and_the_man_page_never_show_an_environment_value() {
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:5432/x");
    let env = [
        ("AUDITLOG_DATABASE_URL", url.as_str()),
        ("AUDITLOG_BOOTSTRAP_API_KEY", BOOTSTRAP),
    ];
    let pages: &[&[&str]] = &[
        &["--help"],
        &["-h"],
        &["help", "serve"],
        &["serve", "--help"],
        &["serve", "-h"],
        &["migrate", "--help"],
        &["keys", "--help"],
        &["keys", "create", "--help"],
        &["tenants", "list", "--help"],
        &["seed", "--help"],
        &["verify", "--help"],
        &["export", "--help"],
        &["log-key", "--help"],
        &["man"],
    ];
    for args in pages {
        let output = auditlog(args, &env);
        assert!(output.status.success(), "{args:?}: {output:?}");
        let shown = String::from_utf8_lossy(&output.stdout);
        assert!(!shown.is_empty(), "{args:?} prints help");
        assert!(!shown.contains(PASSWORD), "{args:?} shows the password");
        assert!(
            !shown.contains(BOOTSTRAP),
            "{args:?} shows the bootstrap key"
        );
    }
    // `serve` offers every setting, each with its variable.
    let serve = auditlog(&["serve", "--help"], &env);
    let serve = String::from_utf8_lossy(&serve.stdout);
    for (flag, variable) in [
        ("--config", "AUDITLOG_CONFIG"),
        ("--log-format", "AUDITLOG_LOG_FORMAT"),
        ("--database-url", "AUDITLOG_DATABASE_URL"),
        ("--db-max-connections", "AUDITLOG_DB_MAX_CONNECTIONS"),
        ("--listen", "AUDITLOG_LISTEN"),
        ("--body-limit", "AUDITLOG_BODY_LIMIT"),
        ("--request-timeout-secs", "AUDITLOG_REQUEST_TIMEOUT_SECS"),
        ("--idle-timeout-secs", "AUDITLOG_IDLE_TIMEOUT_SECS"),
        ("--max-connections", "AUDITLOG_MAX_CONNECTIONS"),
        ("--shutdown-drain-secs", "AUDITLOG_SHUTDOWN_DRAIN_SECS"),
        (
            "--max-expensive-requests",
            "AUDITLOG_MAX_EXPENSIVE_REQUESTS",
        ),
        ("--cors-origins", "AUDITLOG_CORS_ORIGINS"),
        ("--console-output", "AUDITLOG_CONSOLE_OUTPUT"),
        ("--signing-key-file", "AUDITLOG_SIGNING_KEY_FILE"),
        ("--log-origin", "AUDITLOG_LOG_ORIGIN"),
        ("--public-url", "AUDITLOG_PUBLIC_URL"),
        ("--bootstrap-tenant-id", "AUDITLOG_BOOTSTRAP_TENANT_ID"),
        ("--bootstrap-api-key", "AUDITLOG_BOOTSTRAP_API_KEY"),
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
        assert!(
            serve.contains(&format!("[env: {variable}]")),
            "serve --help lacks {variable}"
        );
    }
}

#[test]
fn a_database_that_refuses_connections_is_one_line_naming_where_and_why_without_the_password() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("signing.key");
    let port = closed_port();
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/audit");
    let env = [
        ("AUDITLOG_DATABASE_URL", url.as_str()),
        ("AUDITLOG_LISTEN", "127.0.0.1:0"),
        (
            "AUDITLOG_SIGNING_KEY_FILE",
            key_file.to_str().expect("UTF-8"),
        ),
        ("RUST_BACKTRACE", "1"),
    ];
    for args in [&["keys", "list"][..], &["migrate"], &["serve"]] {
        let output = auditlog(args, &env);
        assert!(!output.status.success(), "{args:?} fails");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}: one line: {stderr}"
        );
        // The pool's own error after its acquire timeout would say "pool timed out".
        assert!(
            stderr.contains(&format!(
                "cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused"
            )),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("postgres://postgres:***@127.0.0.1:{port}/audit")),
            "{args:?}: names the database: {stderr}"
        );
        assert!(!stderr.contains(PASSWORD), "{args:?}: {stderr}");
        assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    }
}

#[test]
fn a_database_that_never_answers_is_reported_without_waiting_for_the_pool() {
    // The listener takes the connection into its backlog and never says a word, as a
    // server behind a firewall that drops packets never does.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = silent.local_addr().expect("its address").port();
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/audit");
    let output = auditlog(
        &["keys", "list"],
        &[("AUDITLOG_DATABASE_URL", url.as_str())],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}: no answer within 2 s"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    drop(silent);
}

/// `url` with a password: its own when it has one (which is then what must stay
/// hidden), else [`PASSWORD`], which a server that trusts local connections ignores.
fn with_password(url: &str) -> (String, String) {
    let mut parsed = url::Url::parse(url).expect("a URL");
    if let Some(password) = parsed.password() {
        return (url.to_owned(), password.to_owned());
    }
    parsed.set_password(Some(PASSWORD)).expect("a password");
    (parsed.to_string(), PASSWORD.to_owned())
}

/// What `serve` writes to standard error until it has printed its banner in `format`.
async fn start_up_lines(url: &str, format: &str, dir: &std::path::Path) -> Vec<String> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_auditlog"));
    command
        .arg("serve")
        .env("AUDITLOG_DATABASE_URL", url)
        .env("AUDITLOG_LISTEN", "127.0.0.1:0")
        .env("AUDITLOG_LOG_FORMAT", format)
        .env("AUDITLOG_SIGNING_KEY_FILE", dir.join("signing.key"))
        .env("RUST_LOG", "info");
    let (mut child, seen, _) = common::until_banner(command).await;
    let _ = child.kill().await;
    seen
}

#[tokio::test]
async fn the_banner_and_log_lines_show_the_database_without_its_password_postgres() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (url, password) = with_password(&db.url);

    let text = start_up_lines(&url, "text", dir.path()).await;
    let banner = text
        .iter()
        .find(|line| line.trim_start().starts_with("Database:"))
        .unwrap_or_else(|| panic!("the banner names the database: {text:?}"));
    assert!(banner.contains(":***@127.0.0.1"), "{banner}");
    let logged = text
        .iter()
        .find(|line| line.contains("database migrated"))
        .unwrap_or_else(|| panic!("a log line names the database: {text:?}"));
    assert!(logged.contains(":***@"), "{logged}");
    assert!(
        !text.iter().any(|line| line.contains(&password)),
        "{text:?}"
    );

    let json = start_up_lines(&url, "json", dir.path()).await;
    let lines: Vec<Value> = json
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("JSON: {line}")))
        .collect();
    let shown = |message: &str| {
        lines
            .iter()
            .find(|line| line["message"] == message)
            .and_then(|line| line["database"].as_str())
            .unwrap_or_else(|| panic!("{message} names the database: {json:?}"))
            .to_owned()
    };
    assert!(shown("auditlog is serving").contains(":***@"), "{json:?}");
    assert!(shown("database migrated").contains(":***@"), "{json:?}");
    assert!(
        !json.iter().any(|line| line.contains(&password)),
        "{json:?}"
    );
    db.drop_database().await;
}
