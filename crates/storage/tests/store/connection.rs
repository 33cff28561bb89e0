//! The connection: readiness, migrations, and errors when the database is gone.

use auditlog_domain::{AuditLogFilter, AuditLogStore, KeyStore, StoreError};
use auditlog_storage::SeaOrmStore;
use uuid::Uuid;

use crate::common::entry;

pub async fn ping_answers(store: SeaOrmStore) {
    store.ping().await.expect("ping");
}

pub async fn migrate_twice_changes_nothing(store: SeaOrmStore) {
    let tenant = Uuid::new_v4();
    let stored = store
        .append(tenant, vec![entry("10.0.0.1", "2024-01-01T00:00:00Z")])
        .await
        .expect("append");
    store.migrate().await.expect("migrate again");
    let page = store
        .list(tenant, &AuditLogFilter::default())
        .await
        .expect("list");
    assert_eq!(page.items, stored);
}

pub async fn closed_pool_is_unavailable(store: SeaOrmStore) {
    store.close().await.expect("close");
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    let append = store
        .append(
            Uuid::new_v4(),
            vec![entry("10.0.0.1", "2024-01-01T00:00:00Z")],
        )
        .await;
    assert!(
        matches!(append, Err(StoreError::Unavailable(_))),
        "{append:?}"
    );
    let list = store.list(Uuid::new_v4(), &AuditLogFilter::default()).await;
    assert!(matches!(list, Err(StoreError::Unavailable(_))), "{list:?}");
    assert!(matches!(
        store.tenants().await,
        Err(StoreError::Unavailable(_))
    ));
}
