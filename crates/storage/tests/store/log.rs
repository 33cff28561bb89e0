//! Each tenant's log: leaves, checkpoints and proofs as a client checks them, and the
//! verification of the log against attacks made directly in the database.

use std::sync::Arc;

use auditlog_domain::{
    AuditLog, AuditLogStore, LogError, LogStore, NewAuditLog,
    log::{
        Checkpoint, LogKey, leaf_bytes, leaf_hash, tenant_origin, verify_consistency,
        verify_inclusion,
    },
};
use auditlog_storage::{Change, LogSigner, SeaOrmStore, TenantReport};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::common::{bypassing_triggers, entry, entry_with_id, list_all, numbered};

const ORIGIN: &str = "test.example";

fn signer() -> LogSigner {
    LogSigner {
        key: Arc::new(LogKey::generate(ORIGIN).expect("key")),
        origin: ORIGIN.to_owned(),
    }
}

/// Stores `n` entries in `batches` and takes them into the log.
async fn logged(
    store: &SeaOrmStore,
    signer: &LogSigner,
    tenant: Uuid,
    n: usize,
    batches: usize,
) -> Vec<AuditLog> {
    let mut stored = Vec::new();
    for b in 0..batches {
        let batch: Vec<_> = (0..n / batches)
            .map(|i| {
                let mut e = numbered(entry("10.0.0.1", "2024-01-01T00:00:00Z"), b * 1000 + i);
                e.actor_user_id = Some(format!("user-{}", i % 3));
                e
            })
            .collect();
        stored.extend(store.append(tenant, batch).await.expect("append"));
        store.integrate_now(signer).await.expect("integrate");
    }
    stored
}

async fn verify(store: &SeaOrmStore, signer: &LogSigner, tenant: Uuid) -> TenantReport {
    store
        .verify_log(tenant, &signer.key.verifier_key(), ORIGIN, &|_| {})
        .await
        .expect("verify")
}

pub async fn every_entry_has_a_proof_against_every_later_checkpoint(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let key = signer.key.verifier_key();
    let origin = tenant_origin(ORIGIN, tenant);
    assert!(
        store
            .latest_checkpoint(tenant)
            .await
            .expect("none")
            .is_none()
    );
    let first = logged(&store, &signer, tenant, 6, 2).await;
    // A retry of a stored entry adds no leaf.
    let retry = entry_with_id(first[0].id, "10.0.0.1", "2024-01-01T00:00:00Z");
    let mut retry = numbered(retry, 0);
    retry.created_at = Some(first[0].created_at);
    retry.actor_user_id = first[0].actor_user_id.clone();
    store.append(tenant, vec![retry]).await.expect("retry");
    store.integrate_now(&signer).await.expect("integrate");
    let old = store
        .latest_checkpoint(tenant)
        .await
        .expect("read")
        .expect("a checkpoint");
    assert_eq!(old.size, 6);
    let old = Checkpoint::open(&old.note, &key, &origin).expect("signed by the key");

    let later = logged(&store, &signer, tenant, 5, 1).await;
    let new = store
        .latest_checkpoint(tenant)
        .await
        .expect("read")
        .expect("a checkpoint");
    let new = Checkpoint::open(&new.note, &key, &origin).expect("signed by the key");
    assert_eq!(new.size(), 11);

    let listed = list_all(&store, tenant).await.items;
    assert_eq!(listed.len(), 11);
    for entry in &listed {
        let leaf = leaf_hash(&leaf_bytes(entry).expect("leaf"));
        for size in [None, Some(new.size())] {
            let proof = store
                .inclusion_proof(tenant, entry.id, size)
                .await
                .expect("proof");
            let checkpoint = Checkpoint::open(&proof.checkpoint, &key, &origin).expect("signed");
            assert_eq!(checkpoint.size(), proof.tree_size);
            verify_inclusion(
                proof.leaf_index,
                proof.tree_size,
                leaf,
                checkpoint.root(),
                &proof.proof,
            )
            .expect("the proof verifies");
        }
        // Against the older checkpoint, for the entries it covers.
        match store
            .inclusion_proof(tenant, entry.id, Some(old.size()))
            .await
        {
            Ok(proof) => {
                assert!(first.iter().any(|e| e.id == entry.id));
                verify_inclusion(proof.leaf_index, old.size(), leaf, old.root(), &proof.proof)
                    .expect("verifies against the older checkpoint");
            }
            Err(LogError::SizeBelowLeaf { .. }) => assert!(later.iter().any(|e| e.id == entry.id)),
            Err(other) => panic!("{other}"),
        }
    }
    let consistency = store
        .consistency_proof(tenant, old.size(), new.size())
        .await
        .expect("proof");
    verify_consistency(
        old.size(),
        new.size(),
        old.root(),
        new.root(),
        &consistency.proof,
    )
    .expect("the log only grew");
    // A tampered proof does not verify.
    let mut forged = consistency.proof.clone();
    forged[0].0[0] ^= 1;
    assert!(verify_consistency(old.size(), new.size(), old.root(), new.root(), &forged).is_err());

    // Another tenant's entry, sizes the log has not reached.
    let other = Uuid::new_v4();
    assert!(matches!(
        store.inclusion_proof(other, listed[0].id, None).await,
        Err(LogError::EntryNotFound)
    ));
    assert!(matches!(
        store.inclusion_proof(tenant, listed[0].id, Some(12)).await,
        Err(LogError::SizeNotReached {
            parameter: "tree_size",
            ..
        })
    ));
    assert!(matches!(
        store.consistency_proof(tenant, 3, 12).await,
        Err(LogError::SizeNotReached {
            parameter: "to",
            ..
        })
    ));
    // Not yet in the log: stored, but the integrator has not run.
    let waiting = store
        .append(tenant, vec![entry("10.0.0.9", "2024-01-02T00:00:00Z")])
        .await
        .expect("append");
    assert!(matches!(
        store.inclusion_proof(tenant, waiting[0].id, None).await,
        Err(LogError::NotYetInLog)
    ));
    assert!(verify(&store, &signer, tenant).await.verified());
}

pub async fn entries_leaves_and_checkpoints_cannot_be_changed_or_deleted(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    logged(&store, &signer, tenant, 2, 1).await;
    let db = store.connection();
    for sql in [
        "UPDATE audit_logs SET actor_email = 'x@example.com'",
        "DELETE FROM audit_logs",
        "UPDATE audit_log_leaves SET entry_id = tenant_id",
        "DELETE FROM audit_log_leaves",
        "UPDATE audit_log_checkpoints SET note = ''",
        "DELETE FROM audit_log_checkpoints",
    ] {
        let err = db.execute_unprepared(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(list_all(&store, tenant).await.total, 2);
    assert!(verify(&store, &signer, tenant).await.verified());
}

pub async fn the_access_log_cannot_be_changed_or_deleted(store: SeaOrmStore) {
    use auditlog_domain::{AccessLogStore, AccessOperation, AccessQuery, AccessRecord};
    let tenant = Uuid::new_v4();
    let record = AccessRecord::now(tenant, Some(Uuid::new_v4()), AccessOperation::ListAuditLogs);
    store
        .record_access(std::slice::from_ref(&record))
        .await
        .expect("recorded");
    let db = store.connection();
    for sql in [
        "UPDATE access_logs SET returned = 0, key_id = NULL",
        "DELETE FROM access_logs",
    ] {
        let err = db.execute_unprepared(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let query = AccessQuery {
        limit: 10,
        ..AccessQuery::default()
    };
    assert_eq!(
        store.access_log(tenant, &query).await.expect("read"),
        vec![record],
        "the record as written"
    );
}

/// A store with 8 logged entries of a tenant, its signer, and the entries in log order.
async fn attacked(store: &SeaOrmStore) -> (LogSigner, Uuid, Vec<Uuid>) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    logged(store, &signer, tenant, 8, 2).await;
    let mut in_order = Vec::new();
    for e in list_all(store, tenant).await.items {
        let proof = store
            .inclusion_proof(tenant, e.id, None)
            .await
            .expect("proof");
        in_order.push((proof.leaf_index, e.id));
    }
    in_order.sort();
    let report = verify(store, &signer, tenant).await;
    assert!(report.verified(), "{:?}", report.findings);
    (
        signer,
        tenant,
        in_order.into_iter().map(|(_, id)| id).collect(),
    )
}

fn first(report: &TenantReport) -> (Change, Option<u64>, Option<Uuid>) {
    let f = report
        .findings
        .first()
        .unwrap_or_else(|| panic!("nothing found: {report:?}"));
    (f.change, f.leaf_index, f.entry_id)
}

pub async fn a_changed_field_is_found(store: SeaOrmStore) {
    let (signer, tenant, ids) = attacked(&store).await;
    bypassing_triggers(
        store.connection(),
        &[(
            "UPDATE audit_logs SET actor_email = 'mallory@example.com' WHERE id = $1",
            vec![Value::from(ids[5])],
        )],
    )
    .await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(first(&report), (Change::Changed, Some(5), Some(ids[5])));
}

pub async fn a_deleted_entry_is_found(store: SeaOrmStore) {
    let (signer, tenant, ids) = attacked(&store).await;
    bypassing_triggers(
        store.connection(),
        &[(
            "DELETE FROM audit_logs WHERE id = $1",
            vec![Value::from(ids[2])],
        )],
    )
    .await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(first(&report), (Change::Missing, Some(2), Some(ids[2])));
}

pub async fn a_forged_entry_is_found(store: SeaOrmStore) {
    let (signer, tenant, _) = attacked(&store).await;
    // Inserting needs no trigger bypass; the entry is in no leaf and not queued.
    let forged = Uuid::new_v4();
    let db = store.connection();
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO audit_logs (tenant_id, id, type, meta_http_request_id, meta_source_ip, ip_key, \
         meta_user_agent, created_at, updated_at) \
         SELECT tenant_id, $1, type, meta_http_request_id, meta_source_ip, ip_key, meta_user_agent, \
         created_at, updated_at FROM audit_logs WHERE tenant_id = $2 LIMIT 1",
        [Value::from(forged), Value::from(tenant)],
    ))
    .await
    .expect("forge");
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(first(&report), (Change::Inserted, None, Some(forged)));
}

pub async fn a_deleted_leaf_is_found(store: SeaOrmStore) {
    let (signer, tenant, ids) = attacked(&store).await;
    bypassing_triggers(
        store.connection(),
        &[(
            "DELETE FROM audit_log_leaves WHERE tenant_id = $1 AND leaf_index = 4",
            vec![Value::from(tenant)],
        )],
    )
    .await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(first(&report), (Change::Missing, Some(4), None));
    assert!(!report.verified());
    // The tree stops at the gap: the entry of the deleted leaf is in no leaf now, and
    // the checkpoints past leaf 4 cover leaves that are gone.
    assert_eq!(report.leaves, 4);
    let changes: Vec<(Change, Option<Uuid>)> = report
        .findings
        .iter()
        .map(|f| (f.change, f.entry_id))
        .collect();
    assert!(
        changes.contains(&(Change::Inserted, Some(ids[4]))),
        "{changes:?}"
    );
    assert!(
        report.findings.iter().any(
            |f| f.change == Change::Missing && f.detail.contains("covers leaves that are gone")
        ),
        "{:?}",
        report.findings
    );
}

const SWAP_1: &str =
    "UPDATE audit_log_leaves SET entry_id = $1 WHERE tenant_id = $2 AND leaf_index = 1";
const SWAP_6: &str =
    "UPDATE audit_log_leaves SET entry_id = $1 WHERE tenant_id = $2 AND leaf_index = 6";

pub async fn swapped_entries_are_found(store: SeaOrmStore) {
    let (signer, tenant, ids) = attacked(&store).await;
    bypassing_triggers(
        store.connection(),
        &[
            // Through a placeholder: an entry is one leaf at a time.
            (
                SWAP_1,
                vec![Value::from(Uuid::new_v4()), Value::from(tenant)],
            ),
            (SWAP_6, vec![Value::from(ids[1]), Value::from(tenant)]),
            (SWAP_1, vec![Value::from(ids[6]), Value::from(tenant)]),
        ],
    )
    .await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(first(&report), (Change::Reordered, Some(1), Some(ids[6])));
}

pub async fn an_entry_moved_to_another_tenant_is_found(store: SeaOrmStore) {
    let (signer, tenant, ids) = attacked(&store).await;
    let other = Uuid::new_v4();
    bypassing_triggers(
        store.connection(),
        &[(
            "UPDATE audit_logs SET tenant_id = $1 WHERE id = $2",
            vec![Value::from(other), Value::from(ids[3])],
        )],
    )
    .await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(first(&report), (Change::Moved, Some(3), Some(ids[3])));
    // And in the other tenant, it is an entry the log never took.
    let there = verify(&store, &signer, other).await;
    assert_eq!(first(&there), (Change::Inserted, None, Some(ids[3])));
}

pub async fn a_rewritten_tree_is_found(store: SeaOrmStore) {
    let (signer, tenant, ids) = attacked(&store).await;
    // Leaf 3 completes two subtrees: its second hash is the hash of leaves 2 and 3.
    let db = store.connection();
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            "SELECT hashes FROM audit_log_leaves WHERE tenant_id = $1 AND leaf_index = 3",
            [Value::from(tenant)],
        ))
        .await
        .expect("read")
        .expect("leaf 3");
    let mut hashes: Vec<u8> = row.try_get("", "hashes").expect("hashes");
    assert_eq!(hashes.len(), 3 * 32);
    hashes[40] ^= 0xff;
    bypassing_triggers(
        db,
        &[(
            "UPDATE audit_log_leaves SET hashes = $1 WHERE tenant_id = $2 AND leaf_index = 3",
            vec![Value::from(hashes), Value::from(tenant)],
        )],
    )
    .await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(
        first(&report),
        (Change::TreeRewritten, Some(3), Some(ids[3]))
    );
}

pub async fn a_replaced_signing_key_is_found(store: SeaOrmStore) {
    let (signer, tenant, _) = attacked(&store).await;
    // Someone who holds another key signs the log from now on.
    let impostor = LogSigner {
        key: Arc::new(LogKey::generate(ORIGIN).expect("key")),
        origin: ORIGIN.to_owned(),
    };
    let task = store.start_log(impostor.clone()).await.expect("start");
    task.stop();
    logged(&store, &impostor, tenant, 1, 1).await;
    let report = verify(&store, &signer, tenant).await;
    let changes: Vec<Change> = report.findings.iter().map(|f| f.change).collect();
    assert!(changes.contains(&Change::BadSignature), "{changes:?}");
    assert!(changes.contains(&Change::KeyChanged), "{changes:?}");
    // Checked with the impostor's key instead, the earlier checkpoints fail.
    let theirs = verify(&store, &impostor, tenant).await;
    assert_eq!(first(&theirs).0, Change::BadSignature);
}

pub async fn an_export_in_log_order_reproduces_the_checkpoint(store: SeaOrmStore) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let stored = logged(&store, &signer, tenant, 9, 3).await;
    let latest = store
        .latest_checkpoint(tenant)
        .await
        .expect("read")
        .expect("one");
    let checkpoint = Checkpoint::open(
        &latest.note,
        &signer.key.verifier_key(),
        &tenant_origin(ORIGIN, tenant),
    )
    .expect("signed");
    // Pages of 4 leaves, as a reader holding one page at a time reads them.
    let all = auditlog_domain::AuditLogFilter::default();
    let (mut from, mut exported) = (0, Vec::new());
    while from < latest.size {
        let page = store
            .export_page(tenant, &all, from, latest.size, 4)
            .await
            .expect("page");
        exported.extend(page.entries);
        from = page.next;
    }
    let indexes: Vec<u64> = exported.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, (0..9).collect::<Vec<u64>>());
    let mut tree = auditlog_domain::log::MemoryTree::new();
    for (_, entry) in &exported {
        tree.push(leaf_hash(&leaf_bytes(entry).expect("leaf")))
            .expect("push");
    }
    assert_eq!(tree.root().expect("root"), checkpoint.root());
    // A filter keeps the log order and only what it matches.
    let one = crate::common::filter(&[(
        "actor_user_id",
        stored[4].actor_user_id.as_deref().unwrap_or_default(),
    )]);
    let page = store
        .export_page(tenant, &one, 0, latest.size, 100)
        .await
        .expect("page");
    assert!(!page.entries.is_empty());
    assert!(
        page.entries
            .iter()
            .all(|(_, e)| e.actor_user_id == stored[4].actor_user_id)
    );
}

/// Entries of every shape the API takes, `details` included.
fn varied(i: usize) -> NewAuditLog {
    let mut e = numbered(entry("2001:db8::7", "2024-03-01T12:00:00.123456Z"), i);
    let details = match i % 4 {
        0 => serde_json::json!({}),
        1 => {
            serde_json::json!({"float": 1.0, "big": 1e300, "small": -0.5e-7, "int": 9007199254740991_i64})
        }
        2 => {
            serde_json::json!({"z": "ünïcødé ✓ \u{1F600}", "a": ["\"quoted\"", "tab\t", null, true], "nested": {"b": {}, "a": []}})
        }
        _ => serde_json::json!({"control": "\u{7f}\u{1}", "escape": "</script>\\"}),
    };
    e.details = details.as_object().cloned();
    if i.is_multiple_of(2) {
        e.actor_user_id = Some(format!("user-{i}"));
        e.actor_email = Some(format!("Person.{i}@Example.ORG"));
        e.error = Some("wrong passcode".to_owned());
    }
    e
}

pub async fn leaves_hashed_by_the_write_and_by_a_bulk_load_match_the_stored_entries(
    store: SeaOrmStore,
) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let key = signer.key.verifier_key();
    // Queued without leaf hashes: the bulk load of an empty store.
    let mut load = store.bulk_import().await.expect("bulk");
    assert!(load.rebuilds_indexes());
    load.add(tenant, (0..8).map(varied).collect())
        .await
        .expect("load");
    load.finish().await.expect("finish");
    // Taken into the tree by the writes themselves, with the leaf hashes they computed.
    for start in [100, 200] {
        store
            .append(tenant, (start..start + 8).map(varied).collect())
            .await
            .expect("append");
    }
    store
        .import(tenant, (300..308).map(varied).collect())
        .await
        .expect("import");
    store.integrate_now(&signer).await.expect("integrate");

    let report = verify(&store, &signer, tenant).await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.leaves, 32);
    let checkpoint = store
        .latest_checkpoint(tenant)
        .await
        .expect("read")
        .expect("a checkpoint");
    let checkpoint =
        Checkpoint::open(&checkpoint.note, &key, &tenant_origin(ORIGIN, tenant)).expect("signed");
    assert_eq!(checkpoint.size(), 32);
    // Each leaf is the hash of the entry as the API serves it.
    for entry in list_all(&store, tenant).await.items {
        let proof = store
            .inclusion_proof(tenant, entry.id, None)
            .await
            .expect("proof");
        verify_inclusion(
            proof.leaf_index,
            proof.tree_size,
            leaf_hash(&leaf_bytes(&entry).expect("leaf")),
            checkpoint.root(),
            &proof.proof,
        )
        .unwrap_or_else(|err| panic!("entry {} ({:?}): {err}", entry.id, entry.details));
    }
}

pub async fn entries_queued_again_by_hand_neither_stop_the_log_nor_enter_it_twice(
    store: SeaOrmStore,
) {
    let (signer, tenant) = (signer(), Uuid::new_v4());
    let first = logged(&store, &signer, tenant, 4, 1).await;
    // Someone with the database's credentials queues a leaf's entry again, twice.
    let db = store.connection();
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO audit_log_pending (tenant_id, entry_id) VALUES ($1, $2), ($1, $2)",
        [Value::from(tenant), Value::from(first[0].id)],
    ))
    .await
    .expect("queue again");
    let later = logged(&store, &signer, tenant, 3, 1).await;

    let report = verify(&store, &signer, tenant).await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!((report.leaves, report.pending), (7, 0));
    for entry in first.iter().chain(&later) {
        store
            .inclusion_proof(tenant, entry.id, None)
            .await
            .expect("in the log once");
    }
    let proof = store
        .inclusion_proof(tenant, first[0].id, None)
        .await
        .expect("proof");
    assert_eq!((proof.leaf_index, proof.tree_size), (0, 7));
}
