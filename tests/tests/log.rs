//! Each tenant's transparency log over HTTP, checked as a client would: the checkpoint
//! opens with the key of `/log-key` under the tenant's origin, every listed entry is
//! proven in it, newer checkpoints extend older ones, and what is forged, altered or
//! another tenant's is refused. The verifiable export (`export`) is checked the same
//! way: a whole export reproduces the checkpoint it ends with.

use std::time::Duration;

use auditlog_domain::{
    AuditLog,
    log::{
        Checkpoint, CheckpointError, DEFAULT_LOG_ORIGIN, Hash, ProofError, VerifierKey, leaf_bytes,
        leaf_hash, tenant_origin, verify_consistency, verify_inclusion,
    },
};
use auditlog_tests::{TestApp, backend_test, client::*, variant::*};
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "log/export.rs"]
mod export;

/// Records `count` entries through the passkey variant; returns them as stored. Every
/// third is a `login_failure`, the others `login_success`.
async fn record(app: &TestApp, key: &str, tenant: Uuid, count: usize) -> Vec<Value> {
    let batch: Vec<Value> = (0..count)
        .map(|n| {
            let mut entry = entry_with_id(n);
            entry["details"] = json!({"n": n, "note": "ünïcödé \u{2028}", "ratio": 0.1});
            if n % 3 == 2 {
                entry["type"] = json!("login_failure");
            }
            entry
        })
        .collect();
    record_batch(app, tenant, key, &batch).await
}

/// The published verifier key, which must be the one the app signs with.
async fn log_key(app: &TestApp) -> VerifierKey {
    let response = app
        .client
        .get(format!("{}/log-key", app.base))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; charset=utf-8"
    );
    let key: VerifierKey = response
        .text()
        .await
        .expect("text")
        .parse()
        .expect("a verifier key");
    assert_eq!(key, app.verifier_key);
    key
}

/// Asks for the checkpoint until it covers `size` entries (within 30 s), opens it with
/// `key` under the tenant's origin; returns the note and the checkpoint.
async fn checkpoint_of(
    app: &TestApp,
    variant: Variant,
    key: &VerifierKey,
    size: u64,
) -> (String, Checkpoint) {
    let origin = tenant_origin(key.name(), app.tenant);
    for _ in 0..300 {
        let response = get(app, variant, "checkpoint", &app.read_key).await;
        if response.status() == 200 {
            assert_eq!(
                header(&response, "content-type"),
                "text/plain; charset=utf-8"
            );
            let note = response.text().await.expect("the note");
            let checkpoint = Checkpoint::open(&note, key, &origin).expect("the checkpoint opens");
            if checkpoint.size() >= size {
                return (note, checkpoint);
            }
        } else {
            assert_eq!(
                response.status(),
                404,
                "only an empty log has no checkpoint"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covered {size} entries within 30 s");
}

/// The tenant's entries as listed, oldest first.
async fn listed(app: &TestApp) -> Vec<AuditLog> {
    let response = get_passkey(app, "per_page=1000", &app.read_key).await;
    assert_eq!(response.status(), 200);
    let mut entries: Vec<AuditLog> = response.json().await.expect("entries");
    entries.reverse();
    entries
}

/// The JSON of `/{id}/proof` with an optional query.
async fn proof(app: &TestApp, variant: Variant, id: Uuid, query: &str) -> Value {
    let response = get(app, variant, &format!("{id}/proof{query}"), &app.read_key).await;
    assert_eq!(response.status(), 200, "{}", response.url());
    response.json().await.expect("a proof")
}

fn hashes(value: &Value) -> Vec<Hash> {
    value
        .as_array()
        .expect("an array of hashes")
        .iter()
        .map(|hash| hash.as_str().expect("text").parse().expect("a base64 hash"))
        .collect()
}

fn number(value: &Value) -> u64 {
    value.as_u64().expect("a number")
}

backend_test!(
    every_listed_entry_is_proven_in_a_checkpoint_signed_by_the_published_key,
    |app| {
        let key = log_key(&app).await;
        assert_eq!(key.name(), DEFAULT_LOG_ORIGIN);
        record(&app, &app.key, app.tenant, 5).await;
        record(&app, &app.key, app.tenant, 1).await;
        let (note, checkpoint) = checkpoint_of(&app, Variant::Passkey, &key, 6).await;
        let (admin_note, _) = checkpoint_of(&app, Variant::Admin, &key, 6).await;
        assert_eq!(admin_note, note, "both variants serve the same checkpoint");
        assert_eq!(checkpoint.size(), 6);
        let entries = listed(&app).await;
        assert_eq!(entries.len(), 6);

        let mut indexes = Vec::new();
        for entry in &entries {
            let leaf = leaf_hash(&leaf_bytes(entry).expect("leaf bytes"));
            for variant in VARIANTS {
                let body = proof(&app, variant, entry.id, "").await;
                assert_eq!(number(&body["tree_size"]), checkpoint.size());
                assert_eq!(body["checkpoint"], note.as_str());
                let index = number(&body["leaf_index"]);
                let path = hashes(&body["inclusion_proof"]);
                verify_inclusion(index, checkpoint.size(), leaf, checkpoint.root(), &path)
                    .expect("the entry is in the log");
                if matches!(variant, Variant::Passkey) {
                    indexes.push(index);
                }
            }
        }
        indexes.sort_unstable();
        assert_eq!(indexes, (0..6).collect::<Vec<u64>>(), "one leaf per entry");

        // What a client must refuse: an altered proof, another entry's leaf, a
        // checkpoint whose text or signature was changed, or another log's key.
        let first = &entries[0];
        let body = proof(&app, Variant::Passkey, first.id, "").await;
        let index = number(&body["leaf_index"]);
        let path = hashes(&body["inclusion_proof"]);
        let leaf = leaf_hash(&leaf_bytes(first).expect("leaf bytes"));
        let mut altered = path.clone();
        altered[0].0[0] ^= 1;
        assert_eq!(
            verify_inclusion(index, 6, leaf, checkpoint.root(), &altered),
            Err(ProofError::Invalid)
        );
        let mut edited = first.clone();
        edited.actor_email = Some("someone-else@example.com".to_owned());
        let other_leaf = leaf_hash(&leaf_bytes(&edited).expect("leaf bytes"));
        assert_eq!(
            verify_inclusion(index, 6, other_leaf, checkpoint.root(), &path),
            Err(ProofError::Invalid)
        );
        let origin = tenant_origin(key.name(), app.tenant);
        let grown = note.replacen("\n6\n", "\n7\n", 1);
        assert!(matches!(
            Checkpoint::open(&grown, &key, &origin),
            Err(CheckpointError::BadSignature { .. })
        ));
        let other_tenant = tenant_origin(key.name(), Uuid::new_v4());
        assert!(matches!(
            Checkpoint::open(&note, &key, &other_tenant),
            Err(CheckpointError::WrongOrigin { .. })
        ));
        let stranger = auditlog_domain::log::LogKey::generate(DEFAULT_LOG_ORIGIN)
            .expect("a key")
            .verifier_key();
        assert!(matches!(
            Checkpoint::open(&note, &stranger, &origin),
            Err(CheckpointError::NotSigned { .. })
        ));
    }
);

backend_test!(a_newer_checkpoint_extends_an_older_one, |app| {
    let key = log_key(&app).await;
    record(&app, &app.key, app.tenant, 3).await;
    let (old_note, old) = checkpoint_of(&app, Variant::Passkey, &key, 3).await;
    assert_eq!(old.size(), 3);
    record(&app, &app.key, app.tenant, 4).await;
    let (_, new) = checkpoint_of(&app, Variant::Passkey, &key, 7).await;
    assert_eq!(new.size(), 7);

    for variant in VARIANTS {
        let response = get(&app, variant, "consistency?from=3&to=7", &app.read_key).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("a proof");
        assert_eq!((number(&body["from"]), number(&body["to"])), (3, 7));
        let path = hashes(&body["proof"]);
        verify_consistency(3, 7, old.root(), new.root(), &path).expect("the log only grew");
        let mut altered = path.clone();
        altered[0].0[31] ^= 0x80;
        assert_eq!(
            verify_consistency(3, 7, old.root(), new.root(), &altered),
            Err(ProofError::Invalid)
        );
        assert_eq!(
            verify_consistency(3, 7, new.root(), new.root(), &path),
            Err(ProofError::Invalid),
            "a rewritten past does not verify"
        );
    }
    let from_empty = get(
        &app,
        Variant::Admin,
        "consistency?from=0&to=7",
        &app.read_key,
    )
    .await;
    let body: Value = from_empty.json().await.expect("a proof");
    assert_eq!(body["proof"], json!([]));

    // An entry of the older checkpoint, proven at its size: the checkpoint that comes
    // with the proof is the one of that size.
    let entries = listed(&app).await;
    let body = proof(&app, Variant::Passkey, entries[1].id, "?tree_size=3").await;
    assert_eq!(number(&body["tree_size"]), 3);
    let origin = tenant_origin(key.name(), app.tenant);
    let note = body["checkpoint"].as_str().expect("a note");
    let at_three = Checkpoint::open(note, &key, &origin).expect("it opens");
    assert_eq!(at_three.root(), old.root());
    assert_eq!(note, old_note);
    let leaf = leaf_hash(&leaf_bytes(&entries[1]).expect("leaf bytes"));
    verify_inclusion(
        number(&body["leaf_index"]),
        3,
        leaf,
        old.root(),
        &hashes(&body["inclusion_proof"]),
    )
    .expect("the entry is in the older log");
});

backend_test!(
    another_tenants_entries_and_impossible_sizes_are_refused,
    |app| {
        let key = log_key(&app).await;
        let other = Uuid::new_v4();
        let other_key = app.key_for(other, "read,write").await;
        let theirs = record(&app, &other_key, other, 1).await;
        let their_id = theirs[0]["id"].as_str().expect("an id").to_owned();
        record(&app, &app.key, app.tenant, 2).await;
        checkpoint_of(&app, Variant::Passkey, &key, 2).await;
        // Their entry is in their log: the 404s below are not about timing.
        let their_proof = format!("{}/{other}/audit_logs/{their_id}/proof", app.base);
        let mut status = 404;
        for _ in 0..300 {
            let response = app
                .client
                .get(&their_proof)
                .header("apiKey", &other_key)
                .send()
                .await;
            status = response.expect("a response").status().as_u16();
            if status != 404 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, 200, "their own key proves their entry");
        let ours = listed(&app).await;
        let our_id = ours[0].id;

        for variant in VARIANTS {
            for id in [their_id.clone(), Uuid::new_v4().to_string()] {
                let response = get(&app, variant, &format!("{id}/proof"), &app.read_key).await;
                let message = error(response, variant, 404).await;
                assert!(message.contains("no entry"), "{message}");
            }

            for (rest, parameter) in [
                (format!("{our_id}/proof?tree_size=3"), "tree_size"),
                (format!("{our_id}/proof?tree_size=0"), "tree_size"),
                (format!("{our_id}/proof?tree_size=-1"), "tree_size"),
                (format!("{our_id}/proof?tree_size=x"), "tree_size"),
                (
                    format!("{our_id}/proof?tree_size=1&tree_size=2"),
                    "tree_size",
                ),
                ("not-a-uuid/proof".to_owned(), "id"),
                ("consistency?to=2".to_owned(), "from"),
                ("consistency?from=1".to_owned(), "to"),
                ("consistency?from=1&to=3".to_owned(), "to"),
                ("consistency?from=2&to=1".to_owned(), "from"),
                ("consistency?from=a&to=2".to_owned(), "from"),
                (
                    "consistency?from=0&to=99999999999999999999".to_owned(),
                    "to",
                ),
            ] {
                let message =
                    error(get(&app, variant, &rest, &app.read_key).await, variant, 400).await;
                assert!(message.contains(parameter), "{rest}: {message}");
            }
        }
        // The tree of size 1 holds leaf 0 only: the second leaf is not in it.
        let mut second = None;
        for entry in &ours {
            if number(&proof(&app, Variant::Passkey, entry.id, "").await["leaf_index"]) == 1 {
                second = Some(entry.id);
            }
        }
        let second = second.expect("an entry at leaf 1");
        let message = error(
            get(
                &app,
                Variant::Passkey,
                &format!("{second}/proof?tree_size=1"),
                &app.read_key,
            )
            .await,
            Variant::Passkey,
            400,
        )
        .await;
        assert!(message.contains("tree_size"), "{message}");
    }
);

backend_test!(
    the_log_answers_in_each_variants_auth_and_error_shape,
    |app| {
        for variant in VARIANTS {
            let message = error(
                get(&app, variant, "checkpoint", &app.read_key).await,
                variant,
                404,
            )
            .await;
            assert!(message.contains("empty"), "{message}");
            for rest in ["checkpoint", "consistency?from=0&to=0"] {
                error(get(&app, variant, rest, "wrong-key").await, variant, 401).await;
                error(get(&app, variant, rest, &app.write_key).await, variant, 403).await;
            }
            let id = Uuid::new_v4();
            error(
                get(&app, variant, &format!("{id}/proof"), "").await,
                variant,
                401,
            )
            .await;
        }
        // The passkey variant names its tenant: another tenant's key is 403 whether or not
        // the tenant exists, and a tenant that is not a UUID is 400.
        let other_key = app.key_for(Uuid::new_v4(), "read").await;
        let passkey = Variant::Passkey;
        error(
            get(&app, passkey, "checkpoint", &other_key).await,
            passkey,
            403,
        )
        .await;
        let response = app
            .client
            .get(format!("{}/not-a-tenant/audit_logs/checkpoint", app.base))
            .header("apiKey", &app.read_key)
            .send()
            .await
            .expect("a response");
        error(response, passkey, 400).await;

        // An entry the log has not taken in yet: 404 that says to try again.
        let key = log_key(&app).await;
        record(&app, &app.key, app.tenant, 1).await;
        checkpoint_of(&app, passkey, &key, 1).await;
        app.stop_log();
        let late = record(&app, &app.key, app.tenant, 1).await;
        let late_id = late[0]["id"].as_str().expect("an id").to_owned();
        for variant in VARIANTS {
            let message = error(
                get(&app, variant, &format!("{late_id}/proof"), &app.read_key).await,
                variant,
                404,
            )
            .await;
            assert!(
                message.contains("not yet") && message.contains("again"),
                "{message}"
            );
        }
    }
);
