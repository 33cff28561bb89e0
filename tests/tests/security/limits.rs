//! Oversized headers, URLs and bodies; NUL characters; the document's own bounds: a 4xx,
//! never a 5xx, and the service lives on.

use super::*;

/// Sends raw bytes and returns the status of the answer, or `None` when the server
/// closed the connection without one.
async fn raw_status(app: &TestApp, request: &[u8]) -> Option<u16> {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything we send.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Ok(_) => break,
            Err(_) => panic!("no answer within 20 s"),
        }
    }
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
}

backend_test!(oversized_headers_and_urls_are_4xx, |app| {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let path = format!("/{}/audit_logs", app.tenant);
    let cases: Vec<(&str, String)> = vec![
        (
            "a 64 KiB key header",
            format!(
                "GET {path} HTTP/1.1\r\nhost: {addr}\r\napiKey: {}\r\n\r\n",
                "k".repeat(64 * 1024)
            ),
        ),
        (
            "a 1 MiB header",
            format!(
                "GET {path} HTTP/1.1\r\nhost: {addr}\r\nx-big: {}\r\n\r\n",
                "h".repeat(1024 * 1024)
            ),
        ),
        (
            "500 headers",
            format!(
                "GET {path} HTTP/1.1\r\nhost: {addr}\r\n{}\r\n",
                (0..500)
                    .map(|i| format!("x-h{i}: v\r\n"))
                    .collect::<String>()
            ),
        ),
        (
            "a 1 MiB query string",
            format!(
                "GET {path}?q={} HTTP/1.1\r\nhost: {addr}\r\napiKey: {}\r\n\r\n",
                "a".repeat(1024 * 1024),
                app.key
            ),
        ),
        (
            "a 64 KiB query string",
            format!(
                "GET {path}?actor_user_id={} HTTP/1.1\r\nhost: {addr}\r\napiKey: {}\r\n\r\n",
                "%27".repeat(20 * 1024),
                app.key
            ),
        ),
    ];
    for (what, request) in cases {
        let status = raw_status(&app, request.as_bytes()).await;
        if let Some(status) = status {
            assert!(
                (200..500).contains(&status),
                "{what}: answered {status}, not a 2xx or 4xx"
            );
        }
        still_serves(&app).await;
    }
});

backend_test!(oversized_bodies_are_413_or_400_and_store_nothing, |app| {
    // Over the limit without a declared length (chunked): read up to the limit, then 413.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut request = format!(
        "POST /{}/audit_logs HTTP/1.1\r\nhost: {addr}\r\napiKey: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        app.tenant, app.key
    )
    .into_bytes();
    let chunk = " ".repeat(64 * 1024);
    for _ in 0..80 {
        request.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let status = raw_status(&app, &request).await;
    assert_eq!(status, Some(413), "a 5 MiB chunked body");
    still_serves(&app).await;

    // Within the limit, but too large or too deep inside.
    let mut deep = String::new();
    for _ in 0..100_000 {
        deep.push('[');
    }
    let mut deep_details = String::from("{\"type\":\"login_success\",\"details\":{\"a\":");
    deep_details.push_str(&"[".repeat(100_000));
    let long = "x".repeat(70 * 1024);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("100 000 nested arrays", deep.into_bytes()),
        ("details nested 100 000 deep", deep_details.into_bytes()),
        (
            "details over 64 KiB",
            serde_json::to_vec(&{
                let mut e = entry(1);
                e["details"] = json!({ "long": long });
                e
            })
            .expect("json"),
        ),
        (
            "an actor_user_id of 70 KiB",
            serde_json::to_vec(&{
                let mut e = entry(1);
                e["actor_user_id"] = json!(long);
                e
            })
            .expect("json"),
        ),
        ("a number beyond f64", b"[1e999999]".to_vec()),
        ("not UTF-8", b"{\"type\": \"\xff\xfe\"}".to_vec()),
        (
            "a string escape of a lone surrogate",
            br#"{"type":"login_success","meta_http_request_id":"\ud800","meta_source_ip":"1.2.3.4","meta_user_agent":"a"}"#.to_vec(),
        ),
        ("1001 entries", serde_json::to_vec(&(0..1001).map(entry).collect::<Vec<_>>()).expect("json")),
    ];
    for (what, body) in bodies {
        let response = app
            .client
            .post(app.admin_url())
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("response");
        let message = expect_error(response, true, 400, what).await;
        assert!(!message.is_empty(), "{what}");
        still_serves(&app).await;
    }
    assert_eq!(total(&app, &app.key).await, 0, "nothing was stored");
});

backend_test!(values_beyond_the_documented_bounds_are_400, |app| {
    let document: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    let mut checked = 0;
    for (path, admin) in [
        ("/admin/audit_logs", true),
        ("/{tenant_id}/audit_logs", false),
    ] {
        let parameters = document["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        for parameter in parameters {
            let name = parameter["name"].as_str().expect("name");
            let schema = &parameter["schema"];
            if let Some(maximum) = schema["maximum"].as_u64() {
                let beyond = (u128::from(maximum) + 1).to_string();
                let response = list(&app, &[(name, &beyond)], &app.key, admin).await;
                let what = format!("{path} {name}={beyond} (the document's maximum is {maximum})");
                expect_error(response, admin, 400, &what).await;
                checked += 1;
            }
            if let Some(minimum) = schema["minimum"].as_i64() {
                let below = (i128::from(minimum) - 1).to_string();
                let response = list(&app, &[(name, &below)], &app.key, admin).await;
                expect_error(response, admin, 400, &format!("{path} {name}={below}")).await;
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "the document bounds page and per_page");
});

backend_test!(nul_characters_in_parameters_are_never_a_5xx, |app| {
    store_entries(
        &app,
        app.tenant,
        2,
        auditlog_domain::AuditLogType::LoginSuccess,
        "a",
    )
    .await;
    for parameter in [
        "q",
        "actor_user_id",
        "actor_email",
        "type",
        "meta_source_ip",
        "start_time",
        "page",
        "cursor",
    ] {
        for admin in [false, true] {
            let response = list(&app, &[(parameter, "a\u{0}b")], &app.key, admin).await;
            let status = response.status().as_u16();
            let what = format!("{parameter}=a%00b (admin: {admin})");
            match status {
                // No stored string holds a NUL, so nothing can match...
                200 => {
                    assert_eq!(header(&response, "x-total-count"), "0", "{what}");
                }
                // ...or the filter refuses it, naming the parameter.
                400 => {
                    let message = expect_error(response, admin, 400, &what).await;
                    assert!(
                        message.contains(&format!("'{parameter}'")),
                        "{what}: {message}"
                    );
                }
                other => panic!("{what} answered {other}"),
            }
        }
    }
});

backend_test!(times_at_the_edge_of_the_calendar_round_trip, |app| {
    // Year 0 with a positive offset is a moment of the year -1 in UTC, which RFC 3339
    // cannot write. Either it is refused, naming the field or parameter, or whatever the
    // service answers can be sent back to it.
    let edge = "0000-01-01T00:00:00+01:00";
    let mut body = entry_with_id(1);
    body["created_at"] = json!(edge);
    let response = app
        .client
        .post(app.admin_url())
        .bearer_auth(&app.key)
        .json(&body)
        .send()
        .await
        .expect("response");
    match response.status().as_u16() {
        400 => {
            let message = expect_error(response, true, 400, "created_at in year 0").await;
            assert!(message.contains("created_at"), "{message}");
        }
        201 => {
            let stored: Value = response.json().await.expect("json");
            let served = stored["created_at"]
                .as_str()
                .expect("created_at")
                .to_owned();
            let again = app
                .client
                .post(app.admin_url())
                .bearer_auth(&app.key)
                .json(&stored)
                .send()
                .await
                .expect("response");
            assert_eq!(
                again.status(),
                201,
                "the entry as served (created_at {served:?}) is accepted back: {}",
                again.text().await.unwrap_or_default()
            );
        }
        other => panic!("created_at {edge:?} answered {other}"),
    }

    let response = list(&app, &[("start_time", edge)], &app.key, false).await;
    match response.status().as_u16() {
        400 => {
            expect_error(response, false, 400, "start_time in year 0").await;
        }
        200 => {
            for (rel, url) in links(&response) {
                let followed = app
                    .client
                    .get(&url)
                    .header("apiKey", &app.key)
                    .send()
                    .await
                    .expect("response");
                assert_eq!(followed.status(), 200, "the {rel} link {url} answers");
            }
        }
        other => panic!("start_time {edge:?} answered {other}"),
    }
});
