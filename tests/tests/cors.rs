//! CORS as a browser script on an allowed origin meets it: the preflight lets it send
//! its key, and every header a client pages by can be read, `X-Next-Cursor` included.

use auditlog_domain::AuditLogType;
use auditlog_http::HttpConfig;
use auditlog_tests::{Backend, TestApp, TestDatabase, client::*};
use reqwest::{Method, Response, header::HeaderValue};

const ORIGIN: &str = "https://console.example.com";

/// The response headers a browser shows a cross-origin script without being told to.
const SAFELISTED: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

/// The comma-separated tokens of a header, lowercased.
fn tokens(response: &Response, name: &str) -> Vec<String> {
    header(response, name)
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A header as a cross-origin script reads it: `None` unless the response allows this
/// origin and the header is safelisted or named in `Access-Control-Expose-Headers`.
fn readable(response: &Response, name: &str) -> Option<String> {
    let allowed = header(response, "access-control-allow-origin") == ORIGIN;
    let exposed = SAFELISTED.contains(&name)
        || tokens(response, "access-control-expose-headers")
            .iter()
            .any(|t| t == name);
    (allowed && exposed)
        .then(|| header(response, name))
        .filter(|v| !v.is_empty())
}

async fn preflight(app: &TestApp, url: &str, method: &str, headers: &str) -> Response {
    app.client
        .request(Method::OPTIONS, url)
        .header("origin", ORIGIN)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .expect("response")
}

#[tokio::test]
async fn a_browser_script_pages_by_cursor_across_origins() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let config = HttpConfig {
        cors_origins: vec![HeaderValue::from_static(ORIGIN)],
        ..Default::default()
    };
    let app = TestApp::start_with(&db, config).await;
    store_entries(&app, app.tenant, 5, AuditLogType::LoginSuccess, "alice").await;

    for (url, method, sent) in [
        (app.passkey_url(), "GET", "apikey"),
        (app.passkey_url(), "POST", "apikey,content-type"),
        (app.admin_url(), "GET", "authorization"),
        (
            app.admin_url(),
            "POST",
            "authorization,content-type,x-request-id",
        ),
    ] {
        let response = preflight(&app, &url, method, sent).await;
        assert!(
            response.status().is_success(),
            "{method} {url}: {}",
            response.status()
        );
        assert_eq!(header(&response, "access-control-allow-origin"), ORIGIN);
        assert!(
            tokens(&response, "access-control-allow-methods")
                .contains(&method.to_ascii_lowercase())
        );
        let allowed = tokens(&response, "access-control-allow-headers");
        for name in sent.split(',') {
            assert!(
                allowed.iter().any(|a| a == name),
                "{name} may be sent: {allowed:?}"
            );
        }
    }

    let mut query = "per_page=2".to_owned();
    let mut seen = 0;
    loop {
        let response = app
            .client
            .get(format!("{}?{query}", app.passkey_url()))
            .header("origin", ORIGIN)
            .header("apiKey", &app.key)
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        assert_eq!(readable(&response, "x-total-count").as_deref(), Some("5"));
        assert!(readable(&response, "link").is_some(), "Link is readable");
        assert!(
            readable(&response, "x-request-id").is_some(),
            "X-Request-Id is readable"
        );
        let cursor = readable(&response, "x-next-cursor");
        assert_eq!(
            cursor.is_some(),
            !header(&response, "x-next-cursor").is_empty(),
            "X-Next-Cursor is readable whenever it is sent"
        );
        seen += response
            .json::<Vec<serde_json::Value>>()
            .await
            .expect("json")
            .len();
        match cursor {
            Some(cursor) => query = format!("per_page=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, 5, "the cursors walk every entry");

    let other = app
        .client
        .get(app.admin_url())
        .header("origin", "https://evil.example.com")
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("response");
    assert_eq!(header(&other, "access-control-allow-origin"), "");
    app.stop().await;
    db.drop_database().await;
}
