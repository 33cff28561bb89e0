//! Recording: what is stored, how it round-trips, atomicity, and tenants.

use auditlog_domain::{
    AuditLogFilter, AuditLogStore, AuditLogType, NewAuditLog, StoreError, limits::MAX_EXACT_INTEGER,
};
use auditlog_storage::{SeaOrmStore, append_in};
use sea_orm::TransactionTrait;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::{at, entry, entry_with_id, filter, ids, ip, list_all, numbered};

pub async fn append_returns_stored_entries_in_order(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let before = OffsetDateTime::now_utc() - Duration::seconds(1);
    let mut full = entry_with_id(
        Uuid::new_v4(),
        "::ffff:10.0.0.1",
        "2024-05-01T12:00:00.123456Z",
    );
    full.r#type = AuditLogType::PasskeyCreated;
    full.error = Some("boom".into());
    full.actor_user_id = Some("User-1".into());
    full.actor_email = Some("User@Example.COM".into());
    let mut without_time = entry("2001:DB8::1", "2024-05-01T12:00:00Z");
    without_time.created_at = None;
    let stored = store
        .append(tenant, vec![full.clone(), without_time])
        .await
        .expect("append");

    assert_eq!(stored.len(), 2);
    let (first, second) = (&stored[0], &stored[1]);
    assert_eq!(first.id, full.id.expect("id"));
    assert_eq!(first.tenant_id, tenant);
    assert_eq!(first.r#type, AuditLogType::PasskeyCreated);
    assert_eq!(first.error.as_deref(), Some("boom"));
    assert_eq!(
        first.meta_source_ip,
        ip("10.0.0.1"),
        "stored in canonical form"
    );
    assert_eq!(
        first.actor_email.as_deref(),
        Some("User@Example.COM"),
        "kept as sent"
    );
    assert_eq!(first.created_at, at("2024-05-01T12:00:00.123456Z"));
    assert!(first.updated_at >= before);
    assert_eq!(second.meta_source_ip.to_string(), "2001:db8::1");
    assert!(
        second.created_at >= before,
        "created_at defaults to the time of receipt"
    );
    assert_eq!(second.created_at, second.updated_at);

    let listed = list_all(&store, tenant).await;
    assert_eq!(listed.total, 2);
    let mut expected = stored.clone();
    expected.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
    assert_eq!(
        listed.items, expected,
        "what append answers is what list answers"
    );
}

pub async fn empty_batch_stores_nothing(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    assert!(
        store
            .append(tenant, Vec::new())
            .await
            .expect("append")
            .is_empty()
    );
    assert_eq!(list_all(&store, tenant).await.total, 0);
}

pub async fn timestamps_round_trip_to_the_microsecond(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let times = [
        "2024-02-29T23:59:59.999999Z",
        "2024-01-01T00:00:00.000001Z",
        "1969-12-31T23:59:59.999999Z",
        "1970-01-01T00:00:00Z",
        "2024-06-01T14:00:00.5+02:00",
    ];
    let entries = times.iter().map(|t| entry("10.0.0.1", t)).collect();
    let stored = store.append(tenant, entries).await.expect("append");
    for (entry, t) in stored.iter().zip(times) {
        assert_eq!(entry.created_at, at(t));
        assert_eq!(entry.created_at.offset(), time::UtcOffset::UTC);
    }
    // Nanoseconds are cut to microseconds when stored, and the retry still matches.
    let id = Uuid::new_v4();
    let mut precise = entry_with_id(id, "10.0.0.1", "2024-01-01T00:00:00Z");
    precise.created_at = Some(at("2024-01-01T00:00:00.123456789Z"));
    let first = store
        .append(tenant, vec![precise.clone()])
        .await
        .expect("append");
    assert_eq!(first[0].created_at, at("2024-01-01T00:00:00.123456Z"));
    let again = store.append(tenant, vec![precise]).await.expect("retry");
    assert_eq!(again, first);
    let listed = list_all(&store, tenant).await;
    assert_eq!(
        listed
            .items
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.created_at),
        Some(first[0].created_at)
    );
    assert_eq!(
        listed
            .items
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.updated_at),
        Some(first[0].updated_at)
    );
}

pub async fn details_round_trip_exactly(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let details = json!({
        "method": "passkey",
        "nested": {"list": [1, -2, 3.5, null, true, "x"], "empty": {}, "none": []},
        "floats": [0.1, 1e300, 1.0715660391465826e-75, -1.603964615428183e143, 5e-324, -0.0, 1.0000000000000002, 0.30000000000000004, 1.7976931348623157e308],
        "ints": [MAX_EXACT_INTEGER, -MAX_EXACT_INTEGER, 0],
        "text": "Ä \"quoted\" \\ back\nslash \u{1F600} \u{7f}",
        "": "empty key"
    });
    let map = details.as_object().cloned().expect("an object");
    let mut with = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
    with.details = Some(map.clone());
    let without = entry("10.0.0.1", "2024-01-01T00:00:00Z");
    let stored = store
        .append(tenant, vec![with.clone(), without])
        .await
        .expect("append");
    assert_eq!(stored[0].details.as_ref(), Some(&map));
    assert_eq!(stored[1].details, None);
    let listed = list_all(&store, tenant).await;
    let read = listed
        .items
        .iter()
        .find(|e| e.id == stored[0].id)
        .expect("listed");
    assert_eq!(read.details.as_ref(), Some(&map));
    // The same details sent again are the same content.
    assert_eq!(
        store.append(tenant, vec![with]).await.expect("retry")[0],
        stored[0]
    );
    // An integer that canonical JSON could not write exactly is refused, not rounded.
    let mut big = entry("10.0.0.1", "2024-01-01T00:00:00Z");
    big.details = json!({"ints": [u64::MAX]}).as_object().cloned();
    match store.append(tenant, vec![big]).await {
        Err(StoreError::InvalidEntry { index: 0, source }) => {
            assert_eq!(source.field, "details");
            assert!(source.reason.contains("/ints/0"), "{}", source.reason);
        }
        other => panic!("expected InvalidEntry, got {other:?}"),
    }
}

pub async fn invalid_entry_stores_nothing_and_names_index_and_field(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let mut entries: Vec<NewAuditLog> = (0..5)
        .map(|_| entry("10.0.0.1", "2024-01-01T00:00:00Z"))
        .collect();
    entries[2].actor_email = Some("x".repeat(321));
    let err = store.append(tenant, entries).await.expect_err("invalid");
    match err {
        StoreError::InvalidEntry { index, source } => {
            assert_eq!((index, source.field.as_str()), (2, "actor_email"));
        }
        other => panic!("expected InvalidEntry, got {other:?}"),
    }
    let mut future = entry("10.0.0.1", "2024-01-01T00:00:00Z");
    future.created_at = Some(OffsetDateTime::now_utc() + Duration::minutes(10));
    let err = store
        .append(
            tenant,
            vec![entry("10.0.0.1", "2024-01-01T00:00:00Z"), future],
        )
        .await;
    assert!(
        matches!(&err, Err(StoreError::InvalidEntry { index: 1, source }) if source.field == "created_at"),
        "{err:?}"
    );
    assert_eq!(list_all(&store, tenant).await.total, 0);
}

pub async fn large_batch_is_atomic_across_chunks(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let existing = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
    store
        .append(tenant, vec![existing.clone()])
        .await
        .expect("append");
    // More rows than one INSERT and one SELECT take; the conflict is in the last entry.
    let mut batch: Vec<NewAuditLog> = (0..1200)
        .map(|i| {
            numbered(
                entry_with_id(Uuid::new_v4(), "10.0.0.2", "2024-01-01T00:00:00Z"),
                i,
            )
        })
        .collect();
    let mut changed = existing;
    changed.meta_user_agent = "changed".into();
    batch.push(changed);
    let err = store
        .append(tenant, batch.clone())
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, StoreError::Conflict { index: 1200, .. }),
        "{err:?}"
    );
    assert_eq!(list_all(&store, tenant).await.total, 1);
    batch.pop();
    let stored = store.append(tenant, batch.clone()).await.expect("append");
    assert_eq!(
        stored.iter().map(|e| Some(e.id)).collect::<Vec<_>>(),
        batch.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    assert_eq!(
        store
            .list(tenant, &AuditLogFilter::default())
            .await
            .expect("list")
            .total,
        1201
    );
}

pub async fn append_in_rolled_back_transaction_stores_nothing(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let txn = store.connection().begin().await.expect("begin");
    let stored = append_in(
        &txn,
        tenant,
        vec![entry("10.0.0.1", "2024-01-01T00:00:00Z")],
    )
    .await
    .expect("append_in");
    assert_eq!(stored.len(), 1);
    txn.rollback().await.expect("rollback");
    assert_eq!(list_all(&store, tenant).await.total, 0);

    let txn = store.connection().begin().await.expect("begin");
    let stored = append_in(
        &txn,
        tenant,
        vec![entry("10.0.0.1", "2024-01-01T00:00:00Z")],
    )
    .await
    .expect("append_in");
    txn.commit().await.expect("commit");
    assert_eq!(ids(&list_all(&store, tenant).await), vec![stored[0].id]);
}

pub async fn tenants_are_isolated(store: SeaOrmStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let id = Uuid::new_v4();
    let in_a = store
        .append(
            a,
            vec![entry_with_id(id, "10.0.0.1", "2024-01-01T00:00:00Z")],
        )
        .await
        .expect("a");
    let mut other = entry_with_id(id, "10.0.0.2", "2024-01-02T00:00:00Z");
    other.actor_user_id = Some("u".into());
    let in_b = store
        .append(b, vec![other, entry("10.0.0.1", "2024-01-01T00:00:00Z")])
        .await
        .expect("b");
    assert_eq!(in_b[0].id, id);
    assert_eq!(in_b[0].tenant_id, b);
    let listed_a = list_all(&store, a).await;
    assert_eq!((listed_a.items.clone(), listed_a.total), (in_a, 1));
    let listed_b = list_all(&store, b).await;
    assert_eq!(listed_b.total, 2);
    assert!(listed_b.items.iter().all(|e| e.tenant_id == b));
    for f in [
        filter(&[("meta_source_ip", "10.0.0.1")]),
        filter(&[("q", "10.0")]),
    ] {
        assert!(
            store
                .list(a, &f)
                .await
                .expect("list")
                .items
                .iter()
                .all(|e| e.tenant_id == a)
        );
    }
    assert_eq!(list_all(&store, Uuid::new_v4()).await.total, 0);
}

pub async fn one_entry_is_read_by_id_within_its_tenant(store: SeaOrmStore) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let shared = Uuid::new_v4();
    let mut full = entry_with_id(shared, "2001:db8::1", "2024-05-01T12:00:00.123456Z");
    full.details = json!({"n": 1, "nested": {"ok": true}}).as_object().cloned();
    full.actor_email = Some("A@Example.com".into());
    let in_a = store
        .append(a, vec![full, entry("10.0.0.1", "2024-05-01T12:00:01Z")])
        .await
        .expect("a");
    let in_b = store
        .append(
            b,
            vec![entry_with_id(shared, "10.0.0.2", "2024-05-02T00:00:00Z")],
        )
        .await
        .expect("b");
    // Each as the list serves it.
    let listed = list_all(&store, a).await.items;
    for stored in &in_a {
        let got = store.get(a, stored.id).await.expect("get");
        assert_eq!(got.as_ref(), Some(stored));
        assert!(listed.contains(stored));
    }
    // The same id in two tenants: each reads its own, never the other's.
    assert_eq!(
        store.get(b, shared).await.expect("get"),
        Some(in_b[0].clone())
    );
    assert_ne!(in_a[0], in_b[0]);
    assert_eq!(store.get(b, in_a[1].id).await.expect("get"), None);
    assert_eq!(store.get(a, Uuid::new_v4()).await.expect("get"), None);
    assert_eq!(store.get(Uuid::new_v4(), shared).await.expect("get"), None);
}
