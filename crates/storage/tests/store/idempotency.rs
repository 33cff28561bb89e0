//! Idempotency: the same id again, in one batch, and from concurrent tasks.

use auditlog_domain::{AuditLogFilter, AuditLogStore, StoreError};
use auditlog_storage::SeaOrmStore;
use uuid::Uuid;

use crate::common::{entry, entry_with_id, filter, list_all, numbered};

pub async fn same_id_and_content_is_stored_once(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let e = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
    let first = store.append(tenant, vec![e.clone()]).await.expect("append");
    let other = entry("10.0.0.2", "2024-01-01T00:00:01Z");
    let second = store
        .append(tenant, vec![other, e])
        .await
        .expect("idempotent");
    assert_eq!(second[1], first[0], "the stored entry, updated_at included");
    assert_eq!(list_all(&store, tenant).await.total, 2);
}

pub async fn same_id_other_content_conflicts_and_changes_nothing(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let id = Uuid::new_v4();
    let e = entry_with_id(id, "10.0.0.1", "2024-01-01T00:00:00Z");
    let first = store.append(tenant, vec![e.clone()]).await.expect("append");
    let mut changed = e.clone();
    changed.meta_user_agent = "other-agent".into();
    let fresh = entry("10.0.0.9", "2024-01-02T00:00:00Z");
    let err = store
        .append(tenant, vec![fresh, changed])
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, StoreError::Conflict { id: i, index: 1, other_index: None } if i == id),
        "{err:?}"
    );
    let listed = list_all(&store, tenant).await;
    assert_eq!(
        listed.items, first,
        "nothing of the refused batch is stored"
    );
    // Another tenant may use the same id with any content.
    let mut elsewhere = e;
    elsewhere.meta_user_agent = "other-agent".into();
    store
        .append(Uuid::new_v4(), vec![elsewhere])
        .await
        .expect("no conflict across tenants");
}

pub async fn retry_without_created_at_matches_the_stored_entry(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let mut e = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
    e.created_at = None;
    e.actor_email = Some("a@b.c".into());
    let first = store.append(tenant, vec![e.clone()]).await.expect("append");
    let again = store.append(tenant, vec![e.clone()]).await.expect("retry");
    assert_eq!(again, first);
    // Leaving a stored optional field out of a resend is a difference, as is another
    // value: a resend learns nothing it did not send.
    let mut fewer = e.clone();
    fewer.actor_email = None;
    assert!(matches!(
        store.append(tenant, vec![fewer]).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut other = e;
    other.actor_email = Some("x@b.c".into());
    assert!(matches!(
        store.append(tenant, vec![other]).await,
        Err(StoreError::Conflict { .. })
    ));
}

pub async fn a_resend_without_a_chosen_created_at_conflicts(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    // The producer chose the time: a resend that leaves it out would learn it.
    let e = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
    let first = store.append(tenant, vec![e.clone()]).await.expect("append");
    let mut without = e.clone();
    without.created_at = None;
    assert!(matches!(
        store.append(tenant, vec![without]).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.append(tenant, vec![e]).await.expect("retry"), first);
}

pub async fn duplicate_ids_in_one_batch(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let id = Uuid::new_v4();
    let e = entry_with_id(id, "10.0.0.1", "2024-01-01T00:00:00Z");
    let other = entry("10.0.0.2", "2024-01-01T00:00:00Z");
    let stored = store
        .append(tenant, vec![e.clone(), other, e.clone()])
        .await
        .expect("identical twice");
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0], stored[2]);
    assert_eq!(list_all(&store, tenant).await.total, 2);

    let tenant = Uuid::new_v4();
    let mut changed = e.clone();
    changed.meta_http_request_id = "req-2".into();
    let err = store
        .append(
            tenant,
            vec![e, entry("10.0.0.3", "2024-01-01T00:00:00Z"), changed],
        )
        .await;
    assert!(
        matches!(err, Err(StoreError::Conflict { id: i, index: 2, other_index: Some(0) }) if i == id),
        "{err:?}"
    );
    assert_eq!(list_all(&store, tenant).await.total, 0);
}

pub async fn concurrent_appends_of_one_id_store_it_once(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let e = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, e) = (store.clone(), e.clone());
            let other = numbered(entry("10.0.0.2", "2024-01-01T00:00:00Z"), i);
            tokio::spawn(async move { store.append(tenant, vec![other, e]).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task").expect("every append succeeds")[1].clone());
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "all see the one stored entry"
    );
    let listed = store
        .list(tenant, &filter(&[("meta_source_ip", "10.0.0.1")]))
        .await
        .expect("list");
    assert_eq!(listed.total, 1);
    assert_eq!(
        store
            .list(tenant, &AuditLogFilter::default())
            .await
            .expect("list")
            .total,
        9
    );
}

pub async fn concurrent_batches_sharing_ids_in_opposite_orders_all_succeed(store: SeaOrmStore) {
    // Batches large enough to overlap in time; a few rounds, as overlaps are by chance.
    for _round in 0..3 {
        let tenant = Uuid::new_v4();
        let shared: Vec<_> = (0..400)
            .map(|i| {
                numbered(
                    entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z"),
                    i,
                )
            })
            .collect();
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let store = store.clone();
                let mut batch = shared.clone();
                if task % 2 == 1 {
                    batch.reverse();
                }
                tokio::spawn(async move { store.append(tenant, batch).await })
            })
            .collect();
        for task in tasks {
            let stored = task.await.expect("task").expect("no deadlock, no conflict");
            assert_eq!(stored.len(), shared.len());
        }
        assert_eq!(list_all(&store, tenant).await.total, 400);
    }
}
