//! Connections held to account whatever the client does: idle ones closed over HTTP/1
//! and HTTP/2, a cap past which new ones are closed unserved while those in progress go
//! on, and a shutdown that ends within its drain time though clients stay connected.
//! The server does not depend on the backend here, so these run on SQLite only.

use std::time::Duration;

use auditlog_http::HttpConfig;
use auditlog_tests::{Backend, TestApp, TestDatabase};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The client's preface of HTTP/2 with prior knowledge, then an empty SETTINGS frame.
const H2C_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

async fn app_with(config: HttpConfig) -> (TestApp, TestDatabase) {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::start_with(&db, config).await;
    (app, db)
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Reads until the server closes the connection, within `within`; what it sent.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| got)
}

/// A `GET /health` on `stream`, kept alive; the answer's status line.
async fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn idle_connections_are_closed_over_http1_and_http2() {
    let (app, db) = app_with(HttpConfig {
        idle_timeout: Duration::from_secs(1),
        ..HttpConfig::default()
    })
    .await;
    // HTTP/1 that never sends a byte.
    let mut silent = connect(&app).await;
    assert_eq!(
        read_until_closed(&mut silent, Duration::from_secs(10)).await,
        Some(Vec::new()),
        "a silent connection is closed without an answer"
    );
    // HTTP/1 kept alive after a request, then idle.
    let mut kept = connect(&app).await;
    assert!(health(&mut kept).await.contains("200"));
    assert!(
        read_until_closed(&mut kept, Duration::from_secs(10))
            .await
            .is_some(),
        "a kept-alive connection is closed once idle"
    );
    // HTTP/2 that sends its preface and SETTINGS, then nothing.
    let mut h2 = connect(&app).await;
    h2.write_all(H2C_PREFACE).await.expect("preface");
    let sent = read_until_closed(&mut h2, Duration::from_secs(10))
        .await
        .expect("an idle HTTP/2 connection is closed");
    // The server's SETTINGS frame (type 4) came first: it spoke HTTP/2 before closing.
    assert!(sent.len() >= 9 && sent[3] == 4, "{sent:?}");
    app.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn past_the_cap_new_connections_are_closed_unserved_and_the_rest_go_on() {
    let (app, db) = app_with(HttpConfig {
        max_connections: 2,
        idle_timeout: Duration::from_secs(60),
        ..HttpConfig::default()
    })
    .await;
    let mut first = connect(&app).await;
    assert!(health(&mut first).await.contains("200"));
    let mut second = connect(&app).await;
    assert!(health(&mut second).await.contains("200"));
    // Both slots held: a third is closed without an answer.
    let mut third = connect(&app).await;
    third
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("send");
    let answered = read_until_closed(&mut third, Duration::from_secs(10))
        .await
        .expect("the third connection is closed, not left waiting");
    assert!(
        answered.is_empty(),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    // Those in progress are unharmed.
    assert!(health(&mut first).await.contains("200"));
    // A slot freed is a slot taken.
    drop(second);
    let mut fourth = connect(&app).await;
    assert!(health(&mut fourth).await.contains("200"));
    app.stop().await;
    db.drop_database().await;
}

#[tokio::test]
async fn shutdown_ends_within_the_drain_time_though_clients_stay() {
    let (app, db) = app_with(HttpConfig {
        idle_timeout: Duration::from_secs(300),
        shutdown_drain: Duration::from_secs(1),
        ..HttpConfig::default()
    })
    .await;
    let mut h2 = connect(&app).await;
    h2.write_all(H2C_PREFACE).await.expect("preface");
    let mut half = connect(&app).await;
    half.write_all(b"GET /health HTTP/1.1\r\nhost:")
        .await
        .expect("half a request");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Without a drain bound, the idle HTTP/2 client would hold the shutdown for as long
    // as it stays connected (300 s here).
    tokio::time::timeout(Duration::from_secs(30), app.stop())
        .await
        .expect("the server stops though both clients stay connected");
    drop((h2, half));
    db.drop_database().await;
}
