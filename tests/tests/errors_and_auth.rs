//! Every 400, the 401 and 403 rules, tenant isolation, revocation, and the JSON 404 and
//! 405 answers, in each variant's error shape.

use auditlog_domain::{AuditLogType, KeyStore};
use auditlog_tests::{backend_test, client::*};
use serde_json::Value;
use uuid::Uuid;

/// (query, parameter named, value named)
const BAD_QUERIES: &[(&str, &str, &str)] = &[
    ("page=0", "page", "0"),
    ("page=-3", "page", "-3"),
    ("page=two", "page", "two"),
    ("per_page=0", "per_page", "0"),
    ("per_page=1001", "per_page", "1001"),
    ("per_page=1.5", "per_page", "1.5"),
    ("page=1&page=2", "page", "2"),
    (
        "page=9223372036854775807&per_page=1000",
        "page",
        "9223372036854775807",
    ),
    ("start_time=yesterday", "start_time", "yesterday"),
    (
        "end_time=2024-13-01T00:00:00Z",
        "end_time",
        "2024-13-01T00:00:00Z",
    ),
    (
        "start_time=2024-01-01T00:00:00+02:00",
        "start_time",
        "2024-01-01T00:00:00 02:00",
    ),
    (
        "start_time=2024-02-01T00:00:00Z&end_time=2024-01-01T00:00:00Z",
        "end_time",
        "2024-01-01T00:00:00Z",
    ),
    (
        "start_time=2026-11-01T10:00:00.1234569Z&end_time=2026-11-01T10:00:00.1234561Z",
        "end_time",
        "2026-11-01T10:00:00.1234561Z",
    ),
    (
        "start_time=9999-12-31T23:59:59-00:01",
        "start_time",
        "9999-12-31T23:59:59-00:01",
    ),
    (
        "end_time=9999-12-31T23:58:59.9999999-00:01",
        "end_time",
        "9999-12-31T23:58:59.9999999-00:01",
    ),
    ("q=%FF", "q", "%FF"),
    ("actor_user_id=ab%FF%FEcd", "actor_user_id", "ab%FF%FEcd"),
    ("type=login_sucess", "type", "login_sucess"),
    (
        "type=login_success,,user_created",
        "type",
        "login_success,,user_created",
    ),
    ("meta_source_ip=10.0.0.256", "meta_source_ip", "10.0.0.256"),
    (
        "meta_source_ip=10.0.0.0/33",
        "meta_source_ip",
        "10.0.0.0/33",
    ),
    ("cursor=nonsense", "cursor", "nonsense"),
];

backend_test!(
    every_bad_parameter_is_a_400_naming_parameter_and_value,
    |app| {
        for (query, parameter, value) in BAD_QUERIES {
            let passkey = get_passkey(&app, query, &app.key).await;
            assert_eq!(passkey.status(), 400, "{query}");
            let body: Value = passkey.json().await.expect("json");
            assert_eq!(body["status"], 400);
            assert_eq!(body["title"], "Bad Request");
            let details = body["details"].as_str().expect("details");
            assert!(
                details.contains(&format!("'{parameter}'")) && details.contains(value),
                "{query}: {details}"
            );

            let admin = get_admin(&app, query, &app.key).await;
            assert_eq!(admin.status(), 400, "{query}");
            let body: Value = admin.json().await.expect("json");
            assert_eq!(body["code"], 400);
            let message = body["message"].as_str().expect("message");
            assert!(
                message.contains(&format!("'{parameter}'")) && message.contains(value),
                "{query}: {message}"
            );
        }
        let plus = get_passkey(&app, "start_time=2024-01-01T00:00:00+02:00", &app.key).await;
        assert!(
            plus.text().await.expect("text").contains("%2B"),
            "the 400 says to encode '+'"
        );
    }
);

backend_test!(unknown_and_empty_parameters_are_ignored, |app| {
    store_entries(&app, app.tenant, 3, AuditLogType::UserCreated, "erin").await;
    let response = get_passkey(
        &app,
        "color=red&q=&actor_email=&type=&utm=%E9t%E9&%FF=1",
        &app.key,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-total-count"), "3");
});

backend_test!(missing_wrong_or_malformed_keys_are_401_first, |app| {
    let url = app.passkey_url();
    let cases = [
        app.client.get(&url),
        app.client
            .get(&url)
            .header("apiKey", "alk_0000000000000000000000000000000000"),
        app.client
            .get(&url)
            .header("authorization", "Basic dXNlcjpwYXNz"),
        app.client.get(&url).bearer_auth("not-a-key"),
        // 401 comes before the 400 of a malformed tenant id and of a bad parameter.
        app.client
            .get(format!("{}/not-a-uuid/audit_logs?page=0", app.base)),
    ];
    for request in cases {
        let response = request.send().await.expect("response");
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], 401);
    }
    // The admin variant answers in its own shape, and names both ways to send a key.
    let admin = app
        .client
        .get(app.admin_url())
        .send()
        .await
        .expect("response");
    assert_eq!(admin.status(), 401);
    let body: Value = admin.json().await.expect("json");
    assert_eq!(body["code"], 401);
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("Bearer") && message.contains("apiKey"),
        "{message}"
    );
});

backend_test!(tenant_id_that_is_not_a_uuid_is_400_after_auth, |app| {
    let response = app
        .client
        .get(format!("{}/not-a-uuid/audit_logs", app.base))
        .header("apiKey", &app.key)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["details"]
            .as_str()
            .expect("details")
            .contains("'not-a-uuid'")
    );
    // Other spellings of the same UUID are not a second path to the tenant.
    for spelling in [
        format!("%7B{}%7D", app.tenant),
        app.tenant.simple().to_string(),
        format!("urn:uuid:{}", app.tenant),
    ] {
        for request in [
            app.client
                .get(format!("{}/{spelling}/audit_logs", app.base)),
            app.client
                .post(format!("{}/{spelling}/audit_logs", app.base))
                .json(&serde_json::json!([])),
        ] {
            let response = request
                .header("apiKey", &app.key)
                .send()
                .await
                .expect("response");
            assert_eq!(response.status(), 400, "{spelling}");
            let body: Value = response.json().await.expect("json");
            let details = body["details"].as_str().expect("details");
            assert!(details.contains("'tenant_id'"), "{details}");
            assert!(details.contains("36-character"), "{details}");
        }
    }
});

backend_test!(keys_of_other_tenants_and_missing_scopes_are_403, |app| {
    let other = Uuid::new_v4();
    let other_key = app.key_for(other, "read,write").await;
    // Another tenant's key: 403, whether or not the tenant in the path exists.
    for tenant in [app.tenant, Uuid::new_v4()] {
        let response = app
            .client
            .get(format!("{}/{tenant}/audit_logs", app.base))
            .header("apiKey", &other_key)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], 403);
    }
    // A key without the scope.
    assert_eq!(get_passkey(&app, "", &app.write_key).await.status(), 403);
    assert_eq!(get_admin(&app, "", &app.write_key).await.status(), 403);
    let post = app
        .client
        .post(app.passkey_url())
        .header("apiKey", &app.read_key)
        .json(&entry(1))
        .send()
        .await
        .expect("response");
    assert_eq!(post.status(), 403);
    let post = app
        .client
        .post(app.admin_url())
        .bearer_auth(&app.read_key)
        .json(&entry(1))
        .send()
        .await
        .expect("response");
    assert_eq!(post.status(), 403);
    let body: Value = post.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("'write'")
    );
});

backend_test!(tenants_never_see_each_other, |app| {
    let other = Uuid::new_v4();
    let other_key = app.key_for(other, "read,write").await;
    store_entries(&app, app.tenant, 4, AuditLogType::LoginSuccess, "mine").await;
    store_entries(&app, other, 6, AuditLogType::LoginSuccess, "theirs").await;
    let mine: Vec<Value> = get_admin(&app, "", &app.key)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(mine.len(), 4);
    assert!(
        mine.iter()
            .all(|e| e["tenant_id"] == app.tenant.to_string())
    );
    let theirs = get_admin(&app, "actor_user_id=mine", &other_key).await;
    assert_eq!(header(&theirs, "x-total-count"), "0");
    let theirs: Vec<Value> = app
        .client
        .get(format!("{}/{other}/audit_logs", app.base))
        .header("apiKey", &other_key)
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(theirs.len(), 6);
});

backend_test!(revoked_keys_stop_working_at_once, |app| {
    let key = app.key_for(app.tenant, "read").await;
    assert_eq!(get_passkey(&app, "", &key).await.status(), 200);
    let hash = auditlog_domain::ApiKeySecret::presented(&key).hash();
    let record = app
        .store
        .find_key(&hash)
        .await
        .expect("lookup")
        .expect("key");
    assert!(app.store.revoke_key(record.id).await.expect("revoke"));
    assert_eq!(get_passkey(&app, "", &key).await.status(), 401);
    assert_eq!(get_admin(&app, "", &key).await.status(), 401);
    assert_eq!(
        get_passkey(&app, "", &app.key).await.status(),
        200,
        "other keys keep working"
    );
});

backend_test!(
    unknown_routes_are_404_and_wrong_methods_405_in_json,
    |app| {
        let cases = [
            (app.client.get(format!("{}/nope", app.base)), 404, "status"),
            (
                app.client.get(format!("{}/admin/nope", app.base)),
                404,
                "code",
            ),
            (app.client.delete(app.admin_url()), 405, "code"),
            (app.client.put(app.passkey_url()), 405, "status"),
            (
                app.client.post(format!("{}/health", app.base)),
                405,
                "status",
            ),
        ];
        for (request, status, field) in cases {
            let response = request.send().await.expect("response");
            assert_eq!(response.status(), status);
            assert_eq!(header(&response, "content-type"), "application/json");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body[field], status);
        }
    }
);

backend_test!(every_response_has_a_request_id, |app| {
    let generated = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("response");
    assert_eq!(header(&generated, "x-request-id").len(), 36);
    let echoed = get_passkey(&app, "", &app.key).await;
    assert!(!header(&echoed, "x-request-id").is_empty());
    let own = app
        .client
        .get(format!("{}/nope", app.base))
        .header("x-request-id", "my-trace-42")
        .send()
        .await
        .expect("response");
    assert_eq!(header(&own, "x-request-id"), "my-trace-42");
});

backend_test!(health_and_ready_answer, |app| {
    let health = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("response");
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .expect("response");
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.expect("json")["status"],
        "ready"
    );
});

/// Registers a key of the app's tenant that expires at `expires_at`; returns its secret.
async fn expiring_key(app: &auditlog_tests::TestApp, expires_at: time::OffsetDateTime) -> String {
    let secret = auditlog_domain::ApiKeySecret::generate();
    app.store
        .register_key(auditlog_domain::NewApiKey {
            tenant_id: app.tenant,
            name: "expiring".into(),
            scopes: "read".parse().expect("scopes"),
            secret: secret.clone(),
            expires_at: Some(expires_at),
        })
        .await
        .expect("key");
    secret.expose().to_owned()
}

backend_test!(an_expired_key_is_refused_saying_so, |app| {
    let now = time::OffsetDateTime::now_utc();
    let later = expiring_key(&app, now + time::Duration::days(90)).await;
    assert_eq!(get_passkey(&app, "", &later).await.status(), 200);
    assert_eq!(get_admin(&app, "", &later).await.status(), 200);

    let expired = expiring_key(&app, now - time::Duration::seconds(1)).await;
    for (variant, response, field) in [
        ("passkey", get_passkey(&app, "", &expired).await, "details"),
        ("admin", get_admin(&app, "", &expired).await, "message"),
    ] {
        assert_eq!(response.status(), 401, "{variant}");
        let body: Value = response.json().await.expect("json");
        let message = body[field].as_str().unwrap_or_default();
        assert!(message.contains("expired at"), "{variant}: {body}");
    }
    // A wrong key is still told apart from nothing, and says nothing of expiry.
    let wrong = get_passkey(&app, "", "alk_not-a-key").await;
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.expect("text");
    assert!(!body.contains("expired"), "{body}");
});

backend_test!(a_keys_last_use_is_kept_to_the_minute, |app| {
    let key = app.key_for(app.tenant, "read").await;
    let hash = auditlog_domain::ApiKeySecret::presented(&key).hash();
    let stored = || async {
        app.store
            .find_key(&hash)
            .await
            .expect("lookup")
            .expect("key")
            .last_used_at
    };
    assert_eq!(stored().await, None, "never used yet");
    let before = time::OffsetDateTime::now_utc();
    assert_eq!(get_passkey(&app, "", &key).await.status(), 200);
    // Written off the request's path: it shows shortly after.
    let mut first = None;
    for _ in 0..100 {
        first = stored().await;
        if first.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let first = first.expect("the use is recorded");
    assert!(
        first >= before - time::Duration::seconds(1),
        "{first} vs {before}"
    );
    // More uses within the minute write nothing.
    for _ in 0..5 {
        assert_eq!(get_admin(&app, "", &key).await.status(), 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(stored().await, Some(first));
});
