//! The verifiable export end to end: what the real server streams from
//! `GET .../audit_logs/export` passes `auditlog verify --entries` with the published
//! key, offline, is the same file `auditlog export` writes, and fails the check once an
//! entry is altered or the checkpoint line is missing.

mod common;

use std::{path::Path, process::Output, time::Duration};

use auditlog_domain::DEFAULT_TENANT_ID;
use common::{KEY, Server, batch, client};

/// Runs `auditlog args...` on the database `database_url`.
fn auditlog(args: &[&str], database_url: &str) -> Output {
    std::process::Command::new(common::binary())
        .args(args)
        .env("AUDITLOG_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

/// `auditlog verify --entries FILE --key KEY`: whether it passed, and what it said.
fn verify(file: &Path, key: &str) -> (bool, String) {
    let file = file.display().to_string();
    // Offline: no database is opened.
    let output = auditlog(
        &["verify", "--entries", &file, "--key", key],
        "sqlite:///nonexistent/none.db",
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[tokio::test]
async fn an_export_over_http_passes_the_offline_verifier() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let server = Server::start(&db, &[]).await;
    let http = client();
    for tag in ["first", "second"] {
        let (_, entries) = batch(4, tag);
        let response = http
            .post(server.admin_url())
            .bearer_auth(KEY)
            .json(&entries)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status(), 201);
    }
    let key = http
        .get(format!("{}/log-key", server.base))
        .send()
        .await
        .expect("a response")
        .text()
        .await
        .expect("the key");
    let key = key.trim();

    // Every entry joins the log within a second or so.
    let mut whole = String::new();
    for _ in 0..300 {
        let response = http
            .get(format!("{}/export", server.admin_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status(), 200);
        let size = response
            .headers()
            .get("x-tree-size")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        whole = response.text().await.expect("the export");
        if size.as_deref() == Some("8") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(whole.lines().count(), 9, "eight entries and the checkpoint");
    let passkey = http
        .get(format!("{}/export", server.passkey_url()))
        .header("apiKey", KEY)
        .send()
        .await
        .expect("a response")
        .text()
        .await
        .expect("the export");
    assert_eq!(passkey, whole, "both variants export the same bytes");

    let exported = dir.path().join("export.ndjson");
    std::fs::write(&exported, &whole).expect("written");
    let (passed, said) = verify(&exported, key);
    assert!(passed, "{said}");
    assert!(said.contains("verified: 8 entries"), "{said}");

    // The command line writes the same file from the database.
    let written = dir.path().join("cli.ndjson");
    let tenant = DEFAULT_TENANT_ID.to_string();
    let output = auditlog(
        &[
            "export",
            "--tenant",
            &tenant,
            "--output",
            &written.display().to_string(),
        ],
        &db,
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        std::fs::read_to_string(&written).expect("the file"),
        whole,
        "auditlog export and GET .../export write the same export"
    );

    // What a verifier must refuse: an altered entry, and an export without its end.
    let altered = whole.replacen("\"first-1\"", "\"first-9\"", 1);
    assert_ne!(altered, whole);
    std::fs::write(&exported, &altered).expect("written");
    let (passed, said) = verify(&exported, key);
    assert!(!passed, "an altered entry fails: {said}");
    assert!(said.contains("root"), "{said}");
    let lines: Vec<&str> = whole.lines().collect();
    std::fs::write(&exported, lines[..8].join("\n")).expect("written");
    let (passed, said) = verify(&exported, key);
    assert!(!passed, "an unfinished export fails: {said}");
    assert!(said.contains("no checkpoint"), "{said}");
    server.kill().await;
}
