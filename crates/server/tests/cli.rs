//! The operator's commands, run as the binary: what `migrate` and `seed` leave behind
//! is enough to make keys with, and a chosen bootstrap secret is never listed.

use std::process::{Command, Output};

/// Runs `auditlog args...` on the SQLite file `db`.
fn auditlog(db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .args(args)
        .env("AUDITLOG_DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn keys_can_be_made_for_the_tenants_that_migrate_and_seed_write_to() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let default = "00000000-0000-0000-0000-000000000001";

    succeeded(&auditlog(&db, &["migrate"], &[]), "migrate");
    let secret = succeeded(
        &auditlog(&db, &["keys", "create", "--tenant", default], &[]),
        "a key for the default tenant after migrate",
    );
    assert!(secret.trim().starts_with("alk_"), "{secret}");

    succeeded(
        &auditlog(
            &db,
            &[
                "seed",
                "--count",
                "50",
                "--other-tenants",
                "2",
                "--other-count",
                "10",
                "--seed",
                "7",
            ],
            &[],
        ),
        "seed",
    );
    let tenants = succeeded(&auditlog(&db, &["tenants", "list"], &[]), "tenants list");
    assert_eq!(tenants.lines().count(), 3, "{tenants}");
    for tenant in tenants.lines().filter_map(|line| line.split('\t').next()) {
        succeeded(
            &auditlog(&db, &["keys", "create", "--tenant", tenant], &[]),
            "a key for a seeded tenant",
        );
    }
}

#[test]
fn a_chosen_bootstrap_secret_is_listed_by_hash_only() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    succeeded(&auditlog(&db, &["migrate"], &[]), "migrate");
    // `serve` registers the bootstrap key; it is stopped once it listens.
    let mut serve = Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .arg("serve")
        .env("AUDITLOG_DATABASE_URL", &db)
        .env("AUDITLOG_LISTEN", "127.0.0.1:0")
        .env("AUDITLOG_BOOTSTRAP_API_KEY", "bootstrap-secret-0123456789")
        .env("AUDITLOG_SIGNING_KEY_FILE", dir.path().join("signing.key"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = succeeded(&auditlog(&db, &["keys", "list"], &[]), "keys list");
        if listed.contains("bootstrap") || started.elapsed().as_secs() > 30 {
            break listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = serve.kill();
    let _ = serve.wait();
    let line = listed
        .lines()
        .find(|line| line.ends_with("\tbootstrap"))
        .unwrap_or_else(|| panic!("the bootstrap key is listed: {listed}"));
    let prefix = line.split('\t').nth(2).expect("a prefix column");
    assert!(
        prefix.len() == 15 && prefix.starts_with("sha256:"),
        "the hash's digits, without '...': {line}"
    );
    assert!(!listed.contains("bootstrap-se"), "{listed}");
}
