//! `GET .../audit_logs/{id}` in both variants: one entry, as the list serves it; the same
//! 404 in the variant's shape for another tenant's entry as for an id no tenant has; a
//! 400 naming `id` for what is not one; the key rules of every read; and the routes
//! beside it (`checkpoint`, `consistency`, `export`, `{id}/proof`) still answering as
//! before.

use std::time::Duration;

use auditlog_tests::{TestApp, backend_test, client::*, variant::*};
use serde_json::Value;
use uuid::Uuid;

/// Records `count` entries for `tenant` with `key` through the passkey variant; returns
/// their ids.
async fn record(app: &TestApp, tenant: Uuid, key: &str, count: usize) -> Vec<String> {
    let batch: Vec<Value> = (0..count).map(entry_with_id).collect();
    record_batch(app, tenant, key, &batch)
        .await
        .iter()
        .map(|entry| entry["id"].as_str().expect("an id").to_owned())
        .collect()
}

backend_test!(one_entry_is_read_by_id_as_the_list_serves_it, |app| {
    record(&app, app.tenant, &app.key, 3).await;
    let listed: Vec<Value> = get_passkey(&app, "", &app.read_key)
        .await
        .json()
        .await
        .expect("the list");
    assert_eq!(listed.len(), 3);
    for variant in VARIANTS {
        for entry in &listed {
            let id = entry["id"].as_str().expect("an id");
            for key in [&app.read_key, &app.key] {
                let response = get(&app, variant, id, key).await;
                assert_eq!(response.status(), 200, "{variant:?} {id}");
                assert_eq!(header(&response, "content-type"), "application/json");
                let body: Value = response.json().await.expect("the entry");
                assert_eq!(&body, entry, "{variant:?}: the list's shape");
            }
        }
    }
});

backend_test!(another_tenants_entry_is_the_same_404_as_no_entry, |app| {
    let other = Uuid::new_v4();
    let other_key = app.key_for(other, "read,write").await;
    let theirs = record(&app, other, &other_key, 1).await.remove(0);
    // It exists: its own tenant reads it.
    let own = get(&app, Variant::Admin, &theirs, &other_key).await;
    assert_eq!(own.status(), 200);
    let nobodys = Uuid::new_v4().to_string();
    for variant in VARIANTS {
        let for_theirs = error_body(
            get(&app, variant, &theirs, &app.read_key).await,
            variant,
            404,
        )
        .await;
        let for_none = error_body(
            get(&app, variant, &nobodys, &app.read_key).await,
            variant,
            404,
        )
        .await;
        assert_eq!(
            for_theirs, for_none,
            "{variant:?}: nothing tells another tenant's entry from no entry"
        );
    }
});

backend_test!(an_id_that_is_no_uuid_is_a_400_naming_it, |app| {
    for variant in VARIANTS {
        for raw in [
            "not-a-uuid",
            "123",
            "00000000-0000-0000-0000-00000000000g",
            "%FF",
        ] {
            let message = error(get(&app, variant, raw, &app.read_key).await, variant, 400).await;
            assert!(
                message.contains("parameter 'id'") && message.contains(raw),
                "{variant:?} {raw}: {message}"
            );
        }
    }
});

backend_test!(reading_one_entry_takes_a_read_key_of_its_tenant, |app| {
    let id = record(&app, app.tenant, &app.key, 1).await.remove(0);
    let other_key = app.key_for(Uuid::new_v4(), "read").await;
    for variant in VARIANTS {
        let url = match variant {
            Variant::Passkey => format!("{}/{id}", app.passkey_url()),
            Variant::Admin => format!("{}/{id}", app.admin_url()),
        };
        let without = app.client.get(&url).send().await.expect("a response");
        error(without, variant, 401).await;
        error(
            get(&app, variant, &id, "not-a-key-of-anyone").await,
            variant,
            401,
        )
        .await;
        let message = error(get(&app, variant, &id, &app.write_key).await, variant, 403).await;
        assert!(message.contains("'read'"), "{message}");
        // A key of another tenant: the passkey path names this tenant (403); the admin
        // API reads the key's own tenant, which has no such entry (404).
        let status = match variant {
            Variant::Passkey => 403,
            Variant::Admin => 404,
        };
        error(get(&app, variant, &id, &other_key).await, variant, status).await;
    }
    // A tenant that is not a UUID is named, after the key and before the id.
    for tenant in ["not-a-tenant", "%FF"] {
        let response = app
            .client
            .get(format!("{}/{tenant}/audit_logs/%FE", app.base))
            .header("apiKey", &app.read_key)
            .send()
            .await
            .expect("a response");
        let message = error(response, Variant::Passkey, 400).await;
        assert!(
            message.contains(&format!("'{tenant}' for path parameter 'tenant_id'")),
            "{message}"
        );
    }
});

backend_test!(the_routes_beside_an_entry_still_answer, |app| {
    let ids = record(&app, app.tenant, &app.key, 3).await;
    for variant in VARIANTS {
        // The log takes entries in within about a second.
        let mut proof = get(&app, variant, &format!("{}/proof", ids[2]), &app.read_key).await;
        for _ in 0..300 {
            if proof.status() != 404 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            proof = get(&app, variant, &format!("{}/proof", ids[2]), &app.read_key).await;
        }
        assert_eq!(proof.status(), 200, "{variant:?}: proof");
        let proof: Value = proof.json().await.expect("a proof");
        assert!(proof["leaf_index"].is_u64(), "{proof}");
        let size = proof["tree_size"].as_u64().expect("a tree size");

        let checkpoint = get(&app, variant, "checkpoint", &app.read_key).await;
        assert_eq!(checkpoint.status(), 200, "{variant:?}: checkpoint");
        assert_eq!(
            header(&checkpoint, "content-type"),
            "text/plain; charset=utf-8"
        );
        let consistency = get(
            &app,
            variant,
            &format!("consistency?from=1&to={size}"),
            &app.read_key,
        )
        .await;
        assert_eq!(consistency.status(), 200, "{variant:?}: consistency");
        let consistency: Value = consistency.json().await.expect("a proof");
        assert_eq!(consistency["to"], size);
        let export = get(&app, variant, "export", &app.read_key).await;
        assert_eq!(export.status(), 200, "{variant:?}: export");
        assert_eq!(header(&export, "content-type"), "application/x-ndjson");
        let lines = export.text().await.expect("the export");
        assert!(ids.iter().all(|id| lines.contains(id.as_str())));

        // One entry's path takes GET only, and answers other methods in the variant's
        // shape.
        let url = match variant {
            Variant::Passkey => format!("{}/{}", app.passkey_url(), ids[0]),
            Variant::Admin => format!("{}/{}", app.admin_url(), ids[0]),
        };
        let post = app
            .client
            .post(&url)
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("a response");
        error(post, variant, 405).await;
    }
});
