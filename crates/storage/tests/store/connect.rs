//! Connecting: URLs, SQLite's pragmas on every pooled connection, and errors.

use std::time::Duration;

use auditlog_domain::{AuditLogFilter, AuditLogStore, StoreError};
use auditlog_storage::{SeaOrmStore, StoreOptions};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};
use uuid::Uuid;

use crate::common::entry;

async fn pragma(txn: &DatabaseTransaction, name: &str) -> String {
    let row = txn
        .query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            format!("PRAGMA {name}"),
        ))
        .await
        .expect("pragma")
        .expect("a row");
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
        .expect("a value")
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_file_and_its_wal_are_its_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|err| panic!("{name}: {err}"))
            .permissions()
            .mode()
            & 0o777
    };
    for name in ["a.db", "b.db"] {
        let path = dir.path().join(name).display().to_string();
        let url = if name == "a.db" {
            format!("sqlite://{path}")
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        let store = SeaOrmStore::connect(&url, StoreOptions::default())
            .await
            .expect("connect");
        store
            .append(
                Uuid::new_v4(),
                vec![entry("10.0.0.1", "2026-01-01T00:00:00Z")],
            )
            .await
            .expect("a write, so that the WAL exists");
        // While the store is open: SQLite removes the WAL when the last connection
        // closes.
        assert_eq!(mode(name), 0o600, "{name}");
        assert_eq!(mode(&format!("{name}-wal")), 0o600, "{name}-wal");
    }
    // An existing file keeps the permissions its owner gave it.
    let shared = dir.path().join("shared.db");
    std::fs::write(&shared, b"").expect("an empty file");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    SeaOrmStore::connect(
        &format!("sqlite://{}", shared.display()),
        StoreOptions::default(),
    )
    .await
    .expect("connect");
    assert_eq!(mode("shared.db"), 0o640);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_pragmas_apply_to_every_pooled_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("pragmas.db").display());
    let options = StoreOptions {
        max_connections: 4,
        ..StoreOptions::default()
    };
    let store = SeaOrmStore::connect(&url, options).await.expect("connect");
    // Four open transactions hold four distinct connections of the pool.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(store.connection().begin().await.expect("begin"));
    }
    for txn in &held {
        assert_eq!(pragma(txn, "journal_mode").await, "wal");
        assert_eq!(pragma(txn, "synchronous").await, "2", "FULL");
        assert_eq!(pragma(txn, "busy_timeout").await, "5000");
        // The checkpointer copies the WAL; a write does only past 10,000 pages.
        assert_eq!(pragma(txn, "wal_autocheckpoint").await, "10000");
    }
    drop(held);
    store.close().await.expect("close");
}

#[tokio::test]
async fn sqlite_urls_create_the_file_unless_the_mode_says_otherwise() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (file, query) in [("plain.db", ""), ("rwc.db", "?mode=rwc")] {
        let path = dir.path().join(file);
        let store = SeaOrmStore::connect(
            &format!("sqlite://{}{query}", path.display()),
            StoreOptions::default(),
        )
        .await
        .expect("connect");
        assert!(path.exists(), "{file} is created");
        store.close().await.expect("close");
    }
    let missing = dir.path().join("missing.db");
    let refused = SeaOrmStore::connect(
        &format!("sqlite://{}?mode=rw", missing.display()),
        StoreOptions::default(),
    )
    .await;
    assert!(refused.is_err(), "mode=rw does not create a file");
    assert!(!missing.exists());
}

#[tokio::test]
async fn sqlite_in_memory_database_works() {
    let store = SeaOrmStore::connect("sqlite::memory:", StoreOptions::default())
        .await
        .expect("connect");
    let tenant = Uuid::new_v4();
    let stored = store
        .append(tenant, vec![entry("10.0.0.1", "2024-01-01T00:00:00Z")])
        .await
        .expect("append");
    let page = store
        .list(tenant, &AuditLogFilter::default())
        .await
        .expect("list");
    assert_eq!(page.items, stored);
}

#[tokio::test]
async fn unsupported_scheme_is_refused() {
    let err = SeaOrmStore::connect("mysql://root:hunter2@localhost/db", StoreOptions::default())
        .await
        .expect_err("mysql is not supported");
    assert!(
        matches!(&err, StoreError::Backend(message) if !message.contains("hunter2")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_and_hides_the_password() {
    let options = StoreOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(2),
    };
    let err = SeaOrmStore::connect("postgres://auditlog:hunter2@127.0.0.1:1/auditlog", options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(&err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_plans_every_query_for_its_values_on_every_pooled_connection() {
    crate::common::run(crate::common::Backend::Postgres, |store| async move {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(store.connection().begin().await.expect("begin"));
        }
        for txn in &held {
            let row = txn
                .query_one_raw(Statement::from_string(
                    txn.get_database_backend(),
                    "SHOW plan_cache_mode",
                ))
                .await
                .expect("show")
                .expect("a row");
            let mode: String = row.try_get_by_index(0).expect("a value");
            assert_eq!(mode, "force_custom_plan");
        }
    })
    .await;
}
