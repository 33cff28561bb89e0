//! A Python client that `openapi-python-client` generates from the served
//! `/openapi.json` pages through a listing by cursor, unedited, in both variants: every
//! entry seen exactly once, in the list's order. The generator and Python come from the
//! project's virtual environment (`target/venv`, which `make test` installs from
//! `tools/requirements.txt`).

use std::{path::PathBuf, process::Output};

use auditlog_domain::{AuditLogFilter, AuditLogStore, AuditLogType, NewAuditLog};
use auditlog_tests::{TestApp, backend_test};
use time::{Duration, OffsetDateTime};

/// The project's virtual environment, or a panic that says how to make it.
fn venv() -> PathBuf {
    let venv = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/venv"));
    assert!(
        venv.join("bin/openapi-python-client").is_file(),
        "{} lacks openapi-python-client: run `make target/venv/.installed` (`make test` does)",
        venv.display()
    );
    venv
}

/// Runs `program` with the virtual environment's tools first on the PATH (the
/// generator formats its output with the `ruff` installed beside it).
async fn run(venv: &std::path::Path, program: &str, args: &[&str]) -> Output {
    let path = std::env::var("PATH").unwrap_or_default();
    let output = tokio::process::Command::new(venv.join("bin").join(program))
        .args(args)
        .env("PATH", format!("{}:{path}", venv.join("bin").display()))
        .output()
        .await
        .expect("the program runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {stderr}"
    );
    output
}

/// Stores `count` entries, three to a `created_at`, so that pages also end between
/// entries of the same time, where only the id orders them.
async fn store_entries_with_ties(app: &TestApp, count: usize) {
    let now = OffsetDateTime::now_utc();
    let entries = (0..count)
        .map(|i| {
            let mut entry = NewAuditLog::new(
                AuditLogType::LoginSuccess,
                format!("r{i}"),
                "192.0.2.1".parse().expect("an address"),
                "generated client",
            );
            entry.created_at = Some(now - Duration::seconds(i as i64 / 3 + 1));
            entry
        })
        .collect();
    app.store
        .append(app.tenant, entries)
        .await
        .expect("entries stored");
}

backend_test!(
    a_generated_python_client_walks_every_page_by_cursor,
    |app| {
        let venv = venv();
        store_entries_with_ties(&app, 47).await;
        let all = AuditLogFilter::from_query_pairs([("per_page", "1000")]).expect("a filter");
        let expected: Vec<String> = app
            .store
            .list(app.tenant, &all)
            .await
            .expect("the entries")
            .items
            .iter()
            .map(|entry| entry.id.to_string())
            .collect();
        assert_eq!(expected.len(), 47);

        let dir = tempfile::tempdir().expect("a temporary directory");
        let document = app
            .client
            .get(format!("{}/openapi.json", app.base))
            .send()
            .await
            .expect("a response")
            .text()
            .await
            .expect("the document");
        let document_path = dir.path().join("openapi.json");
        std::fs::write(&document_path, document).expect("written");
        let package = dir.path().join("auditlog_client");
        run(
            &venv,
            "openapi-python-client",
            &[
                "generate",
                "--path",
                &document_path.to_string_lossy(),
                "--output-path",
                &package.to_string_lossy(),
                "--meta",
                "none",
            ],
        )
        .await;

        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/walk_by_cursor.py");
        let tenant = app.tenant.to_string();
        let parent = dir.path().to_string_lossy().into_owned();
        for variant in ["passkey", "admin"] {
            let output = run(
                &venv,
                "python",
                &[
                    script,
                    &parent,
                    &app.base,
                    &app.read_key,
                    &tenant,
                    variant,
                    "10",
                ],
            )
            .await;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let (walk, ids) = stdout.trim_end().rsplit_once('\n').unwrap_or_default();
            // The walk, for whoever reads the test's output (`--no-capture`).
            println!("{walk}");
            let seen: Vec<String> =
                serde_json::from_str(ids).expect("the ids seen, as a JSON array on the last line");
            assert_eq!(
                seen, expected,
                "{variant}: every entry once, in the list's order"
            );
            assert!(
                walk.contains(&format!("{variant} page 5: 7 entries")),
                "{walk}"
            );
        }
    }
);
