//! Listing over HTTP: pagination, Link and X-Total-Count, filters, both variants.

use auditlog_domain::AuditLogType;
use auditlog_tests::{backend_test, client::*};
use serde_json::Value;

fn page_of(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("page="))
        .unwrap_or_default()
        .to_owned()
}

backend_test!(
    links_on_first_middle_last_and_empty_pages_keep_every_filter,
    |app| {
        store_entries(&app, app.tenant, 45, AuditLogType::LoginSuccess, "alice").await;
        store_entries(&app, app.tenant, 5, AuditLogType::LoginSuccess, "bob").await;
        store_entries(&app, app.tenant, 5, AuditLogType::LoginFailure, "alice").await;
        let filters = "type=login_success&actor_user_id=alice&per_page=10";

        let first = get_passkey(&app, &format!("{filters}&page=1"), &app.key).await;
        assert_eq!(first.status(), 200);
        assert_eq!(header(&first, "x-total-count"), "45");
        let rels: Vec<String> = links(&first).into_iter().map(|(rel, _)| rel).collect();
        assert_eq!(rels, ["first", "next", "last"]);
        for (_, url) in links(&first) {
            assert!(url.starts_with(&app.passkey_url()), "{url}");
            assert!(
                url.contains("type=login_success")
                    && url.contains("actor_user_id=alice")
                    && url.contains("per_page=10"),
                "{url}"
            );
        }
        assert_eq!(page_of(&link(&first, "next").expect("next")), "2");
        assert_eq!(page_of(&link(&first, "last").expect("last")), "5");
        let items: Vec<Value> = first.json().await.expect("json");
        assert_eq!(items.len(), 10);

        let middle = get_passkey(&app, &format!("{filters}&page=3"), &app.key).await;
        assert_eq!(page_of(&link(&middle, "prev").expect("prev")), "2");
        assert_eq!(page_of(&link(&middle, "next").expect("next")), "4");
        assert_eq!(page_of(&link(&middle, "first").expect("first")), "1");

        let last = get_passkey(&app, &format!("{filters}&page=5"), &app.key).await;
        assert_eq!(link(&last, "next"), None);
        assert_eq!(page_of(&link(&last, "prev").expect("prev")), "4");
        assert_eq!(last.json::<Vec<Value>>().await.expect("json").len(), 5);

        let past = get_passkey(&app, &format!("{filters}&page=9"), &app.key).await;
        assert_eq!(past.status(), 200);
        assert_eq!(header(&past, "x-total-count"), "45");
        assert_eq!(link(&past, "next"), None);
        assert_eq!(page_of(&link(&past, "prev").expect("prev")), "5");
        assert_eq!(
            past.json::<Vec<Value>>().await.expect("json"),
            Vec::<Value>::new()
        );

        let none = get_passkey(&app, "actor_user_id=nobody", &app.key).await;
        assert_eq!(header(&none, "x-total-count"), "0");
        assert_eq!(page_of(&link(&none, "last").expect("last")), "1");
        assert_eq!(link(&none, "next"), None);

        // Following every next link walks each entry exactly once, in order.
        let mut url = Some(format!("{}?{filters}", app.passkey_url()));
        let mut seen = Vec::new();
        while let Some(next) = url {
            let response = app
                .client
                .get(&next)
                .header("apiKey", &app.key)
                .send()
                .await
                .expect("response");
            url = link(&response, "next");
            seen.extend(response.json::<Vec<Value>>().await.expect("json"));
        }
        assert_eq!(seen.len(), 45);
        let times: Vec<&str> = seen
            .iter()
            .map(|e| e["created_at"].as_str().expect("time"))
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    }
);

backend_test!(entries_carry_every_field_and_leave_out_empty_ones, |app| {
    let body = serde_json::json!({
        "type": "password_login_failed", "error": "password incorrect",
        "meta_http_request_id": "r1", "meta_source_ip": "::ffff:203.0.113.9",
        "meta_user_agent": "ua", "actor_email": "a@example.com", "details": {"login_method": "password"},
        "created_at": "2024-05-01T14:00:00.1234567+02:00"
    });
    let created = app
        .client
        .post(app.passkey_url())
        .header("apiKey", &app.key)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 201);
    let items: Vec<Value> = get_admin(&app, "", &app.key)
        .await
        .json()
        .await
        .expect("json");
    let entry = items[0].as_object().expect("object");
    assert_eq!(entry["tenant_id"], app.tenant.to_string());
    assert_eq!(entry["type"], "password_login_failed");
    assert_eq!(entry["meta_source_ip"], "203.0.113.9");
    assert_eq!(entry["created_at"], "2024-05-01T12:00:00.123456Z");
    assert_eq!(entry["details"]["login_method"], "password");
    assert!(entry.contains_key("updated_at") && entry.contains_key("id"));
    assert!(
        !entry.contains_key("actor_user_id"),
        "empty optional fields are left out"
    );

    // Sent empty, optional fields are left out too, in the answer and when listed.
    let empty = serde_json::json!({
        "type": "login_success", "meta_http_request_id": "r2", "meta_source_ip": "1.2.3.4",
        "meta_user_agent": "ua", "error": "", "actor_email": "", "details": {}
    });
    let created: Value = app
        .client
        .post(app.passkey_url())
        .header("apiKey", &app.key)
        .json(&empty)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let listed: Vec<Value> = get_admin(&app, "type=login_success", &app.key)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed.len(), 1);
    for entry in [&created, &listed[0]] {
        let entry = entry.as_object().expect("object");
        for field in ["error", "actor_email", "details"] {
            assert!(!entry.contains_key(field), "{field} left out: {entry:?}");
        }
    }
});

backend_test!(filters_work_through_both_variants, |app| {
    store_entries(&app, app.tenant, 3, AuditLogType::LoginSuccess, "Carol%_x").await;
    store_entries(&app, app.tenant, 2, AuditLogType::PasskeyCreated, "dave").await;
    for (query, expected) in [
        ("type=login_success,passkey_created", "5"),
        ("type=passkey_created&type=user_created", "2"),
        ("actor_user_id=Carol%25_x", "3"),
        ("actor_user_id=carol%25_x", "0"),
        ("q=ROL%25_", "3"),
        ("q=rol__", "0"),
        ("meta_source_ip=192.0.2.0/24", "5"),
        ("meta_source_ip=192.0.3.0/24", "0"),
        ("q=192.0.2", "5"),
        (
            "start_time=2000-01-01T00:00:00Z&end_time=2000-01-02T00:00:00Z",
            "0",
        ),
    ] {
        let passkey = get_passkey(&app, query, &app.key).await;
        assert_eq!(passkey.status(), 200, "{query}");
        assert_eq!(header(&passkey, "x-total-count"), expected, "{query}");
        let admin = get_admin(&app, query, &app.key).await;
        assert_eq!(header(&admin, "x-total-count"), expected, "{query}");
    }
});

backend_test!(public_url_is_the_base_of_links_else_the_host, |app| {
    let response = app
        .client
        .get(app.passkey_url())
        .header("apiKey", &app.key)
        .header("host", "audit.example.com")
        .send()
        .await
        .expect("response");
    let first = link(&response, "first").expect("first");
    assert!(
        first.starts_with(&format!(
            "http://audit.example.com/{}/audit_logs?",
            app.tenant
        )),
        "{first}"
    );
});

backend_test!(
    links_over_http2_name_the_host_the_request_was_sent_to,
    |app| {
        // HTTP/2 sends the host as `:authority`, never as a Host header.
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .expect("a client");
        for (url, auth, key) in [
            (app.passkey_url(), "apiKey", app.key.clone()),
            (
                app.admin_url(),
                "authorization",
                format!("Bearer {}", app.key),
            ),
        ] {
            let response = client
                .get(&url)
                .header(auth, key)
                .send()
                .await
                .expect("response");
            assert_eq!(response.version(), reqwest::Version::HTTP_2);
            assert_eq!(response.status(), 200, "{url}");
            let first = link(&response, "first").expect("first");
            assert!(first.starts_with(&format!("{url}?")), "{first} for {url}");
        }
    }
);

backend_test!(
    keyset_mode_walks_every_entry_once_in_the_offset_order,
    |app| {
        store_entries(&app, app.tenant, 23, AuditLogType::LoginSuccess, "kim").await;
        store_entries(&app, app.tenant, 4, AuditLogType::LoginFailure, "kim").await;
        let filter = "actor_user_id=kim&type=login_success";
        let mut offset_order = Vec::new();
        for page in 1..=3 {
            let items: Vec<Value> =
                get_passkey(&app, &format!("{filter}&per_page=10&page={page}"), &app.key)
                    .await
                    .json()
                    .await
                    .expect("json");
            offset_order.extend(items.into_iter().map(|e| e["id"].clone()));
        }
        assert_eq!(offset_order.len(), 23);

        let first = get_passkey(&app, &format!("{filter}&per_page=10"), &app.key).await;
        let cursor = header(&first, "x-next-cursor");
        assert_eq!(
            cursor.len(),
            48,
            "a full page with more to come carries a cursor"
        );
        let mut keyset_order: Vec<Value> = first
            .json::<Vec<Value>>()
            .await
            .expect("json")
            .into_iter()
            .map(|e| e["id"].clone())
            .collect();
        let mut next = Some(format!(
            "{}?{filter}&per_page=10&cursor={cursor}",
            app.passkey_url()
        ));
        let mut requests = 0;
        while let Some(url) = next {
            requests += 1;
            assert!(requests < 10, "the walk ends");
            let response = app
                .client
                .get(&url)
                .header("apiKey", &app.key)
                .send()
                .await
                .expect("response");
            assert_eq!(response.status(), 200);
            assert_eq!(header(&response, "x-total-count"), "23");
            let last = link(&response, "last").expect("last in keyset mode too");
            assert!(
                last.contains("page=3") && last.contains("actor_user_id=kim"),
                "{last}"
            );
            next = link(&response, "next");
            if let Some(url) = &next {
                assert!(
                    url.contains("cursor=")
                        && url.contains("actor_user_id=kim")
                        && url.contains("type=login_success"),
                    "{url}"
                );
            }
            keyset_order.extend(
                response
                    .json::<Vec<Value>>()
                    .await
                    .expect("json")
                    .into_iter()
                    .map(|e| e["id"].clone()),
            );
        }
        assert_eq!(keyset_order, offset_order);

        let last_page = get_passkey(&app, &format!("{filter}&per_page=10&page=3"), &app.key).await;
        assert_eq!(
            header(&last_page, "x-next-cursor"),
            "",
            "no cursor when nothing follows"
        );
        // `page=1` with a cursor is the page after the cursor (clients that send every
        // default do so); any other page with a cursor is refused, naming `page`.
        let alone = get_passkey(
            &app,
            &format!("{filter}&per_page=10&cursor={cursor}"),
            &app.key,
        )
        .await
        .json::<Value>()
        .await
        .expect("json");
        for variant in ["page=1", "page=01"] {
            let with_page = get_passkey(
                &app,
                &format!("{filter}&{variant}&per_page=10&cursor={cursor}"),
                &app.key,
            )
            .await;
            assert_eq!(with_page.status(), 200, "{variant}");
            assert_eq!(with_page.json::<Value>().await.expect("json"), alone);
        }
        let both = get_admin(&app, &format!("page=2&cursor={cursor}"), &app.key).await;
        assert_eq!(both.status(), 400);
        let body: Value = both.json().await.expect("json");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("parameter 'page'"), "{message}");
    }
);

#[tokio::test]
async fn links_use_the_public_url_when_configured() {
    use auditlog_tests::{Backend, TestApp, TestDatabase};
    let db = TestDatabase::create(Backend::Sqlite).await;
    let config = auditlog_http::HttpConfig {
        public_url: Some("https://audit.example.com/base/".into()),
        ..Default::default()
    };
    let app = TestApp::start_with(&db, config).await;
    let response = get_admin(&app, "q=a%26b", &app.key).await;
    let first = link(&response, "first").expect("first");
    assert_eq!(
        first,
        "https://audit.example.com/base/admin/audit_logs?q=a%26b&page=1&per_page=20"
    );
    app.stop().await;
    db.drop_database().await;
}

backend_test!(a_long_query_gets_no_link_rather_than_huge_headers, |app| {
    store_entries(&app, app.tenant, 3, AuditLogType::LoginSuccess, "link").await;
    // Every filter is kept in each link: a 30,000-character actor id would make at
    // least 60 KB of `Link` (first and last).
    let long = format!("actor_user_id={}", "u".repeat(30_000));
    for response in [
        get_passkey(&app, &long, &app.read_key).await,
        get_admin(&app, &long, &app.read_key).await,
    ] {
        assert_eq!(response.status(), 200);
        assert!(
            response.headers().get("link").is_none(),
            "no Link past the bound"
        );
        assert_eq!(header(&response, "x-total-count"), "0");
        let size: usize = response
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        assert!(size < 16 * 1024, "{size} bytes of headers");
    }
    let short = get_passkey(&app, "type=login_success", &app.read_key).await;
    assert!(
        link(&short, "first").is_some(),
        "a short query keeps its links"
    );
});

backend_test!(
    a_large_page_read_a_slice_at_a_time_answers_as_small_pages_do,
    |app| {
        // More than a slice (100) on a page, some with details, and a filter that
        // leaves some out.
        let mut batch: Vec<Value> = (0..230).map(entry_with_id).collect();
        for (i, entry) in batch.iter_mut().enumerate().step_by(3) {
            entry["details"] = serde_json::json!({"n": i, "pad": "x".repeat(2_000)});
        }
        auditlog_tests::variant::record_batch(&app, app.tenant, &app.key, &batch).await;
        store_entries(&app, app.tenant, 20, AuditLogType::LoginFailure, "carol").await;
        for filters in ["type=login_success", ""] {
            // The same entries, in the same order, as pages of 50 read whole.
            let mut small = Vec::new();
            for page in 1..=6 {
                let response = get_admin(
                    &app,
                    &format!("{filters}&per_page=50&page={page}"),
                    &app.key,
                )
                .await;
                let entries: Vec<Value> = response.json().await.expect("entries");
                small.extend(entries);
            }
            let large = get_admin(&app, &format!("{filters}&per_page=1000"), &app.key).await;
            assert_eq!(large.status(), 200);
            assert_eq!(header(&large, "content-type"), "application/json");
            assert_eq!(header(&large, "x-total-count"), small.len().to_string());
            assert_eq!(
                header(&large, "x-next-cursor"),
                "",
                "one page holds them all"
            );
            let entries: Vec<Value> = large.json().await.expect("entries");
            assert_eq!(entries, small, "filters: {filters:?}");

            // By cursor, 150 a page: the cursor and links come from the positions.
            let mut walked = Vec::new();
            let mut query = format!("{filters}&per_page=150");
            for _ in 0..5 {
                let response = get_passkey(&app, &query, &app.key).await;
                assert_eq!(response.status(), 200);
                let next = header(&response, "x-next-cursor");
                let next_link = link(&response, "next");
                let entries: Vec<Value> = response.json().await.expect("entries");
                walked.extend(entries);
                if next.is_empty() {
                    assert_eq!(next_link, None);
                    break;
                }
                // Keyset pages link the cursor; the first (page mode) links page 2.
                let expected = if query.contains("cursor=") {
                    format!("cursor={next}")
                } else {
                    "page=2".to_owned()
                };
                assert!(next_link.is_some_and(|l| l.contains(&expected)), "{query}");
                query = format!("{filters}&per_page=150&cursor={next}");
            }
            assert_eq!(walked, small, "filters: {filters:?}");
        }
    }
);
