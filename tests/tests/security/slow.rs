//! Slow clients: a request may take at most the request timeout, headers included.

use super::*;

/// Runs `body` against an app whose request timeout is one second.
async fn with_short_timeout<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    let db = TestDatabase::create(backend).await;
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
