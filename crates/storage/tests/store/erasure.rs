//! Erasure: one person's personal data goes from their entries, which stay in place,
//! marked as erased; filters and search no longer find the values; every proof and
//! `verify` still pass, and a change after the erasure, or a forged erasure, is found.

use std::sync::Arc;

use auditlog_domain::{
    AuditLog, AuditLogStore, ERASURE_MARKER, LogStore, NewAuditLog, StoreError,
    log::{LeafRanges, LogKey, Removal, RemovalReason, leaf_bytes, leaf_hash, tenant_origin},
};
use auditlog_storage::{Change, LogSigner, Person, SeaOrmStore, TenantReport};
use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

use crate::common::{at, bypassing_triggers, entry, filter, list_all, numbered};

const ORIGIN: &str = "erasure.example";

fn signer() -> LogSigner {
    LogSigner {
        key: Arc::new(LogKey::generate(ORIGIN).expect("key")),
        origin: ORIGIN.to_owned(),
    }
}

fn person(i: usize, ip: &str, user: Option<&str>, email: Option<&str>) -> NewAuditLog {
    let mut e = numbered(entry(ip, "2024-05-01T10:00:00Z"), i);
    e.actor_user_id = user.map(str::to_owned);
    e.actor_email = email.map(str::to_owned);
    e.error = Some("wrong password".to_owned());
    e.meta_user_agent = "Mozilla/5.0 (X11; Linux)".to_owned();
    e.details = Some(
        serde_json::json!({"method": "password", "n": i})
            .as_object()
            .cloned()
            .expect("object"),
    );
    e
}

async fn verify(store: &SeaOrmStore, signer: &LogSigner, tenant: Uuid) -> TenantReport {
    store
        .verify_log(tenant, &signer.key.verifier_key(), ORIGIN, &|_| {})
        .await
        .expect("verify")
}

async fn matching(store: &SeaOrmStore, tenant: Uuid, pairs: &[(&str, &str)]) -> Vec<AuditLog> {
    let mut pairs = pairs.to_vec();
    pairs.push(("per_page", "1000"));
    store
        .list(tenant, &filter(&pairs))
        .await
        .expect("list")
        .items
}

pub async fn erasure_removes_one_persons_data_and_keeps_the_log_verifiable(store: SeaOrmStore) {
    let signer = signer();
    let tenant = Uuid::new_v4();
    let written = store
        .append(
            tenant,
            vec![
                person(0, "10.1.0.1", Some("alice"), Some("Alice@x.test")),
                person(1, "10.1.0.2", Some("alice"), Some("Alice@x.test")),
                person(2, "10.1.0.2", Some("alice"), None),
                person(3, "10.1.0.1", Some("bob"), Some("bob@x.test")),
                person(4, "10.1.0.9", None, Some("alice@X.test")),
                person(5, "10.1.0.5", Some("Alice"), None),
            ],
        )
        .await
        .expect("append");
    store.integrate_now(&signer).await.expect("integrate");
    let leaves_before: Vec<_> = written
        .iter()
        .map(|e| leaf_hash(&leaf_bytes(e).expect("leaf")))
        .collect();

    let dry = store
        .erase(&signer, tenant, &Person::UserId("alice".into()), true)
        .await
        .expect("dry run");
    assert_eq!(dry.entries, 3);
    assert_eq!(
        matching(&store, tenant, &[("actor_user_id", "alice")])
            .await
            .len(),
        3
    );

    let done = store
        .erase(&signer, tenant, &Person::UserId("alice".into()), false)
        .await
        .expect("erase");
    assert_eq!((done.entries, done.removals.len()), (3, 1));
    let listed = list_all(&store, tenant).await;
    assert_eq!(listed.total, 6, "erased entries stay");
    for original in &written[..3] {
        let now = listed
            .items
            .iter()
            .find(|e| e.id == original.id)
            .expect("still there");
        assert_eq!(
            (
                now.actor_user_id.as_deref(),
                now.actor_email.as_deref(),
                now.error.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(now.meta_source_ip.to_string(), "0.0.0.0");
        assert_eq!(now.meta_user_agent, "");
        let marker = &now.details.as_ref().expect("details")[ERASURE_MARKER];
        assert_eq!(marker["removal_id"], done.removals[0].to_string());
        assert_eq!(
            (now.r#type, now.created_at, &now.meta_http_request_id),
            (
                original.r#type,
                original.created_at,
                &original.meta_http_request_id
            )
        );
    }
    // Exactly the user id "alice": "Alice" (another user) and the e-mail-only entry stay.
    assert!(
        matching(&store, tenant, &[("actor_user_id", "alice")])
            .await
            .is_empty()
    );
    assert_eq!(
        matching(&store, tenant, &[("actor_user_id", "Alice")])
            .await
            .len(),
        1
    );
    assert_eq!(matching(&store, tenant, &[("q", "alice@x")]).await.len(), 1);
    assert!(
        matching(&store, tenant, &[("q", "10.1.0.2")])
            .await
            .is_empty()
    );
    assert_eq!(
        matching(&store, tenant, &[("meta_source_ip", "10.1.0.1")])
            .await
            .len(),
        1
    );
    assert_eq!(matching(&store, tenant, &[("q", "0.0.0.0")]).await.len(), 3);

    let done = store
        .erase(
            &signer,
            tenant,
            &Person::Email("ALICE@x.TEST".into()),
            false,
        )
        .await
        .expect("erase");
    assert_eq!(done.entries, 1, "by e-mail, ignoring case");
    assert!(
        matching(&store, tenant, &[("q", "alice@")])
            .await
            .is_empty()
    );
    assert!(
        matching(&store, tenant, &[("actor_email", "alice@x.test")])
            .await
            .is_empty()
    );

    // The tree is as it was: the leaves of the entries as written prove against the
    // checkpoint; the log verifies with the four erased entries accounted for.
    let checkpoint = store
        .latest_checkpoint(tenant)
        .await
        .expect("read")
        .expect("one");
    for (entry, leaf) in written.iter().zip(&leaves_before) {
        let proof = store
            .inclusion_proof(tenant, entry.id, None)
            .await
            .expect("proof");
        auditlog_domain::log::verify_inclusion(
            proof.leaf_index,
            proof.tree_size,
            *leaf,
            auditlog_domain::log::Checkpoint::open(
                &checkpoint.note,
                &signer.key.verifier_key(),
                &tenant_origin(ORIGIN, tenant),
            )
            .expect("signed")
            .root(),
            &proof.proof,
        )
        .expect("the leaf as written is in the tree");
    }
    let report = verify(&store, &signer, tenant).await;
    assert!(report.verified(), "{:?}", report.findings);
    assert_eq!((report.erased, report.removed, report.entries), (4, 0, 6));
    assert!(
        report
            .removals
            .iter()
            .all(|r| r.reason == RemovalReason::Erasure)
    );
    assert!(
        report.removals.iter().all(|r| !r.rule.contains("alice")),
        "the record names no personal data: {:?}",
        report.removals
    );

    // A producer cannot make an entry look erased.
    let mut fake = person(9, "10.9.9.9", None, None);
    fake.details = Some(
        serde_json::json!({ERASURE_MARKER: {"erased_at": "now"}})
            .as_object()
            .cloned()
            .expect("object"),
    );
    match store.append(tenant, vec![fake]).await {
        Err(StoreError::InvalidEntry { source, .. }) => assert_eq!(source.field, "details"),
        other => panic!("accepted a forged erasure marker: {other:?}"),
    }
}

/// After an erasure, an erased entry changed by hand is found, and so is a changed
/// entry that a removal forged without the key claims to have erased.
pub async fn tampering_never_passes_as_erasure(store: SeaOrmStore) {
    let signer = signer();
    let tenant = Uuid::new_v4();
    let written = store
        .append(
            tenant,
            vec![
                person(0, "10.2.0.1", Some("carol"), None),
                person(1, "10.2.0.2", Some("dave"), None),
            ],
        )
        .await
        .expect("append");
    store.integrate_now(&signer).await.expect("integrate");
    store
        .erase(&signer, tenant, &Person::UserId("carol".into()), false)
        .await
        .expect("erase");
    let db = store.connection();
    let backend = db.get_database_backend();
    let update = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE audit_logs SET type = 'login_failure' WHERE id = $1"
        }
        _ => "UPDATE audit_logs SET type = 'login_failure' WHERE id = ?",
    };
    assert!(
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            update,
            [written[0].id.into()]
        ))
        .await
        .is_err(),
        "an UPDATE outside an erasure is refused"
    );
    let (erased_id, other_id): (Value, Value) = (written[0].id.into(), written[1].id.into());
    bypassing_triggers(db, &[(update, vec![erased_id])]).await;
    let report = verify(&store, &signer, tenant).await;
    let changed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.change == Change::Changed)
        .collect();
    assert_eq!(changed.len(), 1, "{:?}", report.findings);
    assert_eq!(changed[0].entry_id, Some(written[0].id));
    assert!(
        changed[0].detail.contains("erasure"),
        "{}",
        changed[0].detail
    );

    // dave's entry changed, and an "erasure" of its leaf signed by another key.
    bypassing_triggers(db, &[(update, vec![other_id])]).await;
    let forger = LogKey::generate(ORIGIN).expect("key");
    let index = store
        .inclusion_proof(tenant, written[1].id, None)
        .await
        .expect("proof")
        .leaf_index;
    let now = list_all(&store, tenant).await.items;
    let changed_entry = now.iter().find(|e| e.id == written[1].id).expect("there");
    let forged = Removal {
        origin: tenant_origin(ORIGIN, tenant),
        id: Uuid::now_v7(),
        at: at("2024-06-01T00:00:00Z"),
        reason: RemovalReason::Erasure,
        rule: "erasure of one person's entries, chosen by actor_user_id".to_owned(),
        leaves: LeafRanges::of([index]),
        erased: vec![leaf_hash(&leaf_bytes(changed_entry).expect("leaf"))],
    };
    let insert = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO audit_log_removals (id, tenant_id, removed_at, reason, rule, leaves, entries, note) \
             VALUES ($1, $2, $3, 'erasure', $4, $5, 1, $6)"
        }
        _ => {
            "INSERT INTO audit_log_removals (id, tenant_id, removed_at, reason, rule, leaves, entries, note) \
             VALUES (?, ?, ?, 'erasure', ?, ?, 1, ?)"
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        [
            forged.id.into(),
            tenant.into(),
            ((forged.at.unix_timestamp_nanos() / 1000) as i64).into(),
            forged.rule.clone().into(),
            forged.leaves.to_string().into(),
            forged.sign(&forger).expect("sign").into(),
        ],
    ))
    .await
    .expect("insert");
    let report = verify(&store, &signer, tenant).await;
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.change == Change::ForgedRemoval),
        "{:?}",
        report.findings
    );
    let changed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.change == Change::Changed)
        .collect();
    assert_eq!(changed.len(), 2, "{:?}", report.findings);
    assert!(changed.iter().any(|f| f.entry_id == Some(written[1].id)));
}
