//! The log against the plain in-memory tree: for random sequences of batches (with
//! retries of entries already stored), each taken into the log as it comes, the stored
//! tree's checkpoints are those of `MemoryTree` over the entries in log order, every
//! entry's inclusion proof verifies against every later checkpoint, and every pair of
//! checkpoints has a consistency proof that verifies.
//!
//! One database per backend for the whole run, a fresh tenant per case. `PROPTEST_CASES`
//! sets the number of cases (default 24).

mod common;

use std::sync::Arc;

use auditlog_domain::{
    AuditLogStore, LogStore,
    log::{
        Checkpoint, LogKey, MemoryTree, leaf_bytes, leaf_hash, tenant_origin, verify_consistency,
        verify_inclusion,
    },
};
use auditlog_storage::{LogSigner, SeaOrmStore};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use uuid::Uuid;

use common::{Backend, TestDb, entry_with_id, numbered};

const ORIGIN: &str = "model.example";

/// A batch: how many new entries, and which earlier entries it sends again.
type BatchSpec = (usize, Vec<prop::sample::Index>);

fn fail(what: &str) -> impl Fn(String) -> TestCaseError + '_ {
    move |err| TestCaseError::fail(format!("{what}: {err}"))
}

async fn check(
    store: &SeaOrmStore,
    signer: &LogSigner,
    batches: &[BatchSpec],
) -> Result<(), TestCaseError> {
    let tenant = Uuid::new_v4();
    let key = signer.key.verifier_key();
    let origin = tenant_origin(ORIGIN, tenant);
    let mut model = MemoryTree::new();
    let mut sent: Vec<auditlog_domain::NewAuditLog> = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for (b, (new, retries)) in batches.iter().enumerate() {
        let mut batch: Vec<_> = (0..*new)
            .map(|i| {
                let e = entry_with_id(Uuid::new_v4(), "10.0.0.1", "2024-01-01T00:00:00Z");
                numbered(e, b * 100 + i)
            })
            .collect();
        for retry in retries {
            if !sent.is_empty() {
                batch.push(retry.get(&sent).clone());
            }
        }
        let stored = store
            .append(tenant, batch.clone())
            .await
            .map_err(|e| fail("append")(e.to_string()))?;
        sent.extend(batch[..*new].iter().cloned());
        store
            .integrate_now(signer)
            .await
            .map_err(|e| fail("integrate")(e.to_string()))?;
        // The model takes the new entries in the order the log took them.
        let mut new_entries = stored[..*new].to_vec();
        let mut placed = Vec::new();
        for e in &new_entries {
            let proof = store
                .inclusion_proof(tenant, e.id, None)
                .await
                .map_err(|e| fail("proof")(e.to_string()))?;
            placed.push(proof.leaf_index);
        }
        let mut order: Vec<usize> = (0..new_entries.len()).collect();
        order.sort_by_key(|&i| placed[i]);
        new_entries = order.into_iter().map(|i| new_entries[i].clone()).collect();
        for e in &new_entries {
            let leaf = leaf_hash(&leaf_bytes(e).map_err(|e| fail("leaf")(e.to_string()))?);
            model.push(leaf).map_err(|e| fail("model")(e.to_string()))?;
        }
        if let Some(latest) = store
            .latest_checkpoint(tenant)
            .await
            .map_err(|e| fail("checkpoint")(e.to_string()))?
        {
            let opened = Checkpoint::open(&latest.note, &key, &origin)
                .map_err(|e| fail("open")(e.to_string()))?;
            prop_assert_eq!(opened.size(), model.size());
            prop_assert_eq!(
                opened.root(),
                model.root().map_err(|e| fail("root")(e.to_string()))?
            );
            if checkpoints.last().map(Checkpoint::size) != Some(opened.size()) {
                checkpoints.push(opened);
            }
        }
    }
    let listed = common::list_all(store, tenant).await.items;
    prop_assert_eq!(listed.len() as u64, model.size());
    for entry in &listed {
        let leaf = leaf_hash(&leaf_bytes(entry).map_err(|e| fail("leaf")(e.to_string()))?);
        for checkpoint in &checkpoints {
            match store
                .inclusion_proof(tenant, entry.id, Some(checkpoint.size()))
                .await
            {
                Ok(proof) => verify_inclusion(
                    proof.leaf_index,
                    checkpoint.size(),
                    leaf,
                    checkpoint.root(),
                    &proof.proof,
                )
                .map_err(|e| fail("inclusion")(e.to_string()))?,
                // Not in the tree at that size: the entry came later.
                Err(auditlog_domain::LogError::SizeBelowLeaf { .. }) => {}
                Err(other) => return Err(fail("proof")(other.to_string())),
            }
        }
    }
    for (i, old) in checkpoints.iter().enumerate() {
        for new in &checkpoints[i..] {
            let proof = store
                .consistency_proof(tenant, old.size(), new.size())
                .await
                .map_err(|e| fail("consistency")(e.to_string()))?;
            verify_consistency(old.size(), new.size(), old.root(), new.root(), &proof.proof)
                .map_err(|e| fail("consistency check")(e.to_string()))?;
        }
    }
    Ok(())
}

fn run_model(backend: Backend) {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let db = rt.block_on(TestDb::open(backend));
    let signer = LogSigner {
        key: Arc::new(LogKey::generate(ORIGIN).expect("a key")),
        origin: ORIGIN.to_owned(),
    };
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = prop::collection::vec(
        (
            0usize..12,
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        ),
        1..6,
    );
    let result = runner.run(&strategy, |batches| {
        rt.block_on(check(&db.store, &signer, &batches))
    });
    rt.block_on(db.close());
    if let Err(err) = result {
        panic!(
            "the log disagrees with the model on {}: {err}",
            backend.name()
        );
    }
}

#[test]
fn sqlite_log_matches_the_model() {
    run_model(Backend::Sqlite);
}

#[test]
fn postgres_log_matches_the_model() {
    run_model(Backend::Postgres);
}
