//! Recording over HTTP: batches, atomicity, idempotency, conflicts, limits, concurrency.

use std::collections::HashSet;

use auditlog_http::HttpConfig;
use auditlog_tests::{Backend, TestApp, TestDatabase, backend_test, client::*};
use serde_json::{Value, json};

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.passkey_url())
        .header("apiKey", &app.key)
        .json(body)
        .send()
        .await
        .expect("response")
}

async fn total(app: &TestApp) -> u64 {
    header(
        &get_admin(app, "per_page=1", &app.key).await,
        "x-total-count",
    )
    .parse()
    .expect("a count")
}

backend_test!(a_batch_of_1000_is_stored_in_one_request, |app| {
    let batch: Vec<Value> = (0..1000).map(entry).collect();
    let response = post(&app, &json!(batch)).await;
    assert_eq!(response.status(), 201);
    let stored: Vec<Value> = response.json().await.expect("json");
    assert_eq!(stored.len(), 1000);
    assert_eq!(
        stored[999]["meta_http_request_id"], "req-999",
        "answers in the order sent"
    );
    assert_eq!(total(&app).await, 1000);
});

backend_test!(a_batch_of_1001_or_none_is_refused, |app| {
    let batch: Vec<Value> = (0..1001).map(entry).collect();
    let response = post(&app, &json!(batch)).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.expect("text").contains("1001"));
    assert_eq!(post(&app, &json!([])).await.status(), 400);
    assert_eq!(total(&app).await, 0);
});

backend_test!(one_object_in_one_object_out, |app| {
    let response = app
        .client
        .post(app.admin_url())
        .bearer_auth(&app.key)
        .json(&entry(1))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.expect("json");
    assert!(stored.is_object());
    assert_eq!(stored["tenant_id"], app.tenant.to_string());
    assert_eq!(stored["actor_email"], "User1@Example.com");
});

backend_test!(an_invalid_entry_in_the_middle_stores_nothing, |app| {
    let mut batch: Vec<Value> = (0..10).map(entry_with_id).collect();
    batch[5]["meta_source_ip"] = json!("not-an-ip");
    let response = post(&app, &json!(batch)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    let details = body["details"].as_str().expect("details");
    assert!(
        details.contains("entry 5")
            && details.contains("meta_source_ip")
            && details.contains("not-an-ip"),
        "{details}"
    );
    assert_eq!(total(&app).await, 0);

    for (field, value) in [
        ("type", json!("nope")),
        ("actor_email", json!("x".repeat(321))),
        ("error", json!("a\u{0}b")),
        ("details", json!("text")),
        ("created_at", json!("2999-01-01T00:00:00Z")),
        ("extra", json!(1)),
    ] {
        let mut batch: Vec<Value> = (0..3).map(entry).collect();
        batch[2][field] = value;
        let response = app
            .client
            .post(app.admin_url())
            .bearer_auth(&app.key)
            .json(&batch)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 400, "{field}");
        let body: Value = response.json().await.expect("json");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains("entry 2") && message.contains(field),
            "{message}"
        );
    }
    let not_json = app
        .client
        .post(app.passkey_url())
        .header("apiKey", &app.key)
        .body("{")
        .send()
        .await
        .expect("response");
    assert_eq!(not_json.status(), 400);
    assert_eq!(total(&app).await, 0);
});

backend_test!(
    the_same_batch_twice_is_stored_once_and_answered_alike,
    |app| {
        let batch: Vec<Value> = (0..50).map(entry_with_id).collect();
        let first = post(&app, &json!(batch)).await;
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.expect("json");
        let second = post(&app, &json!(batch)).await;
        assert_eq!(second.status(), 201);
        let second: Value = second.json().await.expect("json");
        assert_eq!(first, second);
        assert_eq!(total(&app).await, 50);
    }
);

backend_test!(a_conflicting_id_is_409_and_changes_nothing, |app| {
    let original = entry_with_id(1);
    assert_eq!(post(&app, &original).await.status(), 201);
    let mut changed = original.clone();
    changed["meta_user_agent"] = json!("someone else");
    let batch = json!([entry_with_id(2), changed]);
    let response = post(&app, &batch).await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["details"]
            .as_str()
            .expect("details")
            .contains(original["id"].as_str().expect("id"))
    );
    let items: Vec<Value> = get_admin(&app, "", &app.key)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        items.len(),
        1,
        "the other entry of the batch was not stored either"
    );
    assert_eq!(items[0]["meta_user_agent"], "e2e-test");
});

backend_test!(duplicate_ids_inside_one_batch, |app| {
    let one = entry_with_id(1);
    let response = post(&app, &json!([one, one, entry(2)])).await;
    assert_eq!(response.status(), 201);
    let stored: Vec<Value> = response.json().await.expect("json");
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0], stored[1]);
    assert_eq!(total(&app).await, 2);

    let mut other = one.clone();
    other["id"] = json!(uuid::Uuid::new_v4());
    let mut different = other.clone();
    different["actor_user_id"] = json!("someone-else");
    let response = post(&app, &json!([entry(3), other, different])).await;
    assert_eq!(response.status(), 409);
    let details = response.json::<Value>().await.expect("json")["details"]
        .as_str()
        .expect("details")
        .to_owned();
    assert!(details.contains("entries 1 and 2"), "{details}");
    assert_eq!(total(&app).await, 2);
});

backend_test!(eight_concurrent_producers_deliver_the_exact_total, |app| {
    let mut producers = Vec::new();
    for producer in 0..8 {
        let app = app.clone();
        producers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for batch in 0..50 {
                let entries: Vec<Value> = (0..10)
                    .map(|n| entry_with_id(producer * 1000 + batch * 10 + n))
                    .collect();
                ids.extend(
                    entries
                        .iter()
                        .map(|e| e["id"].as_str().expect("id").to_owned()),
                );
                let response = post(&app, &json!(entries)).await;
                assert_eq!(
                    response.status(),
                    201,
                    "{}",
                    response.text().await.unwrap_or_default()
                );
            }
            ids
        }));
    }
    let mut sent = HashSet::new();
    for producer in producers {
        sent.extend(producer.await.expect("producer"));
    }
    assert_eq!(sent.len(), 4000);
    assert_eq!(total(&app).await, 4000);
    let mut listed = HashSet::new();
    for page in 1..=4 {
        let items: Vec<Value> = get_admin(&app, &format!("per_page=1000&page={page}"), &app.key)
            .await
            .json()
            .await
            .expect("json");
        listed.extend(
            items
                .into_iter()
                .map(|e| e["id"].as_str().expect("id").to_owned()),
        );
    }
    assert_eq!(listed, sent, "every acknowledged entry, no duplicates");
});

/// Sends a POST that announces a 5 MiB body but sends none of it, and reads the status:
/// the server must answer from the headers alone.
async fn announce_huge_body(app: &TestApp, key: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = key.map(|k| format!("apiKey: {k}\r\n")).unwrap_or_default();
    let request = format!(
        "POST /{}/audit_logs HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n",
        app.tenant,
        5 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("}") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, text)
}

backend_test!(auth_comes_before_the_body_limit, |app| {
    let (status, text) = announce_huge_body(&app, None).await;
    assert_eq!(status, 401, "{text}");
    let (status, text) = announce_huge_body(&app, Some(&app.key)).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("\"status\":413"), "{text}");
});

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::start_with(
        &db,
        HttpConfig {
            body_limit: 2048,
            ..HttpConfig::default()
        },
    )
    .await;
    let small: Vec<Value> = (0..2).map(entry).collect();
    assert_eq!(post(&app, &json!(small)).await.status(), 201);
    let big: Vec<Value> = (0..20).map(entry).collect();
    let response = app
        .client
        .post(app.admin_url())
        .bearer_auth(&app.key)
        .json(&big)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.expect("json")["code"], 413);
    app.stop().await;
    db.drop_database().await;
}

backend_test!(
    a_write_only_key_cannot_read_a_stored_entry_by_resending_its_id,
    |app| {
        // A producer stores an entry with personal data under an id.
        let mut full = entry(1);
        full["id"] = json!("0190a9a4-0000-7000-8000-00000000abcd");
        full["actor_email"] = json!("victim@example.com");
        full["details"] = json!({"secret": "s3cret"});
        assert_eq!(post(&app, &full).await.status(), 201);

        // A write-only key resends the id with only the required fields.
        let writer = app.key_for(app.tenant, "write").await;
        let mut bare = entry(1);
        bare["id"] = full["id"].clone();
        for resend in [bare.clone(), {
            let mut without_details = full.clone();
            without_details
                .as_object_mut()
                .expect("object")
                .remove("details");
            without_details
        }] {
            let response = app
                .client
                .post(app.passkey_url())
                .header("apiKey", &writer)
                .json(&resend)
                .send()
                .await
                .expect("response");
            assert_eq!(
                response.status(),
                409,
                "an incomplete resend is a difference"
            );
            let body = response.text().await.expect("text");
            for stored in ["victim@example.com", "s3cret", "secret", "actor_email"] {
                assert!(!body.contains(stored), "the 409 reveals {stored}: {body}");
            }
        }
        // The complete resend succeeds, and answers only what was sent and assigned.
        let response = app
            .client
            .post(app.passkey_url())
            .header("apiKey", &writer)
            .json(&full)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 201);
        let stored: Value = response.json().await.expect("json");
        assert_eq!(stored["actor_email"], "victim@example.com");
        assert_eq!(total(&app).await, 1);
    }
);
