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
        prefix == "chosen",
        "nothing of the secret or its hash, without '...': {line}"
    );
    assert!(!listed.contains("bootstrap-se"), "{listed}");
}

#[test]
fn a_key_made_to_expire_lists_its_expiry_and_use() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let default = "00000000-0000-0000-0000-000000000001";
    succeeded(&auditlog(&db, &["migrate"], &[]), "migrate");
    let made = auditlog(
        &db,
        &[
            "keys",
            "create",
            "--tenant",
            default,
            "--expires-in",
            "90d",
            "--name",
            "ci",
        ],
        &[],
    );
    let secret = succeeded(&made, "keys create --expires-in 90d");
    assert!(secret.trim().starts_with("alk_"), "{secret}");
    let said = String::from_utf8_lossy(&made.stderr);
    assert!(said.contains("expiring at "), "{said}");
    succeeded(
        &auditlog(
            &db,
            &["keys", "create", "--tenant", default, "--name", "forever"],
            &[],
        ),
        "keys create",
    );

    let listed = succeeded(&auditlog(&db, &["keys", "list"], &[]), "keys list");
    let header: Vec<&str> = listed
        .lines()
        .next()
        .expect("a header")
        .split('\t')
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "tenant",
            "prefix",
            "scopes",
            "status",
            "expires",
            "last_used",
            "name"
        ]
    );
    let row = |name: &str| -> Vec<String> {
        listed
            .lines()
            .find(|line| line.ends_with(&format!("\t{name}")))
            .unwrap_or_else(|| panic!("{name} is listed: {listed}"))
            .split('\t')
            .map(str::to_owned)
            .collect()
    };
    let ci = row("ci");
    assert_eq!(ci[4], "active");
    assert_eq!(ci[6], "never", "not used yet");
    let expires =
        time::OffsetDateTime::parse(&ci[5], &time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 expiry");
    let in_days = (expires - time::OffsetDateTime::now_utc()).whole_hours() as f64 / 24.0;
    assert!((89.9..=90.0).contains(&in_days), "{in_days} days: {ci:?}");
    assert_eq!(row("forever")[5], "never");

    for (bad, says) in [
        ("banana", "banana"),
        ("0s", "longer than 0s"),
        ("100000y", "too far off"),
    ] {
        let refused = auditlog(
            &db,
            &["keys", "create", "--tenant", default, "--expires-in", bad],
            &[],
        );
        assert!(!refused.status.success(), "--expires-in {bad} is refused");
        let said = String::from_utf8_lossy(&refused.stderr);
        let first = said.lines().next().unwrap_or_default();
        assert!(first.contains(says), "--expires-in {bad}: {said}");
        assert!(!said.contains("backtrace"), "{said}");
    }
}

/// `serve` on `db` with the bootstrap secret `secret`, until it listens; the child and
/// its address.
fn serve_with_bootstrap(
    db: &str,
    dir: &std::path::Path,
    secret: &str,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .arg("serve")
        .env("AUDITLOG_DATABASE_URL", db)
        .env("AUDITLOG_LISTEN", "127.0.0.1:0")
        .env("AUDITLOG_BOOTSTRAP_API_KEY", secret)
        .env("AUDITLOG_SIGNING_KEY_FILE", dir.join("signing.key"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut lines = stderr.lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("auditlog is serving at http://")
                .nth(1)
                .map(|rest| rest.trim().to_owned())
        })
        .expect("it listens");
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

/// The status of `GET /admin/audit_logs` with `key` at `address`.
fn admin_status(address: &str, key: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    write!(
        stream,
        "GET /admin/audit_logs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\nconnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {answer}"))
}

#[test]
fn a_changed_bootstrap_secret_revokes_the_one_it_replaced() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let (first, second) = ("bootstrap-secret-number-one", "bootstrap-secret-number-two");
    // A key someone made and named `bootstrap` themselves is no bootstrap key.
    succeeded(&auditlog(&db, &["migrate"], &[]), "migrate");
    succeeded(
        &auditlog(
            &db,
            &[
                "keys",
                "create",
                "--tenant",
                "00000000-0000-0000-0000-000000000001",
                "--name",
                "bootstrap",
            ],
            &[],
        ),
        "a generated key named bootstrap",
    );

    let (mut serve, address) = serve_with_bootstrap(&db, dir.path(), first);
    assert_eq!(admin_status(&address, first), 200);
    let _ = serve.kill();
    let _ = serve.wait();

    let (mut serve, address) = serve_with_bootstrap(&db, dir.path(), second);
    assert_eq!(admin_status(&address, second), 200);
    assert_eq!(
        admin_status(&address, first),
        401,
        "the replaced secret is revoked"
    );
    let _ = serve.kill();
    let _ = serve.wait();

    let listed = succeeded(&auditlog(&db, &["keys", "list"], &[]), "keys list");
    let statuses: Vec<(String, String)> = listed
        .lines()
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns[2].to_owned(), columns[4].to_owned())
        })
        .collect();
    let chosen: Vec<&str> = statuses
        .iter()
        .filter(|(prefix, _)| prefix == "chosen")
        .map(|(_, status)| status.as_str())
        .collect();
    assert_eq!(chosen, ["revoked", "active"], "{listed}");
    assert!(
        statuses
            .iter()
            .any(|(prefix, status)| prefix.starts_with("alk_") && status == "active"),
        "the generated key named bootstrap stays active: {listed}"
    );
}

#[test]
fn the_access_log_shows_api_and_command_line_reads_after_a_stop() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let default = "00000000-0000-0000-0000-000000000001";
    let secret = "bootstrap-secret-for-access-log";
    let (mut server, address) = serve_with_bootstrap(&db, dir.path(), secret);
    // The bootstrap key holds every scope: it reads entries and the access log.
    assert_eq!(admin_status(&address, secret), 200);
    // SIGTERM: the records of answered reads are written before the process ends.
    let signalled = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    assert!(server.wait().expect("it stops").success());

    let keys = succeeded(&auditlog(&db, &["keys", "list"], &[]), "keys list");
    let bootstrap = keys
        .lines()
        .find(|line| line.ends_with("\tbootstrap"))
        .unwrap_or_else(|| panic!("the bootstrap key is listed: {keys}"));
    assert!(bootstrap.contains("read,write,access_log"), "{bootstrap}");
    let bootstrap_id = bootstrap.split('\t').next().expect("an id");

    let exported = succeeded(
        &auditlog(
            &db,
            &[
                "export",
                "--tenant",
                default,
                "--format",
                "csv",
                "--type",
                "login_success",
            ],
            &[],
        ),
        "export",
    );
    assert_eq!(exported.lines().count(), 1, "a header only: {exported}");

    let table = succeeded(
        &auditlog(&db, &["access-log", "--tenant", default], &[]),
        "access-log",
    );
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows[0],
        ["at", "operation", "key", "returned", "path", "parameters"]
    );
    // Newest first: the export from the command line, then the API's list.
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(
        rows[1][1..5],
        ["export_audit_logs", "cli", "0", "cli"],
        "{table}"
    );
    let parameters: serde_json::Value = serde_json::from_str(rows[1][5]).expect("JSON");
    assert_eq!(
        parameters,
        serde_json::json!({"type": "login_success", "format": "csv"})
    );
    assert_eq!(
        rows[2][1..5],
        ["list_audit_logs", bootstrap_id, "0", "/admin/audit_logs"],
        "{table}"
    );

    // Reading it is a read too; JSON lines carry what the API serves, and the filters
    // hold.
    let lines = succeeded(
        &auditlog(
            &db,
            &[
                "access-log",
                "--tenant",
                default,
                "--json",
                "--operation",
                "list_access_logs",
            ],
            &[],
        ),
        "access-log --json",
    );
    let records: Vec<serde_json::Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(records.len(), 1, "{lines}");
    assert_eq!(records[0]["operation"], "list_access_logs");
    assert_eq!(records[0]["returned"], 2);
    assert!(
        records[0].get("key_id").is_some_and(|k| k.is_null()),
        "{lines}"
    );

    let refused = auditlog(
        &db,
        &["access-log", "--tenant", default, "--operation", "delete"],
        &[],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--operation") && said.contains("list_audit_logs"),
        "{said}"
    );
}
