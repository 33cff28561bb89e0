//! Security: every endpoint against every kind of bad key; injection strings in every
//! parameter and field, stored and matched literally; oversized headers, URLs and bodies;
//! clients that send slowly. Each answer is checked in its variant's error shape, and
//! nothing refused is ever stored.

use std::{collections::BTreeSet, time::Duration};

use auditlog_domain::{ApiKeySecret, KeyStore};
use auditlog_http::HttpConfig;
use auditlog_tests::{Backend, TestApp, TestDatabase, backend_test, client::*};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// The matrix: every endpoint against a missing, wrong, revoked, foreign or unscoped key.
// ---------------------------------------------------------------------------------------

/// One of the four API operations.
#[derive(Debug, Clone, Copy)]
struct Op {
    post: bool,
    admin: bool,
}

const OPS: [Op; 4] = [
    Op {
        post: false,
        admin: false,
    },
    Op {
        post: true,
        admin: false,
    },
    Op {
        post: false,
        admin: true,
    },
    Op {
        post: true,
        admin: true,
    },
];

/// How a request presents its key.
#[derive(Debug, Clone, Copy)]
enum Presented<'a> {
    None,
    /// `apiKey` on the passkey server, bearer on the admin API.
    Native(&'a str),
}

async fn call(app: &TestApp, op: Op, key: Presented<'_>, body: &Value) -> reqwest::Response {
    let url = if op.admin {
        app.admin_url()
    } else {
        app.passkey_url()
    };
    let mut request = if op.post {
        app.client.post(url).json(body)
    } else {
        app.client.get(url)
    };
    if let Presented::Native(secret) = key {
        request = if op.admin {
            request.bearer_auth(secret)
        } else {
            request.header("apiKey", secret)
        };
    }
    request.send().await.expect("a response")
}

/// Asserts the status and the variant's error shape, and returns the message.
async fn expect_error(response: reqwest::Response, admin: bool, status: u16, what: &str) -> String {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(
        header(&response, "content-type"),
        "application/json",
        "{what}"
    );
    let body: Value = response.json().await.expect("a JSON error");
    if admin {
        assert_eq!(body["code"], status, "{what}: {body}");
        assert!(body.get("title").is_none(), "{what}: {body}");
        body["message"].as_str().expect("message").to_owned()
    } else {
        assert_eq!(body["status"], status, "{what}: {body}");
        assert!(body.get("code").is_none(), "{what}: {body}");
        body["details"].as_str().expect("details").to_owned()
    }
}

async fn total(app: &TestApp, key: &str) -> u64 {
    header(&get_admin(app, "per_page=1", key).await, "x-total-count")
        .parse()
        .expect("a count")
}

backend_test!(every_endpoint_refuses_every_bad_key, |app| {
    store_entries(
        &app,
        app.tenant,
        3,
        auditlog_domain::AuditLogType::LoginSuccess,
        "ours",
    )
    .await;
    let revoked = app.key_for(app.tenant, "read,write").await;
    let record = app
        .store
        .find_key(&ApiKeySecret::presented(&revoked).hash())
        .await
        .expect("lookup")
        .expect("the key");
    assert!(app.store.revoke_key(record.id).await.expect("revoke"));
    let wrong = ApiKeySecret::generate().expose().to_owned();
    let body = entry_with_id(1);

    for op in OPS {
        let what = |case: &str| format!("{op:?} with {case}");
        for (case, key) in [
            ("no key", Presented::None),
            ("a wrong key", Presented::Native(&wrong)),
            ("a revoked key", Presented::Native(&revoked)),
            ("a key that is not a key", Presented::Native("' OR 1=1 --")),
        ] {
            let response = call(&app, op, key, &body).await;
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{}",
                what(case)
            );
            expect_error(response, op.admin, 401, &what(case)).await;
        }
        // A key without the operation's scope.
        let unscoped = if op.post {
            &app.read_key
        } else {
            &app.write_key
        };
        let message = expect_error(
            call(&app, op, Presented::Native(unscoped), &body).await,
            op.admin,
            403,
            &what("a key without the scope"),
        )
        .await;
        let scope = if op.post { "'write'" } else { "'read'" };
        assert!(message.contains(scope), "{message}");
    }
    // The passkey server never lets a key act on another tenant's path, whether or not
    // that tenant exists.
    let other = Uuid::new_v4();
    let foreign = app.key_for(other, "read,write").await;
    for op in OPS.iter().filter(|op| !op.admin) {
        expect_error(
            call(&app, *op, Presented::Native(&foreign), &body).await,
            false,
            403,
            &format!("{op:?} with another tenant's key"),
        )
        .await;
    }
    // The admin API acts on the key's own tenant: the other tenant's key neither sees
    // nor writes ours.
    let theirs = get_admin(&app, "", &foreign).await;
    assert_eq!(theirs.status(), 200);
    assert_eq!(header(&theirs, "x-total-count"), "0");
    let stored = call(
        &app,
        Op {
            post: true,
            admin: true,
        },
        Presented::Native(&foreign),
        &entry_with_id(2),
    )
    .await;
    assert_eq!(stored.status(), 201);
    let stored: Value = stored.json().await.expect("json");
    assert_eq!(stored["tenant_id"], other.to_string());

    assert_eq!(
        total(&app, &app.key).await,
        3,
        "no refused write was stored"
    );
    assert_eq!(total(&app, &foreign).await, 1);
});

backend_test!(public_endpoints_need_no_key_and_ignore_bad_ones, |app| {
    for path in ["/health", "/ready", "/openapi.json", "/swagger-ui/"] {
        let plain = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("response");
        assert_eq!(plain.status(), 200, "{path}");
        let with_bad_key = app
            .client
            .get(format!("{}{path}", app.base))
            .header("apiKey", "wrong")
            .bearer_auth("wrong")
            .send()
            .await
            .expect("response");
        assert_eq!(with_bad_key.status(), 200, "{path}");
    }
});

// ---------------------------------------------------------------------------------------
// Injection strings: stored and matched literally, in every field and parameter.
// ---------------------------------------------------------------------------------------

/// Strings that mean something to SQL, LIKE, regular expressions, shells, templates,
/// HTML, LDAP, JSON, HTTP or Unicode; none of them may mean anything here.
const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE audit_logs; --",
    "\" OR \"\"=\"",
    "') OR 1=1 --",
    "1; SELECT pg_sleep(10)",
    "%",
    "_",
    "%%",
    "a%b_c",
    "\\",
    "\\%",
    "\\_",
    "[a-z]*",
    ".*",
    "^$",
    "{\"$gt\": \"\"}",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "$(id)",
    "`id`",
    "../../etc/passwd",
    "*)(uid=*))(|(uid=*",
    "\r\nX-Injected: 1",
    "\t",
    " ",
    "'",
    "\"",
    "null",
    "\u{1}",
    "\u{202e}gnp.exe",
    "ＡＢＣ",
    "ÄÖÜ",
    "äöü",
    "İ",
    "ß",
    "😀",
];

fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The entry that carries injection `i` in every string field, `details` keys included.
fn injected_entry(i: usize, s: &str) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert(s.to_owned(), Value::Null);
    let mut details = serde_json::Map::new();
    details.insert(s.to_owned(), json!(s));
    details.insert("nested".to_owned(), json!([s, inner]));
    json!({
        "id": Uuid::new_v4(),
        "type": "login_success",
        "error": s,
        "meta_http_request_id": s,
        "meta_source_ip": format!("2001:db8::{:x}", i + 1),
        "meta_user_agent": s,
        "actor_user_id": s,
        "actor_email": s,
        "details": details,
    })
}

async fn list(app: &TestApp, pairs: &[(&str, &str)], key: &str, admin: bool) -> reqwest::Response {
    let request = if admin {
        app.client.get(app.admin_url()).bearer_auth(key)
    } else {
        app.client.get(app.passkey_url()).header("apiKey", key)
    };
    request.query(pairs).send().await.expect("a response")
}

async fn ids_of(response: reqwest::Response, what: &str) -> (BTreeSet<String>, Vec<Value>) {
    assert_eq!(response.status(), 200, "{what}");
    let count: usize = header(&response, "x-total-count").parse().expect("a count");
    let items: Vec<Value> = response.json().await.expect("json");
    assert_eq!(count, items.len(), "{what}: one page holds every match");
    let ids = items
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, items)
}

backend_test!(injection_strings_are_stored_and_matched_literally, |app| {
    let other = Uuid::new_v4();
    let other_key = app.key_for(other, "read,write").await;
    let entries: Vec<Value> = INJECTIONS
        .iter()
        .enumerate()
        .map(|(i, s)| injected_entry(i, s))
        .collect();
    // Ours, and the same strings in another tenant, which no query of ours may reach.
    for (key, body) in [
        (&app.key, json!(entries)),
        (
            &other_key,
            json!(
                INJECTIONS
                    .iter()
                    .enumerate()
                    .map(|(i, s)| injected_entry(i, s))
                    .collect::<Vec<_>>()
            ),
        ),
    ] {
        let response = app
            .client
            .post(app.admin_url())
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("response");
        assert_eq!(
            response.status(),
            201,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    for (i, s) in INJECTIONS.iter().enumerate() {
        let mine = entries[i]["id"].as_str().expect("id").to_owned();
        let admin = i % 2 == 1;

        // Exact match: only the entry that carries the string, with every field intact.
        let (ids, items) = ids_of(
            list(&app, &[("actor_user_id", s)], &app.key, admin).await,
            &format!("actor_user_id={s:?}"),
        )
        .await;
        assert_eq!(ids, BTreeSet::from([mine.clone()]), "actor_user_id={s:?}");
        let stored = &items[0];
        for field in [
            "error",
            "meta_http_request_id",
            "meta_user_agent",
            "actor_user_id",
            "actor_email",
        ] {
            assert_eq!(stored[field], *s, "{field} of {s:?} is stored literally");
        }
        assert_eq!(stored["details"], entries[i]["details"], "details of {s:?}");
        assert_eq!(stored["tenant_id"], app.tenant.to_string());

        // Case-insensitive (ASCII) exact match on the e-mail address.
        let expected: BTreeSet<String> = INJECTIONS
            .iter()
            .enumerate()
            .filter(|(_, t)| fold(t) == fold(s))
            .map(|(j, _)| entries[j]["id"].as_str().expect("id").to_owned())
            .collect();
        let (ids, _) = ids_of(
            list(&app, &[("actor_email", s)], &app.key, admin).await,
            &format!("actor_email={s:?}"),
        )
        .await;
        assert_eq!(ids, expected, "actor_email={s:?}");

        // Substring search: `%`, `_` and `\` are literal characters.
        let needle = fold(s);
        let expected: BTreeSet<String> = INJECTIONS
            .iter()
            .enumerate()
            .filter(|(j, t)| {
                let ip = format!("2001:db8::{:x}", j + 1);
                fold(t).contains(&needle) || ip.contains(&needle)
            })
            .map(|(j, _)| entries[j]["id"].as_str().expect("id").to_owned())
            .collect();
        let (ids, _) = ids_of(
            list(&app, &[("q", s)], &app.key, admin).await,
            &format!("q={s:?}"),
        )
        .await;
        assert_eq!(ids, expected, "q={s:?}");
    }
    assert_eq!(total(&app, &app.key).await, INJECTIONS.len() as u64);
});

backend_test!(injection_strings_in_validated_parameters_are_400, |app| {
    for (i, s) in INJECTIONS.iter().enumerate() {
        let admin = i % 2 == 0;
        for parameter in [
            "page",
            "per_page",
            "start_time",
            "end_time",
            "type",
            "meta_source_ip",
            "cursor",
        ] {
            let response = list(&app, &[(parameter, s)], &app.key, admin).await;
            let what = format!("{parameter}={s:?}");
            let message = expect_error(response, admin, 400, &what).await;
            assert!(
                message.contains(&format!("'{parameter}'")),
                "{what}: {message}"
            );
        }
    }
});

backend_test!(
    injection_strings_in_fields_that_have_a_syntax_are_400,
    |app| {
        for (i, s) in INJECTIONS.iter().enumerate() {
            let admin = i % 2 == 0;
            for field in ["id", "type", "meta_source_ip", "created_at", "tenant_id"] {
                let mut body = injected_entry(i, "x");
                body[field] = json!(s);
                let op = Op { post: true, admin };
                let what = format!("{field}={s:?}");
                let message = expect_error(
                    call(&app, op, Presented::Native(&app.key), &body).await,
                    admin,
                    400,
                    &what,
                )
                .await;
                assert!(message.contains(field), "{what}: {message}");
            }
        }
        assert_eq!(total(&app, &app.key).await, 0, "nothing refused was stored");
    }
);

backend_test!(
    injection_strings_in_the_path_and_key_headers_are_refused,
    |app| {
        for s in INJECTIONS {
            let segment: String = form_urlencoded_path(s);
            let response = app
                .client
                .get(format!("{}/{segment}/audit_logs", app.base))
                .header("apiKey", &app.key)
                .send()
                .await
                .expect("response");
            let status = response.status().as_u16();
            assert!(
                status == 400 || status == 404,
                "tenant_id {s:?} answered {status}"
            );
            if status == 400 {
                let body: Value = response.json().await.expect("json");
                assert!(
                    body["details"]
                        .as_str()
                        .expect("details")
                        .contains("'tenant_id'"),
                    "{body}"
                );
            }
        }
        for s in INJECTIONS {
            // Header values cannot hold CR, LF or other controls; send the rest.
            if s.chars().any(char::is_control) {
                continue;
            }
            let response = app
                .client
                .get(app.passkey_url())
                .header("apiKey", *s)
                .send()
                .await
                .expect("response");
            assert_eq!(response.status(), 401, "apiKey {s:?}");
        }
    }
);

/// Percent-encodes every byte that is not unreserved, so the string is one path segment.
fn form_urlencoded_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Oversized headers, URLs and bodies: a 4xx, never a 5xx, and the service lives on.
// ---------------------------------------------------------------------------------------

async fn still_serves(app: &TestApp) {
    let response = get_passkey(app, "", &app.key).await;
    assert_eq!(response.status(), 200, "the service still serves");
}

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

// ---------------------------------------------------------------------------------------
// Slow clients: a request may take at most the request timeout, headers included.
// ---------------------------------------------------------------------------------------

/// Runs `body` against an app whose request timeout is one second.
async fn with_short_timeout<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let app = TestApp::start_with(
        &db,
        HttpConfig {
            request_timeout: Duration::from_secs(1),
            ..HttpConfig::default()
        },
    )
    .await;
    let app = body(app).await;
    app.stop().await;
    db.drop_database().await;
}

/// A client announces a body and stops sending it: 408 in the variant's shape, and
/// nothing stored.
async fn slow_body(app: TestApp) -> TestApp {
    let addr = app.base.trim_start_matches("http://").to_owned();
    for admin in [false, true] {
        let (path, auth) = if admin {
            (
                "/admin/audit_logs".to_owned(),
                format!("authorization: Bearer {}", app.key),
            )
        } else {
            (
                format!("/{}/audit_logs", app.tenant),
                format!("apiKey: {}", app.key),
            )
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n[{{\"type\":"
        );
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).ends_with('}') {
            let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
                .await
                .expect("the server answers a stalled body within 30 s")
                .expect("read");
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        if admin {
            assert!(text.contains("\"code\":408"), "{text}");
        } else {
            assert!(text.contains("\"status\":408"), "{text}");
        }
    }
    assert_eq!(total(&app, &app.key).await, 0);
    app
}

/// A client sends its headers one line at a time, for ten times the request timeout
/// (slowloris). The server must cut it off (a 408 or a closed connection) instead of
/// holding the connection for as long as the client likes.
async fn slow_headers(app: TestApp) -> TestApp {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream
        .write_all(format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let mut cut_off = false;
    for line in 0..40 {
        if stream
            .write_all(format!("x-slow-{line}: a\r\n").as_bytes())
            .await
            .is_err()
        {
            cut_off = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
            // Closed, or answered (a 408) before the headers were complete.
            Ok(Ok(_)) | Ok(Err(_)) => {
                cut_off = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(
        cut_off,
        "a client that sent header lines for 10 s was still connected; the request \
         timeout is 1 s, and a server without a header-read timeout can be held open \
         by any number of such clients"
    );
    still_serves(&app).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_408_sqlite() {
    with_short_timeout(Backend::Sqlite, slow_body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_408_postgres() {
    with_short_timeout(Backend::Postgres, slow_body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_slowly_are_cut_off_sqlite() {
    with_short_timeout(Backend::Sqlite, slow_headers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_slowly_are_cut_off_postgres() {
    with_short_timeout(Backend::Postgres, slow_headers).await;
}

// ---------------------------------------------------------------------------------------
// The document's own bounds: what it says is invalid, the service refuses.
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// A NUL character: entries refuse it; a filter with one never reaches the database.
// ---------------------------------------------------------------------------------------

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
