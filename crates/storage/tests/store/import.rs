//! Bulk loading: into an empty store (indexes, counts and terms built at the end) and
//! into one that holds entries (a transaction per batch).

use auditlog_domain::{AuditLogStore, AuditLogType, NewAuditLog, StoreError};
use auditlog_storage::SeaOrmStore;
use uuid::Uuid;

use crate::{
    common::{entry, entry_with_id, filter, ids, list_all, numbered},
    filters::{matching, with_type, with_user},
};

/// `n` entries with ids, users, addresses and types that repeat, over a few days.
fn entries(n: usize) -> Vec<NewAuditLog> {
    (0..n)
        .map(|i| {
            let at = format!(
                "2024-01-0{}T{:02}:{:02}:00Z",
                1 + i % 3,
                (i / 60) % 24,
                i % 60
            );
            let ip = format!("10.1.{}.{}", i % 7, 1 + i % 5);
            let user = format!("user-{}", i % 11);
            let email = format!("Person{}@Example.com", i % 13);
            let t = if i % 4 == 0 {
                AuditLogType::LoginFailure
            } else {
                AuditLogType::LoginSuccess
            };
            let e = entry_with_id(Uuid::new_v4(), &ip, &at);
            numbered(with_type(with_user(e, Some(&user), Some(&email)), t), i)
        })
        .collect()
}

pub async fn bulk_import_into_an_empty_store_builds_indexes_counts_and_terms(store: SeaOrmStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (for_a, for_b) = (entries(300), entries(40));
    let mut import = store.bulk_import().await.expect("bulk import");
    assert!(import.rebuilds_indexes(), "the store holds no entries");
    assert_eq!(
        import.add(a, for_a[..250].to_vec()).await.expect("add"),
        250
    );
    assert_eq!(import.add(b, for_b.clone()).await.expect("add"), 40);
    assert_eq!(import.add(a, for_a[250..].to_vec()).await.expect("add"), 50);
    let (stored, times) = import.finish_timed().await.expect("finish");
    assert_eq!(stored, 340);
    let times = times.expect("a load that builds the indexes tells how long it took");
    assert_eq!(
        times.vacuum.is_some(),
        store.connection().get_database_backend() == sea_orm::DbBackend::Postgres,
        "VACUUM ANALYZE follows on PostgreSQL only: {times}"
    );

    // What append would have stored: the same entries, newest first, per tenant.
    let stored_a = store.append(a, for_a.clone()).await.expect("append again");
    let listed = list_all(&store, a).await;
    assert_eq!(listed.total, 300, "the total comes from the daily counts");
    let mut expected = stored_a.clone();
    expected.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
    assert_eq!(
        listed.items, expected,
        "appending the same entries changes nothing"
    );
    assert_eq!(list_all(&store, b).await.total, 40);

    // The search terms, the type index and the deep-page seek all answer.
    let by = |pred: &dyn Fn(&NewAuditLog) -> bool| {
        let chosen: Vec<_> = for_a
            .iter()
            .zip(&stored_a)
            .filter(|(e, _)| pred(e))
            .map(|(_, s)| s.clone())
            .collect();
        crate::common::newest_first(&chosen)
    };
    assert_eq!(
        matching(&store, a, &[("q", "person12@")]).await,
        by(&|e| e.actor_email.as_deref() == Some("Person12@Example.com"))
    );
    assert_eq!(
        matching(&store, a, &[("q", "10.1.3.")]).await,
        by(&|e| e.meta_source_ip.to_string().starts_with("10.1.3."))
    );
    assert_eq!(
        matching(&store, a, &[("type", "login_failure")]).await,
        by(&|e| e.r#type == AuditLogType::LoginFailure)
    );
    let deep = store
        .list(a, &filter(&[("page", "5"), ("per_page", "60")]))
        .await
        .expect("list");
    assert_eq!(ids(&deep), ids(&listed)[240..300].to_vec());

    // The primary key is back: another content under a stored id is refused.
    let mut changed = for_a[7].clone();
    changed.meta_user_agent = "other-agent".into();
    let err = store.append(a, vec![changed]).await.expect_err("conflict");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

pub async fn bulk_import_into_a_store_with_entries_adds_batch_by_batch(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let all = entries(30);
    store
        .append(tenant, all[..10].to_vec())
        .await
        .expect("append");
    let mut import = store.bulk_import().await.expect("bulk import");
    assert!(!import.rebuilds_indexes(), "the store holds entries");
    // Ids already stored are skipped.
    assert_eq!(
        import.add(tenant, all[5..20].to_vec()).await.expect("add"),
        10
    );
    assert_eq!(
        import.add(tenant, all[20..].to_vec()).await.expect("add"),
        10
    );
    let (stored, times) = import.finish_timed().await.expect("finish");
    assert_eq!(stored, 20);
    assert!(times.is_none(), "nothing was built: {times:?}");
    assert_eq!(list_all(&store, tenant).await.total, 30);
    // user-10 is the user of entries 10 and 21.
    assert_eq!(matching(&store, tenant, &[("q", "user-10")]).await.len(), 2);
}

pub async fn bulk_import_refusing_an_entry_leaves_the_store_empty(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let mut import = store.bulk_import().await.expect("bulk import");
    import.add(tenant, entries(20)).await.expect("add");
    let mut bad = entries(3);
    bad[1].meta_http_request_id = "r".repeat(100_000);
    let err = import.add(tenant, bad).await.expect_err("invalid");
    assert!(
        matches!(err, StoreError::InvalidEntry { index: 1, .. }),
        "{err:?}"
    );
    drop(import);

    assert_eq!(list_all(&store, tenant).await.total, 0, "nothing is stored");
    // The indexes and the primary key were never lost.
    let e = entry_with_id(Uuid::new_v4(), "10.9.9.9", "2024-02-01T00:00:00Z");
    store.append(tenant, vec![e.clone()]).await.expect("append");
    let mut changed = e;
    changed.meta_user_agent = "other-agent".into();
    let err = store
        .append(tenant, vec![changed])
        .await
        .expect_err("conflict");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(matching(&store, tenant, &[("q", "10.9.9")]).await.len(), 1);
}

pub async fn bulk_import_of_one_id_twice_stores_nothing(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let id = Uuid::new_v4();
    let mut import = store.bulk_import().await.expect("bulk import");
    import
        .add(
            tenant,
            vec![entry_with_id(id, "10.0.0.1", "2024-01-01T00:00:00Z")],
        )
        .await
        .expect("add");
    // SQLite refuses the second at once (its primary key stays); PostgreSQL when the
    // key is built again at the end.
    let refused = match import
        .add(
            tenant,
            vec![entry_with_id(id, "10.0.0.2", "2024-01-01T00:00:01Z")],
        )
        .await
    {
        Err(err) => Some(err),
        Ok(_) => import.finish().await.err(),
    };
    assert!(refused.is_some(), "an id given twice fails the load");
    assert_eq!(list_all(&store, tenant).await.total, 0, "nothing is stored");
    store
        .append(tenant, vec![entry("10.0.0.3", "2024-01-01T00:00:02Z")])
        .await
        .expect("the store still takes entries");
    assert_eq!(list_all(&store, tenant).await.total, 1);
}

pub async fn search_finds_what_is_written_after_another_writer_reloads_the_store(
    store: SeaOrmStore,
) {
    use sea_orm::ConnectionTrait;

    let tenant = Uuid::new_v4();
    let alice = |at: &str| with_user(entry("10.9.0.1", at), Some("alice"), Some("alice@x.io"));
    // This writer has stored (and, where it can, remembers) alice's values.
    store
        .append(tenant, vec![alice("2024-01-01T00:00:00Z")])
        .await
        .expect("append");

    // Meanwhile the entries are removed outside auditlog, and another writer loads
    // the empty store afresh, with other values: the search terms go with them.
    let db = store.connection();
    crate::common::delete_all_entries_bypassing_the_log(db).await;
    db.execute_unprepared("DELETE FROM audit_log_counts")
        .await
        .expect("delete");
    let other = SeaOrmStore::from_connection(db.clone());
    let mut import = other.bulk_import().await.expect("bulk import");
    assert!(import.rebuilds_indexes(), "the store holds no entries");
    import.add(tenant, entries(20)).await.expect("add");
    import.finish().await.expect("finish");
    assert!(matching(&store, tenant, &[("q", "alice")]).await.is_empty());

    // The first writer stores alice again: her values are searchable again.
    let stored = store
        .append(tenant, vec![alice("2024-01-05T00:00:00Z")])
        .await
        .expect("append");
    let id = vec![stored[0].id];
    for q in ["alice", "lice@x", "10.9.0.1", "9.0.1"] {
        assert_eq!(matching(&store, tenant, &[("q", q)]).await, id, "q={q}");
    }
}
