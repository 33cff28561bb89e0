//! Who read the log: every keyed GET of the document, in both variants, leaves a record
//! that names its key, operation, path, parameters and entry count; what was refused
//! before anything was read leaves none; the access log needs its own scope, stays
//! within its tenant, and pages by cursor.

use std::time::{Duration, Instant};

use auditlog_domain::{ApiKeySecret, KeyStore};
use auditlog_tests::{TestApp, backend_test, client::*, variant::*};
use serde_json::{Value, json};
use uuid::Uuid;

/// The id of the key whose secret is `secret`.
async fn key_id(app: &TestApp, secret: &str) -> Uuid {
    app.store
        .find_key(&ApiKeySecret::presented(secret).hash())
        .await
        .expect("the store answers")
        .expect("the key exists")
        .id
}

/// GET `path_and_query` (below the base) with `key` in the variant's header.
async fn get_path(app: &TestApp, path_and_query: &str, key: &str) -> reqwest::Response {
    let request = app.client.get(format!("{}{path_and_query}", app.base));
    let request = if path_and_query.starts_with("/admin/") {
        request.bearer_auth(key)
    } else {
        request.header("apiKey", key)
    };
    request.send().await.expect("a response")
}

/// The tenant's access log as `key` reads it through the admin variant, whole.
async fn access_log(app: &TestApp, key: &str) -> Vec<Value> {
    let response = get_path(app, "/admin/access_logs?per_page=1000", key).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("records")
}

/// Waits until the access log holds a record of each of `request_ids`; returns them in
/// that order.
async fn records_of(app: &TestApp, request_ids: &[String]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = access_log(app, &app.access_key).await;
        let found: Vec<Option<&Value>> = request_ids
            .iter()
            .map(|id| log.iter().find(|r| r["request_id"] == id.as_str()))
            .collect();
        if found.iter().all(Option::is_some) {
            return found.into_iter().flatten().cloned().collect();
        }
        assert!(
            Instant::now() < deadline,
            "reads still unrecorded after 10 s: {request_ids:?} in {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the tenant's log has a checkpoint of `size` leaves.
async fn wait_for_log(app: &TestApp, size: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = get(app, Variant::Admin, "checkpoint", &app.read_key).await;
        if response.status() == 200 {
            let note = response.text().await.expect("a note");
            if note.lines().nth(1) == Some(size.to_string().as_str()) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the log did not reach {size}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

backend_test!(
    every_keyed_read_of_the_document_is_recorded_as_it_was_made,
    |app| {
        let ids: Vec<String> = record_batch(
            &app,
            app.tenant,
            &app.key,
            &(0..8).map(entry_with_id).collect::<Vec<_>>(),
        )
        .await
        .iter()
        .map(|e| e["id"].as_str().expect("an id").to_owned())
        .collect();
        wait_for_log(&app, 8).await;
        let read_id = key_id(&app, &app.read_key).await;
        let access_id = key_id(&app, &app.access_key).await;
        let started = time::OffsetDateTime::now_utc();

        // Every GET that takes a key, as the served document lists it: a read the access
        // log does not record fails here, whatever its path.
        let document = auditlog_http::openapi_document();
        let mut expected = Vec::new();
        for (template, item) in &document.paths.paths {
            let Some(operation) = &item.get else {
                continue;
            };
            if operation.security.as_ref().is_none_or(Vec::is_empty) {
                continue;
            }
            let operation_id = operation.operation_id.clone().expect("an operation id");
            let name = operation_id
                .strip_prefix("passkey_")
                .or_else(|| operation_id.strip_prefix("admin_"))
                .expect("a variant's operation")
                .to_owned();
            let path = template
                .replace("{tenant_id}", &app.tenant.to_string())
                .replace("{id}", &ids[1]);
            // A query each, with the entries it returns among the eight (one is user1's).
            // A parameter no read takes (a key pasted into the URL) is not recorded.
            let (query, parameters, returned) = match name.as_str() {
                "list_audit_logs" => (
                    "actor_email=user1%40example.com&type=login_success&type=login_failure&per_page=5&q=&apiKey=alk_pasted_by_mistake",
                    json!({"actor_email": "user1@example.com", "type": ["login_success", "login_failure"], "per_page": "5"}),
                    Some(1),
                ),
                "get_audit_log" => ("", json!({}), Some(1)),
                "export_audit_logs" => (
                    "format=csv&actor_email=User1%40Example.com",
                    json!({"format": "csv", "actor_email": "User1@Example.com"}),
                    Some(1),
                ),
                "get_checkpoint" => ("", json!({}), Some(0)),
                "get_inclusion_proof" => ("tree_size=8", json!({"tree_size": "8"}), Some(0)),
                "get_consistency_proof" => {
                    ("from=2&to=8", json!({"from": "2", "to": "8"}), Some(0))
                }
                "list_access_logs" => (
                    "per_page=3&operation=get_checkpoint",
                    json!({"per_page": "3", "operation": "get_checkpoint"}),
                    None,
                ),
                other => panic!("{operation_id}: a keyed read this test does not know ({other})"),
            };
            let (key, key_id) = if name == "list_access_logs" {
                (&app.access_key, access_id)
            } else {
                (&app.read_key, read_id)
            };
            let response = get_path(&app, &format!("{path}?{query}"), key).await;
            assert_eq!(response.status(), 200, "{operation_id}");
            let request_id = header(&response, "x-request-id");
            let body = response.bytes().await.expect("the whole answer");
            // The access log's own page holds what it says it holds.
            let returned = returned.unwrap_or_else(|| {
                serde_json::from_slice::<Vec<Value>>(&body)
                    .expect("records")
                    .len()
            });
            expected.push((
                operation_id,
                request_id,
                key_id,
                name,
                path,
                parameters,
                returned,
            ));
        }
        assert_eq!(expected.len(), 14, "seven keyed reads in each variant");

        let request_ids: Vec<String> = expected.iter().map(|e| e.1.clone()).collect();
        let records = records_of(&app, &request_ids).await;
        let finished = time::OffsetDateTime::now_utc();
        for ((operation_id, _, key_id, name, path, parameters, returned), record) in
            expected.iter().zip(&records)
        {
            assert_eq!(
                record["tenant_id"],
                app.tenant.to_string(),
                "{operation_id}"
            );
            assert_eq!(record["key_id"], key_id.to_string(), "{operation_id}");
            assert_eq!(record["operation"], name.as_str(), "{operation_id}");
            assert_eq!(record["path"], path.as_str(), "{operation_id}");
            assert_eq!(&record["parameters"], parameters, "{operation_id}");
            assert_eq!(record["returned"], *returned, "{operation_id}");
            let at = time::OffsetDateTime::parse(
                record["at"].as_str().expect("a time"),
                &time::format_description::well_known::Rfc3339,
            )
            .expect("RFC 3339");
            assert!(started <= at && at <= finished, "{operation_id}: {at}");
        }
        // Records are not entries: the tenant's entries are still the eight it recorded.
        let listed = get_admin(&app, "per_page=100", &app.read_key).await;
        assert_eq!(header(&listed, "x-total-count"), "8");
    }
);

backend_test!(
    a_refused_read_leaves_no_record_and_a_missing_entry_one_of_nothing,
    |app| {
        let refused = [
            get_passkey(&app, "per_page=0", &app.read_key).await,
            get_admin(&app, "", &app.write_key).await,
            get(
                &app,
                Variant::Passkey,
                "consistency?from=9&to=1",
                &app.read_key,
            )
            .await,
        ];
        let mut refused_ids = Vec::new();
        for response in refused {
            assert!(response.status().is_client_error(), "{}", response.url());
            refused_ids.push(header(&response, "x-request-id"));
        }
        let missing = get(
            &app,
            Variant::Admin,
            &Uuid::new_v4().to_string(),
            &app.read_key,
        )
        .await;
        assert_eq!(missing.status(), 404);
        let missing_id = header(&missing, "x-request-id");
        // Records are written in the order their reads were answered: once the last one
        // is there, any of the refused ones would be too.
        let record = records_of(&app, std::slice::from_ref(&missing_id)).await;
        assert_eq!(record[0]["operation"], "get_audit_log");
        assert_eq!(record[0]["returned"], 0);
        let log = access_log(&app, &app.access_key).await;
        for id in &refused_ids {
            assert!(
                !log.iter().any(|r| r["request_id"] == id.as_str()),
                "a refused read was recorded: {id}"
            );
        }
    }
);

backend_test!(
    the_access_log_takes_its_own_scope_and_keeps_to_its_tenant,
    |app| {
        for variant in VARIANTS {
            let path = match variant {
                Variant::Passkey => format!("/{}/access_logs", app.tenant),
                Variant::Admin => "/admin/access_logs".to_owned(),
            };
            for key in [&app.read_key, &app.key, &app.write_key] {
                let message = error(get_path(&app, &path, key).await, variant, 403).await;
                assert!(
                    message.contains("'access_log' scope"),
                    "{variant:?}: {message}"
                );
            }
            // The scope reads who read, not the entries.
            let list = match variant {
                Variant::Passkey => get_passkey(&app, "", &app.access_key).await,
                Variant::Admin => get_admin(&app, "", &app.access_key).await,
            };
            let message = error(list, variant, 403).await;
            assert!(message.contains("'read' scope"), "{variant:?}: {message}");
            let unauthenticated = app
                .client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .expect("a response");
            error(unauthenticated, variant, 401).await;
        }

        // Another tenant's auditor sees its own tenant's reads, never these.
        let own = get_admin(&app, "", &app.read_key).await;
        let own_id = header(&own, "x-request-id");
        records_of(&app, std::slice::from_ref(&own_id)).await;
        let other = Uuid::new_v4();
        let other_auditor = app.key_for(other, "access_log").await;
        let message = error(
            get_path(
                &app,
                &format!("/{}/access_logs", app.tenant),
                &other_auditor,
            )
            .await,
            Variant::Passkey,
            403,
        )
        .await;
        assert!(message.contains("does not belong"), "{message}");
        let theirs = access_log(&app, &other_auditor).await;
        assert!(
            theirs.iter().all(|r| r["tenant_id"] == other.to_string()),
            "{theirs:#?}"
        );
        assert!(!theirs.iter().any(|r| r["request_id"] == own_id.as_str()));
    }
);

backend_test!(
    the_access_log_pages_by_cursor_and_filters_by_key_and_operation,
    |app| {
        let mut request_ids = Vec::new();
        for key in [
            &app.read_key,
            &app.key,
            &app.read_key,
            &app.key,
            &app.read_key,
        ] {
            let response = get_admin(&app, "", key).await;
            assert_eq!(response.status(), 200);
            request_ids.push(header(&response, "x-request-id"));
        }
        records_of(&app, &request_ids).await;
        let read_id = key_id(&app, &app.read_key).await;

        for variant in VARIANTS {
            let path = match variant {
                Variant::Passkey => format!("/{}/access_logs", app.tenant),
                Variant::Admin => "/admin/access_logs".to_owned(),
            };
            // Newest first, two a page, by cursor: every list read once, in order.
            let mut seen = Vec::new();
            let mut query = "operation=list_audit_logs&per_page=2".to_owned();
            let mut pages = 0;
            loop {
                let response = get_path(&app, &format!("{path}?{query}"), &app.access_key).await;
                assert_eq!(response.status(), 200);
                let next = header(&response, "x-next-cursor");
                let page: Vec<Value> = response.json().await.expect("records");
                assert!(page.len() <= 2);
                seen.extend(page.iter().map(|r| r["request_id"].clone()));
                pages += 1;
                if next.is_empty() {
                    break;
                }
                query = format!("operation=list_audit_logs&per_page=2&cursor={next}");
                assert!(pages < 10, "the cursor does not advance");
            }
            let mut newest_first: Vec<Value> = request_ids.iter().map(|id| json!(id)).collect();
            newest_first.reverse();
            assert_eq!(seen, newest_first, "{variant:?}");

            let by_key = get_path(
                &app,
                &format!("{path}?operation=list_audit_logs&key_id={read_id}"),
                &app.access_key,
            )
            .await;
            let by_key: Vec<Value> = by_key.json().await.expect("records");
            assert_eq!(by_key.len(), 3, "{variant:?}");
            assert!(by_key.iter().all(|r| r["key_id"] == read_id.to_string()));

            for (query, parameter) in [
                ("cursor=yesterday", "cursor"),
                ("per_page=1001", "per_page"),
                ("operation=delete_audit_logs", "operation"),
                ("key_id=7", "key_id"),
            ] {
                let message = error(
                    get_path(&app, &format!("{path}?{query}"), &app.access_key).await,
                    variant,
                    400,
                )
                .await;
                assert!(
                    message.contains(&format!("'{parameter}'")),
                    "{query}: {message}"
                );
            }
        }
    }
);
