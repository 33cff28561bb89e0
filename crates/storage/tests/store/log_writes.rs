//! Writes take their entries into the tenant's tree in their own transaction: many
//! writers at once build one dense tree, and the head that they lock is only a cache
//! that cannot make the log lie.

use std::sync::Arc;

use auditlog_domain::{AuditLogStore, LogError, LogStore, NewAuditLog, log::LogKey};
use auditlog_storage::{Change, LogSigner, SeaOrmStore, TenantReport};
use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

use crate::common::{entry, entry_with_id, list_all, numbered};

const ORIGIN: &str = "test.example";

fn signer() -> LogSigner {
    LogSigner {
        key: Arc::new(LogKey::generate(ORIGIN).expect("key")),
        origin: ORIGIN.to_owned(),
    }
}

async fn verify(store: &SeaOrmStore, signer: &LogSigner, tenant: Uuid) -> TenantReport {
    store
        .verify_log(tenant, &signer.key.verifier_key(), ORIGIN, &|_| {})
        .await
        .expect("verify")
}

async fn set_edge(store: &SeaOrmStore, tenant: Uuid, edge: Vec<u8>) {
    let db = store.connection();
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE audit_log_heads SET edge = $1 WHERE tenant_id = $2",
        [Value::from(edge), Value::from(tenant)],
    ))
    .await
    .expect("change the head");
}

/// Entries numbered `start` to `start + n - 1`.
fn numbered_batch(start: usize, n: usize) -> Vec<NewAuditLog> {
    (start..start + n)
        .map(|i| numbered(entry("10.0.0.1", "2024-01-01T00:00:00Z"), i))
        .collect()
}

pub async fn a_written_entry_is_a_leaf_when_the_write_returns(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let stored = store
        .append(
            tenant,
            (0..5)
                .map(|i| numbered(entry("10.0.0.1", "2024-01-01T00:00:00Z"), i))
                .collect(),
        )
        .await
        .expect("append");
    // No integrator has run: the leaves are there, the checkpoint is not yet.
    let report = verify(&store, &signer, tenant).await;
    assert_eq!((report.leaves, report.pending), (5, 0));
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert!(matches!(
        store.inclusion_proof(tenant, stored[0].id, None).await,
        Err(LogError::NotYetInLog)
    ));
    store.integrate_now(&signer).await.expect("sign");
    for entry in &stored {
        let proof = store
            .inclusion_proof(tenant, entry.id, None)
            .await
            .expect("proof");
        assert_eq!(proof.tree_size, 5);
    }
    // Signing again with nothing new signs nothing new.
    store.integrate_now(&signer).await.expect("sign");
    assert_eq!(verify(&store, &signer, tenant).await.checkpoints, 1);
}

pub async fn concurrent_writers_build_one_dense_tree(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let mut writers = Vec::new();
    for w in 0..8usize {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for b in 0..5usize {
                let batch: Vec<_> = (0..20)
                    .map(|i| {
                        let e = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
                        numbered(e, w * 10_000 + b * 100 + i)
                    })
                    .collect();
                let stored = store.append(tenant, batch.clone()).await.expect("append");
                // Every other batch is sent again, as a client retrying would.
                if b % 2 == 0 {
                    store.append(tenant, batch).await.expect("retry");
                }
                ids.extend(stored.into_iter().map(|e| e.id));
            }
            ids
        }));
    }
    let mut written = 0;
    for writer in writers {
        written += writer.await.expect("writer").len();
    }
    assert_eq!(written, 8 * 5 * 20);
    store.integrate_now(&signer).await.expect("sign");

    let report = verify(&store, &signer, tenant).await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!((report.entries, report.leaves), (800, 800));
    assert_eq!(report.newest_size, 800);
    let mut indexes = Vec::new();
    for entry in list_all(&store, tenant).await.items {
        let proof = store
            .inclusion_proof(tenant, entry.id, None)
            .await
            .expect("every entry proven");
        indexes.push(proof.leaf_index);
    }
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..800).collect::<Vec<u64>>(),
        "one leaf each, no gap"
    );
}

pub async fn a_head_edge_of_the_wrong_length_is_read_again_from_the_leaves(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let batch = |start: usize| numbered_batch(start, 7);
    store.append(tenant, batch(0)).await.expect("append");
    set_edge(&store, tenant, vec![0xAB; 5]).await;
    store.append(tenant, batch(100)).await.expect("append");
    store.integrate_now(&signer).await.expect("sign");
    let report = verify(&store, &signer, tenant).await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.leaves, 14);
}

pub async fn a_forged_head_edge_is_found(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let batch = |start: usize| numbered_batch(start, 6);
    store.append(tenant, batch(0)).await.expect("append");
    store.integrate_now(&signer).await.expect("sign");
    // A tree of 6 leaves has two complete subtrees (4 and 2 leaves): an attacker puts
    // hashes of their own making in their place, so that what is appended next, and
    // the checkpoints signed of it, rest on a history that was never written.
    set_edge(&store, tenant, vec![0x11; 64]).await;
    store.append(tenant, batch(100)).await.expect("append");
    store.integrate_now(&signer).await.expect("sign");
    let report = verify(&store, &signer, tenant).await;
    assert!(!report.verified(), "a forged edge must not verify");
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f.change, Change::TreeRewritten | Change::Fork)),
        "{:?}",
        report.findings
    );
}
