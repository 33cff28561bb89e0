//! Installing and configuring the real binary: a TOML config file (`--config` or
//! `AUDITLOG_CONFIG`) that the environment and flags override, refused by key when it
//! is wrong, and shell completions and man pages generated from the command line.

mod common;

use std::{path::Path, process::Output};

use common::{KEY, Server, client};

/// Runs `auditlog args...` with `env`, and no config file from the tests' environment.
fn auditlog(args: &[&str], env: &[(&str, &str)]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .args(args)
        .env_remove("AUDITLOG_CONFIG")
        .env_remove("AUDITLOG_LOG_ORIGIN")
        .env_remove("AUDITLOG_PUBLIC_URL")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).expect("written");
    path.to_str().expect("UTF-8").to_owned()
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("signing.key");
    let config = write(
        &dir.path().join("auditlog.toml"),
        &format!(
            "log_origin = \"file.example\"\nsigning_key_file = \"{}\"\n",
            key_file.display()
        ),
    );
    // `log-key` prints the verifier key named after the log origin in force.
    let origin = |args: &[&str], env: &[(&str, &str)]| {
        let printed = stdout(&auditlog(args, env));
        printed.split('+').next().unwrap_or_default().to_owned()
    };
    let flag = ["log-key", "--config", config.as_str()];
    assert_eq!(origin(&flag, &[]), "file.example");
    assert_eq!(
        origin(&["log-key"], &[("AUDITLOG_CONFIG", config.as_str())]),
        "file.example"
    );
    assert!(key_file.exists(), "the file's signing_key_file is used");
    let env = [("AUDITLOG_LOG_ORIGIN", "env.example")];
    assert_eq!(origin(&flag, &env), "env.example");
    assert_eq!(
        origin(
            &[
                "log-key",
                "--config",
                &config,
                "--log-origin",
                "flag.example"
            ],
            &env
        ),
        "flag.example"
    );
    // A blank variable is no setting, as in a compose file's `AUDITLOG_LOG_ORIGIN=`.
    assert_eq!(
        origin(&flag, &[("AUDITLOG_LOG_ORIGIN", "")]),
        "file.example"
    );
}

#[test]
fn a_wrong_file_stops_the_command_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (text, key) in [
        ("listen = 8000\n", "listen"),
        ("lissen = \"127.0.0.1:8000\"\n", "lissen"),
        ("console_output = \"file\"\n", "console_output"),
    ] {
        let config = write(&dir.path().join("auditlog.toml"), text);
        let output = auditlog(&["serve", "--config", &config], &[]);
        assert_eq!(output.status.code(), Some(1), "{text}");
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(error.contains(&format!("\"{key}\"")), "{text}: {error}");
        assert!(error.contains(&config), "{text}: {error}");
    }
}

#[tokio::test]
async fn serve_takes_settings_from_the_file_unless_the_environment_gives_them() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let config = write(
        &dir.path().join("auditlog.toml"),
        "body_limit = 300\ncors_origins = [\"https://app.example\"]\n",
    );
    let entry = serde_json::json!({"type": "login_success", "meta_http_request_id": "r-1",
        "meta_source_ip": "203.0.113.9", "meta_user_agent": "config-test",
        "details": {"padding": "x".repeat(300)}});
    let http = client();
    for (env, status) in [
        (vec![("AUDITLOG_CONFIG", config.as_str())], 413),
        (
            vec![
                ("AUDITLOG_CONFIG", config.as_str()),
                ("AUDITLOG_BODY_LIMIT", "4096"),
            ],
            201,
        ),
    ] {
        let server = Server::start(&db, &env).await;
        let answer = http
            .post(server.admin_url())
            .bearer_auth(KEY)
            .header("origin", "https://app.example")
            .json(&entry)
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), status, "{env:?}");
        assert_eq!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.as_bytes()),
            Some(&b"https://app.example"[..]),
            "the file's CORS origins"
        );
        server.kill().await;
    }
}

#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&auditlog(&["completions", shell], &[]));
        assert!(script.contains("serve"), "{shell}");
        assert!(script.contains("database-url"), "{shell}");
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    if Path::new("/bin/bash").exists() {
        let script = write(
            &dir.path().join("auditlog.bash"),
            &stdout(&auditlog(&["completions", "bash"], &[])),
        );
        let loaded = std::process::Command::new("/bin/bash")
            .args(["-c", &format!("source {script} && complete -p auditlog")])
            .output()
            .expect("bash runs");
        assert!(
            String::from_utf8_lossy(&loaded.stdout).contains("auditlog"),
            "{loaded:?}"
        );
    }
    let page = stdout(&auditlog(&["man"], &[]));
    assert!(page.contains(".TH auditlog"), "{page}");
    let pages = dir.path().join("man");
    let pages_arg = pages.to_str().expect("UTF-8");
    assert!(auditlog(&["man", "--dir", pages_arg], &[]).status.success());
    let serve = std::fs::read_to_string(pages.join("auditlog-serve.1")).expect("a page for serve");
    assert!(serve.contains("AUDITLOG_LISTEN"), "{serve}");
    assert!(pages.join("auditlog-keys-create.1").exists());
}
