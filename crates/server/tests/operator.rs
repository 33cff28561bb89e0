//! The real binary as an operator meets it: user errors as one line without a
//! backtrace, invalid values refused naming the allowed ones, no command but `migrate`
//! and `serve` making a database, a banner whose commands work as printed from another
//! directory, JSON logs that are JSON throughout, and no colour off a terminal.

mod common;

use std::{path::Path, process::Output, time::Duration};

use common::KEY;
use serde_json::Value;
use tokio::{
    io::{BufReader, Lines},
    process::{Child, ChildStderr},
};

const DEFAULT_TENANT: &str = "00000000-0000-0000-0000-000000000001";

/// Runs `auditlog args...` in `dir` with `env`, and without a database URL or a config
/// file from the environment of the tests.
fn auditlog(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .args(args)
        .current_dir(dir)
        .env_remove("AUDITLOG_DATABASE_URL")
        .env_remove("AUDITLOG_CONFIG")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn user_errors_are_one_line_without_a_backtrace() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    assert!(auditlog(dir.path(), &["migrate"], &[]).status.success());
    let unknown = "6f1c1c59-38a1-4a5c-9a4f-2a8a8a2f1b11";
    let backtrace = [("RUST_BACKTRACE", "1")];
    for args in [
        &["keys", "create", "--tenant", unknown][..],
        &["keys", "revoke", unknown],
        &["keys", "list", "--config", "/nonexistent/auditlog.toml"],
    ] {
        let output = auditlog(dir.path(), args, &backtrace);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        assert!(text.starts_with("error: "), "{text}");
        assert!(!text.to_lowercase().contains("backtrace"), "{text}");
    }
}

#[test]
fn invalid_values_are_refused_naming_what_is_allowed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (args, env, allowed) in [
        (
            &["serve", "--log-format", "yaml"][..],
            &[][..],
            "text, json",
        ),
        (
            &["serve"],
            &[("AUDITLOG_LOG_FORMAT", "yaml")][..],
            "text, json",
        ),
        (
            &["keys", "list"],
            &[("AUDITLOG_LOG_FORMAT", "yaml")],
            "text, json",
        ),
        (
            &["serve"],
            &[("AUDITLOG_CONSOLE_OUTPUT", "file")],
            "off, stdout, stderr",
        ),
        (&["serve", "--body-limit", "lots"], &[], "--body-limit"),
        (
            &["serve", "--bootstrap-tenant-id", "7"],
            &[],
            "--bootstrap-tenant-id",
        ),
    ] {
        let output = auditlog(dir.path(), args, env);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?} {env:?}: {output:?}"
        );
        let text = stderr(&output);
        assert!(text.contains("invalid value"), "{text}");
        assert!(text.contains(allowed), "{args:?} {env:?}: {text}");
    }
    assert!(!dir.path().join("auditlog.db").exists(), "nothing started");
    // A command offers only what it uses.
    let openapi = auditlog(dir.path(), &["openapi", "--help"], &[]);
    let openapi = String::from_utf8_lossy(&openapi.stdout);
    assert!(!openapi.contains("--database-url"), "{openapi}");
    assert!(!openapi.contains("--log-format"), "{openapi}");
    let refused = auditlog(
        dir.path(),
        &["openapi", "--database-url", "sqlite://x"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn only_migrate_and_serve_make_a_database() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("auditlog.db");
    for args in [
        &["keys", "list"][..],
        &["keys", "create", "--tenant", DEFAULT_TENANT],
        &["tenants", "list"],
        &["tenants", "create"],
        &["seed", "--count", "1"],
        &["export", "--tenant", DEFAULT_TENANT],
    ] {
        let output = auditlog(dir.path(), args, &[]);
        assert!(!output.status.success(), "{args:?} refuses");
        let text = stderr(&output);
        assert!(
            text.contains(&format!("no database at {}", file.display())),
            "{args:?} names the file: {text}"
        );
        assert!(!file.exists(), "{args:?} made {}", file.display());
    }
    assert!(auditlog(dir.path(), &["migrate"], &[]).status.success());
    assert!(file.exists(), "migrate makes it");
    assert!(
        auditlog(dir.path(), &["keys", "list"], &[])
            .status
            .success()
    );
}

/// `serve` in `dir` on its default database, with `env`, once it has printed its
/// banner: the child, the lines before the banner's end, and the rest of stderr.
async fn serve(
    dir: &Path,
    env: &[(&str, &str)],
) -> (Child, Vec<String>, Lines<BufReader<ChildStderr>>) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_auditlog"));
    command
        .arg("serve")
        .current_dir(dir)
        .env_remove("AUDITLOG_DATABASE_URL")
        .env_remove("AUDITLOG_CONFIG")
        .env_remove("NO_COLOR")
        .env("AUDITLOG_LISTEN", "127.0.0.1:0")
        .env("AUDITLOG_BOOTSTRAP_API_KEY", KEY)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied());
    common::until_banner(command).await
}

/// Sends SIGTERM and returns the rest of stderr once the process has exited.
async fn stop(mut child: Child, mut lines: Lines<BufReader<ChildStderr>>) -> Vec<String> {
    let pid = child.id().expect("a pid").to_string();
    let signalled = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(signalled.success());
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
    })
    .await
    .expect("serve stops within 30 s");
    let _ = child.wait().await;
    rest
}

#[tokio::test]
async fn the_banners_commands_work_as_printed_from_another_directory() {
    let here = tempfile::tempdir().expect("a temporary directory");
    let elsewhere = tempfile::tempdir().expect("another directory");
    let cargo = [("CARGO", "cargo"), ("CARGO_PKG_NAME", "auditlog")];
    let (child, banner, lines) = serve(here.path(), &cargo).await;
    let database = here.path().join("auditlog.db");
    assert!(
        banner.iter().any(|line| line.contains(&format!("Database:     SQLite file {}", database.display()))),
        "{banner:?}"
    );
    let command = banner
        .iter()
        .find_map(|line| line.split("Get a key:").nth(1))
        .unwrap_or_else(|| panic!("a command to make a key: {banner:?}"));
    let words = shlex::split(command.trim()).expect("shell words");
    // Run by Cargo, the binary says how Cargo runs it.
    assert_eq!(
        words[..5],
        ["cargo", "run", "-q", "-p", "auditlog"],
        "{command}"
    );
    let _ = stop(child, lines).await;

    let (child, banner, lines) = serve(here.path(), &[("CARGO", "")]).await;
    let command = banner
        .iter()
        .find_map(|line| line.split("Get a key:").nth(1))
        .unwrap_or_else(|| panic!("a command to make a key: {banner:?}"));
    let words = shlex::split(command.trim()).expect("shell words");
    let binary = Path::new(env!("CARGO_BIN_EXE_auditlog"))
        .canonicalize()
        .expect("the binary");
    assert_eq!(
        Path::new(&words[0]),
        binary,
        "the binary by its path: {command}"
    );
    let made = std::process::Command::new(&words[0])
        .args(&words[1..])
        .current_dir(elsewhere.path())
        .env_remove("AUDITLOG_DATABASE_URL")
        .env_remove("AUDITLOG_CONFIG")
        .output()
        .expect("the printed command runs");
    assert!(made.status.success(), "{command}: {made:?}");
    assert!(String::from_utf8_lossy(&made.stdout).starts_with("alk_"));
    assert!(!elsewhere.path().join("auditlog.db").exists());
    let _ = stop(child, lines).await;
}

#[tokio::test]
async fn json_logs_are_json_throughout_with_callers_and_reasons_but_no_values() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (child, mut lines, rest) = serve(dir.path(), &[("AUDITLOG_LOG_FORMAT", "json")]).await;
    let banner: Value = serde_json::from_str(lines.last().expect("the banner")).expect("JSON");
    let base = banner["url"].as_str().expect("the banner's url").to_owned();
    assert!(
        banner["get_a_key"]
            .as_str()
            .is_some_and(|c| c.contains("keys create"))
    );
    let http = reqwest::Client::new();
    let email = "jane.doe@example.com";
    let refused = http
        .get(format!(
            "{base}/admin/audit_logs?page=0&actor_email={email}"
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), 400);
    let unknown_field = http
        .post(format!("{base}/admin/audit_logs"))
        .bearer_auth(KEY)
        .body(format!(r#"{{"{email}": 1}}"#))
        .send()
        .await
        .expect("an answer");
    assert_eq!(unknown_field.status(), 400);
    let anonymous = http
        .get(format!("{base}/admin/audit_logs"))
        .bearer_auth("not-a-key-of-this-service")
        .send()
        .await
        .expect("an answer");
    assert_eq!(anonymous.status(), 401);
    lines.extend(stop(child, rest).await);

    let parsed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let requests: Vec<&Value> = parsed
        .iter()
        .filter(|l| l["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 3, "{lines:?}");
    let key_id = parsed
        .iter()
        .find(|l| l["message"] == "bootstrap key registered")
        .map(|l| l["key_id"].clone())
        .expect("the bootstrap key's id");
    let (list, post, unauthenticated) = (requests[0], requests[1], requests[2]);
    assert_eq!(list["params"], serde_json::json!(["page", "actor_email"]));
    assert_eq!(list["error_kind"], "invalid_parameter");
    assert_eq!(list["parameter"], "page");
    assert_eq!(list["tenant_id"], DEFAULT_TENANT);
    assert_eq!(list["key_id"], key_id);
    assert_eq!(post["error_kind"], "invalid_entry");
    assert!(
        post.get("parameter").is_none(),
        "an unknown field's name is the client's: {post}"
    );
    assert_eq!(unauthenticated["error_kind"], "invalid_key");
    assert!(unauthenticated.get("key_id").is_none());
    for line in &lines {
        assert!(!line.contains(email), "a personal value is logged: {line}");
        assert!(!line.contains(KEY), "the key is logged: {line}");
    }
}

#[tokio::test]
async fn text_logs_have_no_colour_off_a_terminal() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (child, mut lines, rest) = serve(dir.path(), &[]).await;
    let base = lines
        .iter()
        .find_map(|line| line.split("auditlog is serving at ").nth(1))
        .expect("the address")
        .trim()
        .to_owned();
    let answer = reqwest::get(format!("{base}/health"))
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    lines.extend(stop(child, rest).await);
    assert!(
        lines.iter().any(|line| line.contains("request")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|line| line.contains('\u{1b}')),
        "{lines:?}"
    );
}
