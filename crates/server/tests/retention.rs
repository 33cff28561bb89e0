//! Retention end to end, on the real binary and both backends: `serve` removes expired
//! entries in the background (AUDITLOG_RETENTION_DAYS), a tenant under legal hold keeps
//! them, the API's counts and search follow, a whole export with removed leaves still
//! passes the offline verifier (and fails it once a removal is taken out), and
//! `tenants update`, `purge`, `erase` and `verify` do what they say from the command line;
//! a purge or an erasure killed part way is completed by the next.

mod common;

use std::{path::Path, process::Output, time::Duration};

use auditlog_domain::DEFAULT_TENANT_ID;
use auditlog_tests::{Backend, TestDatabase};
use common::{KEY, Server, client, signing_key_file};
use serde_json::{Value, json};
use uuid::Uuid;

/// Runs `auditlog args...` on `database_url` with the test servers' signing key.
fn auditlog(args: &[&str], database_url: &str) -> Output {
    std::process::Command::new(common::binary())
        .args(args)
        .env("AUDITLOG_DATABASE_URL", database_url)
        .env("AUDITLOG_SIGNING_KEY_FILE", signing_key_file())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

/// What a command printed, after checking it succeeded.
fn succeeded(output: &Output, what: &str) -> String {
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed: {out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Entries of one person: `old` of 2020 (long expired) and `new` of now.
fn entries(tag: &str, old: usize, new: usize) -> Value {
    let one = |i: usize, created_at: Option<&str>| {
        let mut e = json!({
            "type": "login_failure",
            "meta_http_request_id": format!("{tag}-{i}"),
            "meta_source_ip": format!("192.0.2.{}", i + 1),
            "meta_user_agent": "retention-test",
            "actor_email": format!("{tag}@{}.test", if created_at.is_some() { "old" } else { "new" }),
        });
        if let Some(at) = created_at {
            e["created_at"] = json!(at);
        }
        e
    };
    Value::Array(
        (0..old)
            .map(|i| one(i, Some("2020-01-01T00:00:00Z")))
            .chain((old..old + new).map(|i| one(i, None)))
            .collect(),
    )
}

/// `X-Total-Count` of the tenant's list with `query`, through the admin variant
/// (default tenant) or the passkey variant with `key`.
async fn total(server: &Server, tenant: Uuid, key: &str, query: &str) -> u64 {
    let request = if tenant == DEFAULT_TENANT_ID {
        client()
            .get(format!("{}?{query}", server.admin_url()))
            .bearer_auth(key)
    } else {
        client()
            .get(format!("{}/{tenant}/audit_logs?{query}", server.base))
            .header("apiKey", key)
    };
    let response = request.send().await.expect("a response");
    assert_eq!(response.status(), 200);
    response.headers()["x-total-count"]
        .to_str()
        .expect("text")
        .parse()
        .expect("a number")
}

async fn retention_end_to_end(backend: Backend) {
    on_fresh_database(backend, |url| async move { scenario(&url).await }).await;
}

async fn scenario(url: &str) {
    let server = Server::start(
        url,
        &[
            ("AUDITLOG_RETENTION_DAYS", "30"),
            ("AUDITLOG_PURGE_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let http = client();
    // A second tenant under legal hold, with a read-and-write key of its own.
    let held = Uuid::new_v4();
    let held_s = held.to_string();
    succeeded(
        &auditlog(&["tenants", "create", "--id", &held_s], url),
        "tenants create",
    );
    let updated = succeeded(
        &auditlog(&["tenants", "update", &held_s, "--legal-hold", "on"], url),
        "tenants update",
    );
    assert!(updated.contains("legal-hold=on"), "{updated}");
    let created = succeeded(
        &auditlog(
            &[
                "keys",
                "create",
                "--tenant",
                &held_s,
                "--scopes",
                "read,write",
            ],
            url,
        ),
        "keys create",
    );
    let held_key = created
        .split_whitespace()
        .find(|word| word.len() > 30 && !word.contains('-'))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("a secret in {created}"));

    let response = http
        .post(server.admin_url())
        .bearer_auth(KEY)
        .json(&entries("ann", 6, 4))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 201);
    let purged: Vec<Uuid> = response.json::<Vec<Value>>().await.expect("entries")[..6]
        .iter()
        .map(|e| e["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    let response = http
        .post(format!("{}/{held}/audit_logs", server.base))
        .header("apiKey", &held_key)
        .json(&entries("hal", 3, 0))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 201);

    // The background purge takes the six expired entries within seconds.
    let mut left = 0;
    for _ in 0..300 {
        left = total(&server, DEFAULT_TENANT_ID, KEY, "").await;
        if left == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 4, "the expired entries are removed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        total(&server, held, &held_key, "").await,
        3,
        "a legal hold keeps them"
    );
    assert_eq!(
        total(&server, DEFAULT_TENANT_ID, KEY, "q=ann%40old").await,
        0
    );
    assert_eq!(
        total(
            &server,
            DEFAULT_TENANT_ID,
            KEY,
            "actor_email=ann%40old.test"
        )
        .await,
        0
    );
    assert_eq!(
        total(&server, DEFAULT_TENANT_ID, KEY, "q=ann%40new").await,
        4
    );
    let gone = http
        .get(format!("{}/{}", server.admin_url(), purged[0]))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("a response");
    assert_eq!(gone.status(), 404);

    // A whole export still reproduces its checkpoint, the removed leaves by hash.
    let mut whole = String::new();
    for _ in 0..300 {
        let response = http
            .get(format!("{}/export", server.admin_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("a response");
        let size = response.headers()["x-tree-size"]
            .to_str()
            .expect("text")
            .to_owned();
        whole = response.text().await.expect("the export");
        if size == "10" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lines: Vec<&str> = whole.lines().collect();
    assert_eq!(
        lines.len(),
        12,
        "4 entries, 6 removed leaves, 1 removal, 1 checkpoint: {whole}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("{\"removed_leaf\""))
            .count(),
        6
    );
    let key = http
        .get(format!("{}/log-key", server.base))
        .send()
        .await
        .expect("a response")
        .text()
        .await
        .expect("the key");
    let dir = tempfile::tempdir().expect("a directory");
    let file = dir.path().join("export.ndjson");
    let offline = |text: &str| {
        std::fs::write(&file, text).expect("written");
        verify_offline(&file, key.trim())
    };
    let (passed, said) = offline(&whole);
    assert!(passed, "{said}");
    assert!(
        said.contains("4 entries (0 erased), 6 removed leaves and 1 signed removals"),
        "{said}"
    );
    // Without the removal, the removed leaves are deletions.
    let without: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("{\"removal\""))
        .collect();
    let (passed, said) = offline(&without.join("\n"));
    assert!(!passed, "{said}");
    assert!(
        said.contains("no removal signed by the key names it"),
        "{said}"
    );

    // Erasure of the remaining person: the entries stay, marked, in both variants.
    let tenant = DEFAULT_TENANT_ID.to_string();
    let dry = succeeded(
        &auditlog(
            &[
                "erase",
                "--tenant",
                &tenant,
                "--actor-email",
                "ANN@new.test",
                "--dry-run",
            ],
            url,
        ),
        "erase --dry-run",
    );
    assert!(dry.contains("would erase 4 entries"), "{dry}");
    let erased = succeeded(
        &auditlog(
            &[
                "erase",
                "--tenant",
                &tenant,
                "--actor-email",
                "ANN@new.test",
            ],
            url,
        ),
        "erase",
    );
    assert!(erased.contains("erased 4 entries"), "{erased}");
    assert_eq!(total(&server, DEFAULT_TENANT_ID, KEY, "").await, 4);
    assert_eq!(total(&server, DEFAULT_TENANT_ID, KEY, "q=ann%40").await, 0);
    for listed in [
        http.get(server.admin_url()).bearer_auth(KEY),
        http.get(server.passkey_url()).header("apiKey", KEY),
    ] {
        let page: Value = listed
            .send()
            .await
            .expect("a response")
            .json()
            .await
            .expect("json");
        let items = page.as_array().expect("an array");
        assert_eq!(items.len(), 4);
        for item in items {
            assert_eq!(item["meta_source_ip"], "0.0.0.0", "{item}");
            assert!(item.get("actor_email").is_none(), "{item}");
            assert!(
                item["details"]["auditlog_erasure"]["erased_at"].is_string(),
                "{item}"
            );
        }
    }
    let export = http
        .get(format!("{}/export", server.admin_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("a response")
        .text()
        .await
        .expect("the export");
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(
        lines.len(),
        17,
        "4 erased leaves, 4 entries, 6 removed, 2 removals, 1 checkpoint: {export}"
    );
    let (passed, said) = offline(&export);
    assert!(passed, "{said}");
    assert!(
        said.contains("4 entries (4 erased), 6 removed leaves and 2 signed removals"),
        "{said}"
    );
    // An erased entry changed afterwards is not as its erasure left it.
    let changed = export.replacen("\"login_failure\"", "\"login_success\"", 1);
    assert_ne!(changed, export);
    let (passed, said) = offline(&changed);
    assert!(!passed, "{said}");
    assert!(said.contains("not as its signed erasure left it"), "{said}");

    server.kill().await;
    // Online, the removal is reported as such and the log verifies.
    let verified = succeeded(&auditlog(&["verify"], url), "verify");
    assert!(
        verified.contains("6 leaves' entries removed on purpose and 4 entries erased"),
        "{verified}"
    );

    // From the command line: the hold keeps the held tenant's entries until lifted.
    let dry = succeeded(
        &auditlog(&["purge", "--dry-run", "--retention-days", "30"], url),
        "dry run",
    );
    assert!(
        dry.contains(&format!("tenant {held}: legal hold: nothing removed")),
        "{dry}"
    );
    succeeded(
        &auditlog(
            &[
                "tenants",
                "update",
                &held_s,
                "--legal-hold",
                "off",
                "--retention-days",
                "365",
            ],
            url,
        ),
        "tenants update",
    );
    let listed = succeeded(&auditlog(&["tenants", "list"], url), "tenants list");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&held_s) && l.contains("retention=365d\tlegal-hold=off")),
        "{listed}"
    );
    let dry = succeeded(&auditlog(&["purge", "--dry-run"], url), "dry run");
    assert!(
        dry.contains(&format!(
            "tenant {held}: would remove 3 entries (retention 365 days"
        )),
        "{dry}"
    );
    let done = succeeded(&auditlog(&["purge"], url), "purge");
    assert!(
        done.contains(&format!("tenant {held}: removed 3 entries")),
        "{done}"
    );
    let verified = succeeded(&auditlog(&["verify", "--tenant", &held_s], url), "verify");
    assert!(
        verified.contains("verified") && verified.contains("3 leaves' entries removed"),
        "{verified}"
    );
    let refused = auditlog(
        &["tenants", "update", &held_s, "--retention-days", "0"],
        url,
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("number of days"),
        "{refused:?}"
    );
}

/// `auditlog verify --entries FILE --key KEY`, offline: whether it passed, and what it
/// said.
fn verify_offline(file: &Path, key: &str) -> (bool, String) {
    let output = auditlog(
        &[
            "verify",
            "--entries",
            &file.display().to_string(),
            "--key",
            key,
        ],
        "sqlite:///nonexistent/none.db",
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_legal_hold_and_verification_end_to_end_sqlite() {
    retention_end_to_end(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_legal_hold_and_verification_end_to_end_postgres() {
    retention_end_to_end(Backend::Postgres).await;
}

/// The number that `sql` (a `SELECT ... AS n` of the test's own, with `$1` or `?` for
/// `value` as the backend writes it) counts.
async fn count(url: &str, sql: &str, value: Option<&str>) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.expect("the database");
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace("$1", "?"),
    };
    let values: Vec<sea_orm::Value> = value.map(Into::into).into_iter().collect();
    let n = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("count")
        .expect("a row")
        .try_get("", "n")
        .expect("n");
    let _ = db.close().await;
    n
}

/// The entries that the recorded removals (or erasures) name, all together.
async fn removed_entries(url: &str) -> i64 {
    count(
        url,
        "SELECT CAST(COALESCE(SUM(entries), 0) AS BIGINT) AS n FROM audit_log_removals",
        None,
    )
    .await
}

/// The number of rows of `table` (no input in the SQL: the names are the test's own).
async fn rows(url: &str, table: &str) -> i64 {
    count(url, &format!("SELECT COUNT(*) AS n FROM {table}"), None).await
}

/// Runs `auditlog args...` and kills it (SIGKILL) once it has committed `batches`
/// removals or erasures, checking that it was still running then.
async fn kill_after(args: &[&str], url: &str, batches: i64) {
    let mut child = std::process::Command::new(common::binary())
        .args(args)
        .env("AUDITLOG_DATABASE_URL", url)
        .env("AUDITLOG_SIGNING_KEY_FILE", signing_key_file())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the command starts");
    let mut committed = 0;
    for _ in 0..30_000 {
        committed = rows(url, "audit_log_removals").await;
        if committed >= batches {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(committed >= batches, "{args:?} commits batches");
    assert!(
        child.try_wait().expect("status").is_none(),
        "{args:?} is still running when killed (make the log larger)"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// Runs `body` on a fresh database of `backend`, which is dropped afterwards, also
/// when `body` fails.
async fn on_fresh_database<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let db = TestDatabase::create(backend).await;
    let outcome = tokio::spawn(body(db.url.clone())).await;
    db.drop_database().await;
    if let Err(err) = outcome
        && err.is_panic()
    {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// A purge killed (SIGKILL) between its batches leaves the store consistent: `verify`
/// passes with what was removed so far, and running the purge again completes it.
async fn a_killed_purge_is_completed_by_the_next(backend: Backend) {
    on_fresh_database(backend, |url| async move {
        const ENTRIES: u64 = 20_000;
        let url = url.as_str();
        succeeded(&auditlog(&["migrate"], url), "migrate");
        let count = ENTRIES.to_string();
        succeeded(
            &auditlog(
                &[
                    "seed",
                    "--count",
                    &count,
                    "--end",
                    "2020-06-01T00:00:00Z",
                    "--seed",
                    "3",
                ],
                url,
            ),
            "seed",
        );
        // The server takes the loaded entries into the log; nothing expires there.
        let server = Server::start(url, &[]).await;
        let mut size = 0;
        for _ in 0..1200 {
            let note = client()
                .get(format!("{}/checkpoint", server.admin_url()))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("a response")
                .text()
                .await
                .expect("the note");
            size = note
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or(0u64);
            if size == ENTRIES {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(size, ENTRIES, "every entry joins the log");
        server.kill().await;

        kill_after(&["purge", "--retention-days", "30"], url, 3).await;

        let removals = rows(url, "audit_log_removals").await;
        let removed = removed_entries(url).await;
        let left = rows(url, "audit_logs").await;
        assert!(
            removals >= 3 && left > 0,
            "killed part way: {removals} removals, {left} left"
        );
        assert_eq!(
            left,
            ENTRIES as i64 - removed,
            "every committed removal is whole, the one in flight left nothing"
        );
        let verified = succeeded(&auditlog(&["verify"], url), "verify after the kill");
        assert!(
            verified.contains(&format!("{removed} leaves' entries removed")),
            "{verified}"
        );
        let done = succeeded(
            &auditlog(&["purge", "--retention-days", "30"], url),
            "purge again",
        );
        assert!(done.contains(&format!("removed {left} entries")), "{done}");
        assert_eq!(rows(url, "audit_logs").await, 0);
        let verified = succeeded(&auditlog(&["verify"], url), "verify after the rerun");
        assert!(
            verified.contains(&format!("{ENTRIES} leaves' entries removed")),
            "{verified}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_purge_is_completed_by_the_next_sqlite() {
    a_killed_purge_is_completed_by_the_next(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_purge_is_completed_by_the_next_postgres() {
    a_killed_purge_is_completed_by_the_next(Backend::Postgres).await;
}

/// The number of the default tenant's entries with this e-mail address.
async fn entries_of(url: &str, email: &str) -> i64 {
    count(
        url,
        "SELECT COUNT(*) AS n FROM audit_logs WHERE actor_email_ci = $1",
        Some(email),
    )
    .await
}

/// An erasure killed (SIGKILL) between its batches leaves whole erasures only: `verify`
/// passes with the entries erased so far, and erasing again completes it.
async fn a_killed_erasure_is_completed_by_the_next(backend: Backend) {
    on_fresh_database(backend, |url| async move {
        const ENTRIES: usize = 40_000;
        let url = url.as_str();
        let server = Server::start(url, &[]).await;
        let http = client();
        let one: Value = json!({
            "type": "login_success",
            "meta_http_request_id": "r",
            "meta_source_ip": "203.0.113.7",
            "meta_user_agent": "erasure-test",
            "actor_email": "eve@load.test",
        });
        for _ in 0..ENTRIES / 500 {
            let response = http
                .post(server.admin_url())
                .bearer_auth(KEY)
                .json(&Value::Array(vec![one.clone(); 500]))
                .send()
                .await
                .expect("a response");
            assert_eq!(response.status(), 201);
        }
        server.kill().await;
        let tenant = DEFAULT_TENANT_ID.to_string();
        kill_after(
            &[
                "erase",
                "--tenant",
                &tenant,
                "--actor-email",
                "eve@load.test",
            ],
            url,
            2,
        )
        .await;

        let erased = removed_entries(url).await;
        let left = entries_of(url, "eve@load.test").await;
        assert_eq!(
            left,
            ENTRIES as i64 - erased,
            "every committed erasure is whole, the one in flight left nothing"
        );
        assert!(left > 0, "killed part way");
        let verified = succeeded(&auditlog(&["verify"], url), "verify after the kill");
        assert!(
            verified.contains(&format!("{erased} entries erased")),
            "{verified}"
        );
        let done = succeeded(
            &auditlog(
                &[
                    "erase",
                    "--tenant",
                    &tenant,
                    "--actor-email",
                    "eve@load.test",
                ],
                url,
            ),
            "erase again",
        );
        assert!(done.contains(&format!("erased {left} entries")), "{done}");
        assert_eq!(entries_of(url, "eve@load.test").await, 0);
        assert_eq!(
            rows(url, "audit_logs").await,
            ENTRIES as i64,
            "erased entries stay"
        );
        let verified = succeeded(&auditlog(&["verify"], url), "verify after the rerun");
        assert!(
            verified.contains(&format!("{ENTRIES} entries erased")),
            "{verified}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_erasure_is_completed_by_the_next_sqlite() {
    a_killed_erasure_is_completed_by_the_next(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_erasure_is_completed_by_the_next_postgres() {
    a_killed_erasure_is_completed_by_the_next(Backend::Postgres).await;
}
