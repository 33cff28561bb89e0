//! Retention: expired entries go, per tenant and by default, in signed removals that
//! keep every proof valid and that `verify` tells from tampering; a legal hold keeps
//! everything; counts and search follow at once.

use std::sync::Arc;

use auditlog_domain::{
    AuditLog, AuditLogStore, KeyStore, LogStore, NewAuditLog,
    log::{
        Checkpoint, LeafRanges, LogKey, Removal, RemovalReason, leaf_bytes, leaf_hash,
        tenant_origin, verify_consistency, verify_inclusion,
    },
};
use auditlog_storage::{Change, LogSigner, SeaOrmStore, TenantReport};
use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

use crate::common::{at, bypassing_triggers, entry, entry_with_id, filter, list_all, numbered};

const ORIGIN: &str = "retention.example";
/// "Now" for every purge here: entries of January 2024 are 30 to 60 days old.
const NOW: &str = "2024-03-01T00:00:00Z";

fn signer() -> LogSigner {
    LogSigner {
        key: Arc::new(LogKey::generate(ORIGIN).expect("key")),
        origin: ORIGIN.to_owned(),
    }
}

/// An entry of `day` (of January 2024 when below 32, else of February), with an
/// e-mail address and a user.
fn dated(day: u32, i: usize, email: &str) -> NewAuditLog {
    let (month, day) = if day <= 31 { (1, day) } else { (2, day - 31) };
    let mut e = numbered(
        entry(
            &format!("10.{day}.0.{}", i % 200),
            &format!("2024-{month:02}-{day:02}T12:00:00Z"),
        ),
        i,
    );
    e.actor_email = Some(email.to_owned());
    e.actor_user_id = Some(format!("user-{day}"));
    e
}

/// Stores `entries` in the tenant and takes them into its log.
async fn logged(
    store: &SeaOrmStore,
    signer: &LogSigner,
    tenant: Uuid,
    entries: Vec<NewAuditLog>,
) -> Vec<AuditLog> {
    let stored = store.append(tenant, entries).await.expect("append");
    store.integrate_now(signer).await.expect("integrate");
    stored
}

async fn verify(store: &SeaOrmStore, signer: &LogSigner, tenant: Uuid) -> TenantReport {
    store
        .verify_log(tenant, &signer.key.verifier_key(), ORIGIN, &|_| {})
        .await
        .expect("verify")
}

/// The number of the tenant's search terms with this value.
async fn terms(store: &SeaOrmStore, tenant: Uuid, value: &str) -> i64 {
    let db = store.connection();
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM audit_log_terms WHERE tenant_id = $1 AND value = $2"
        }
        _ => "SELECT COUNT(*) AS n FROM audit_log_terms WHERE tenant_id = ? AND value = ?",
    };
    db.query_one_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [tenant.into(), value.into()],
    ))
    .await
    .expect("count")
    .expect("a row")
    .try_get("", "n")
    .expect("n")
}

async fn total(store: &SeaOrmStore, tenant: Uuid, pairs: &[(&str, &str)]) -> u64 {
    store
        .list(tenant, &filter(pairs))
        .await
        .expect("list")
        .total
}

pub async fn retention_removes_expired_entries_and_every_proof_still_verifies(store: SeaOrmStore) {
    let signer = signer();
    let (own, by_default, keeps) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for tenant in [own, by_default, keeps] {
        store.ensure_tenant(tenant, "t").await.expect("tenant");
    }
    store
        .update_tenant(own, Some(Some(40)), None)
        .await
        .expect("update")
        .expect("the tenant");
    // `own`: 20 entries of 5 January (56 days old), 10 of 25 January (36 days), 10 of
    // 20 February; one address only the oldest hold, one that all hold.
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.push(dated(
            5,
            i,
            if i % 2 == 0 {
                "gone@old.test"
            } else {
                "kept@all.test"
            },
        ));
    }
    for i in 20..30 {
        batch.push(dated(25, i, "kept@all.test"));
    }
    logged(&store, &signer, own, batch).await;
    logged(
        &store,
        &signer,
        own,
        (30..40).map(|i| dated(51, i, "kept@all.test")).collect(),
    )
    .await;
    let old = store
        .latest_checkpoint(own)
        .await
        .expect("read")
        .expect("a checkpoint");
    // `by_default` (60 days by default): 5 entries of 1 January (60 days old) go,
    // 5 of 2 January stay. `keeps` (none set; 51 days old): nothing goes.
    logged(
        &store,
        &signer,
        by_default,
        (0..10)
            .map(|i| dated(1 + (i as u32 % 2), i, "d@x.test"))
            .collect(),
    )
    .await;
    logged(
        &store,
        &signer,
        keeps,
        (0..4).map(|i| dated(10, i, "k@x.test")).collect(),
    )
    .await;

    let dry = store
        .purge(&signer, Some(59), at(NOW), true)
        .await
        .expect("dry run");
    let removed = |done: &[auditlog_storage::TenantPurge], tenant| {
        done.iter()
            .find(|p| p.tenant_id == tenant)
            .map(|p| p.removed)
    };
    assert_eq!(removed(&dry, own), Some(20));
    assert_eq!(removed(&dry, by_default), Some(5));
    assert_eq!(
        list_all(&store, own).await.total,
        40,
        "a dry run removes nothing"
    );

    let done = store
        .purge(&signer, Some(59), at(NOW), false)
        .await
        .expect("purge");
    assert_eq!(removed(&done, own), Some(20));
    assert_eq!(removed(&done, by_default), Some(5));
    assert!(
        store
            .purge(&signer, None, at(NOW), false)
            .await
            .expect("again")
            .iter()
            .all(|p| p.removed == 0),
        "a second purge finds nothing more"
    );
    assert_eq!(list_all(&store, keeps).await.total, 4);

    // Counts and search: at once, exact.
    let remaining = list_all(&store, own).await;
    assert_eq!((remaining.total, remaining.items.len()), (20, 20));
    assert!(
        remaining
            .items
            .iter()
            .all(|e| e.created_at >= at("2024-01-25T00:00:00Z"))
    );
    assert_eq!(total(&store, own, &[("q", "old.test")]).await, 0);
    assert_eq!(
        total(&store, own, &[("actor_email", "gone@old.test")]).await,
        0
    );
    assert_eq!(
        terms(&store, own, "gone@old.test").await,
        0,
        "a value no entry holds is forgotten"
    );
    assert_eq!(terms(&store, own, "user-5").await, 0);
    assert_eq!(terms(&store, own, "kept@all.test").await, 1);
    assert_eq!(total(&store, own, &[("q", "all.test")]).await, 20);
    assert_eq!(total(&store, own, &[("q", "10.5.0")]).await, 0);
    assert_eq!(
        total(&store, own, &[("start_time", "2024-01-01T00:00:00Z")]).await,
        20
    );
    assert_eq!(list_all(&store, by_default).await.total, 5);

    // Every remaining entry proves against the checkpoint from before the purge and
    // against a later one, which is consistent with it.
    let key = signer.key.verifier_key();
    let origin = tenant_origin(ORIGIN, own);
    let old = Checkpoint::open(&old.note, &key, &origin).expect("signed");
    logged(&store, &signer, own, vec![dated(52, 40, "new@x.test")]).await;
    let new = store
        .latest_checkpoint(own)
        .await
        .expect("read")
        .expect("a checkpoint");
    let new = Checkpoint::open(&new.note, &key, &origin).expect("signed");
    assert_eq!(new.size(), 41, "removal leaves the tree as it was");
    for entry in &remaining.items {
        let leaf = leaf_hash(&leaf_bytes(entry).expect("leaf"));
        for checkpoint in [&old, &new] {
            let proof = store
                .inclusion_proof(own, entry.id, Some(checkpoint.size()))
                .await
                .expect("proof");
            verify_inclusion(
                proof.leaf_index,
                checkpoint.size(),
                leaf,
                checkpoint.root(),
                &proof.proof,
            )
            .expect("the proof verifies");
        }
    }
    let consistency = store
        .consistency_proof(own, old.size(), new.size())
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

    // `verify` reports the removal as such, not as tampering.
    let report = verify(&store, &signer, own).await;
    assert!(report.verified(), "{:?}", report.findings);
    assert_eq!(
        (report.removed, report.entries, report.leaves),
        (20, 21, 41)
    );
    let [removal] = &report.removals[..] else {
        panic!("one removal: {:?}", report.removals);
    };
    assert_eq!(removal.reason, RemovalReason::Retention);
    assert_eq!(removal.leaves.count(), 20);
    assert!(removal.rule.contains("40 days"), "{}", removal.rule);
    let report = verify(&store, &signer, by_default).await;
    assert!(report.verified(), "{:?}", report.findings);
    assert_eq!(report.removed, 5);
    assert!(
        report.removals[0].rule.contains("(default)"),
        "{}",
        report.removals[0].rule
    );
}

pub async fn a_large_purge_goes_in_batches(store: SeaOrmStore) {
    let signer = signer();
    let tenant = Uuid::new_v4();
    let n = store.removal_batch() as usize * 2 + 5;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        logged(
            &store,
            &signer,
            tenant,
            chunk.iter().map(|&i| dated(2, i, "b@x.test")).collect(),
        )
        .await;
    }
    let done = store
        .purge(&signer, Some(30), at(NOW), false)
        .await
        .expect("purge");
    assert_eq!(done[0].removed, n as u64);
    assert_eq!(done[0].removals.len(), 3, "one removal a batch");
    assert_eq!(list_all(&store, tenant).await.total, 0);
    let report = verify(&store, &signer, tenant).await;
    assert!(report.verified(), "{:?}", report.findings);
    assert_eq!((report.removed, report.leaves), (n as u64, n as u64));
}

pub async fn a_legal_hold_suspends_removal(store: SeaOrmStore) {
    let signer = signer();
    let tenant = Uuid::new_v4();
    store.ensure_tenant(tenant, "held").await.expect("tenant");
    let written = logged(
        &store,
        &signer,
        tenant,
        (0..6).map(|i| dated(3, i, "h@x.test")).collect(),
    )
    .await;
    let held = store
        .update_tenant(tenant, Some(Some(10)), Some(true))
        .await
        .expect("update")
        .expect("the tenant");
    assert!(held.legal_hold);
    assert_eq!(held.retention_days, Some(10));
    let done = store
        .purge(&signer, Some(10), at(NOW), false)
        .await
        .expect("purge");
    assert!(done[0].held);
    assert_eq!((done[0].removed, done[0].waiting), (0, 6));
    assert_eq!(list_all(&store, tenant).await.total, 6);

    store
        .update_tenant(tenant, None, Some(false))
        .await
        .expect("update");
    let done = store
        .purge(&signer, None, at(NOW), false)
        .await
        .expect("purge");
    assert_eq!(done[0].removed, 6);
    assert_eq!(list_all(&store, tenant).await.total, 0);
    // A removed entry's id is not used again: a resend is refused, naming it, and the
    // batch around it is not stored.
    let resend = entry_with_id(written[2].id, "10.3.0.2", "2024-01-03T12:00:00Z");
    match store
        .append(tenant, vec![dated(60, 9, "new@x.test"), resend])
        .await
    {
        Err(auditlog_domain::StoreError::InvalidEntry { index, source }) => {
            assert_eq!((index, source.field.as_str()), (1, "id"), "{source}");
            assert!(source.reason.contains("retention"), "{source}");
        }
        other => panic!("a removed id was taken again: {other:?}"),
    }
    assert_eq!(list_all(&store, tenant).await.total, 0);
    // Back to the default: no default, nothing expires.
    let back = store
        .update_tenant(tenant, Some(None), None)
        .await
        .expect("update")
        .expect("tenant");
    assert_eq!(back.retention_days, None);
    assert!(
        store
            .update_tenant(Uuid::new_v4(), None, Some(true))
            .await
            .expect("update")
            .is_none()
    );
}

/// An entry deleted by hand, even beside genuine removals, is still missing; a removal
/// forged without the key, or a genuine one widened to more leaves, is reported and
/// covers nothing.
pub async fn tampering_never_passes_as_removal(store: SeaOrmStore) {
    let signer = signer();
    let tenant = Uuid::new_v4();
    let stored = logged(
        &store,
        &signer,
        tenant,
        (0..10)
            .map(|i| dated(if i < 5 { 2 } else { 58 }, i, "t@x.test"))
            .collect(),
    )
    .await;
    let done = store
        .purge(&signer, Some(30), at(NOW), false)
        .await
        .expect("purge");
    assert_eq!(done[0].removed, 5);
    let db = store.connection();
    let backend = db.get_database_backend();

    // The triggers refuse a plain DELETE of an entry.
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "DELETE FROM audit_logs WHERE tenant_id = $1 AND id = $2",
        _ => "DELETE FROM audit_logs WHERE tenant_id = ? AND id = ?",
    };
    let victim = stored[7].id;
    let refused = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant.into(), victim.into()],
        ))
        .await;
    assert!(refused.is_err(), "a DELETE outside a removal is refused");

    // Someone with the database's credentials deletes it anyway.
    let (tenant_v, victim_v): (Value, Value) = (tenant.into(), victim.into());
    bypassing_triggers(db, &[(sql, vec![tenant_v.clone(), victim_v.clone()])]).await;
    let report = verify(&store, &signer, tenant).await;
    assert_eq!(report.removed, 5);
    let missing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.change == Change::Missing)
        .collect();
    assert_eq!(missing.len(), 1, "{:?}", report.findings);
    assert_eq!(missing[0].entry_id, Some(victim));
    let leaf = missing[0].leaf_index.expect("a leaf");

    // ... and adds a removal of that leaf, signed by a key of their own.
    let forger = LogKey::generate(ORIGIN).expect("key");
    let forged = Removal {
        origin: tenant_origin(ORIGIN, tenant),
        id: Uuid::now_v7(),
        at: at(NOW),
        reason: RemovalReason::Retention,
        rule: "retention of 1 days: created before 2024-02-29T00:00:00Z".to_owned(),
        leaves: LeafRanges::of([leaf]),
        erased: Vec::new(),
    };
    let insert = |note: String, removal: &Removal| {
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO audit_log_removals (id, tenant_id, removed_at, reason, rule, leaves, entries, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            }
            _ => {
                "INSERT INTO audit_log_removals (id, tenant_id, removed_at, reason, rule, leaves, entries, note) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            }
        };
        let micros = (removal.at.unix_timestamp_nanos() / 1000) as i64;
        (
            sql,
            vec![
                removal.id.into(),
                tenant.into(),
                micros.into(),
                "retention".into(),
                removal.rule.clone().into(),
                removal.leaves.to_string().into(),
                (removal.leaves.count() as i64).into(),
                note.into(),
            ],
        )
    };
    let (sql, values) = insert(forged.sign(&forger).expect("sign"), &forged);
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("insert");
    // ... or replays the genuine removal's note under a row that claims that leaf too.
    let genuine = &verify(&store, &signer, tenant).await.removals[0];
    let note: String = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "SELECT note FROM audit_log_removals WHERE id = $1",
                _ => "SELECT note FROM audit_log_removals WHERE id = ?",
            },
            [genuine.id.into()],
        ))
        .await
        .expect("read")
        .expect("row")
        .try_get("", "note")
        .expect("note");
    let widened = Removal {
        id: Uuid::now_v7(),
        leaves: LeafRanges::union([&genuine.leaves, &LeafRanges::of([leaf])]),
        ..genuine.clone()
    };
    let (sql, values) = insert(note, &widened);
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("insert");

    let report = verify(&store, &signer, tenant).await;
    assert!(!report.verified());
    assert_eq!(report.removed, 5, "only the genuine removal counts");
    let forged: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.change == Change::ForgedRemoval)
        .collect();
    assert_eq!(forged.len(), 2, "{:?}", report.findings);
    let missing: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.change == Change::Missing)
        .collect();
    assert_eq!(missing.len(), 1, "{:?}", report.findings);
    assert_eq!(missing[0].entry_id, Some(victim));

    // Removals themselves cannot be changed or deleted through the database's rules.
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "DELETE FROM audit_log_removals WHERE tenant_id = $1",
        _ => "DELETE FROM audit_log_removals WHERE tenant_id = ?",
    };
    assert!(
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant.into()]
        ))
        .await
        .is_err()
    );
}
