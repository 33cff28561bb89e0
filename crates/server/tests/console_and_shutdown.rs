//! The real binary: recorded entries echoed as JSON lines on stdout
//! (`AUDITLOG_CONSOLE_OUTPUT=stdout`), and SIGTERM letting a request in flight finish.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::Command,
};

const KEY: &str = "console-test-key-0123456789";

#[tokio::test]
async fn entries_are_echoed_to_stdout_and_sigterm_lets_requests_finish() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("auditlog.db").display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditlog"))
        .arg("serve")
        .env("AUDITLOG_DATABASE_URL", &url)
        .env("AUDITLOG_LISTEN", "127.0.0.1:0")
        .env("AUDITLOG_BOOTSTRAP_API_KEY", KEY)
        .env("AUDITLOG_CONSOLE_OUTPUT", "stdout")
        .env("AUDITLOG_SIGNING_KEY_FILE", dir.path().join("signing.key"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stderr.next_line().await.expect("stderr") {
            if let Some(rest) = line.split("auditlog is serving at ").nth(1) {
                return rest.trim().to_owned();
            }
        }
        panic!("the server exited before it listened");
    })
    .await
    .expect("it listens in time");
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();

    // Console output: the stored entry, as one JSON line.
    let entry = json!({"type": "login_failure", "error": "password incorrect", "meta_http_request_id": "r-1",
        "meta_source_ip": "203.0.113.9", "meta_user_agent": "console-test", "actor_email": "a@example.com"});
    let response = reqwest::Client::new()
        .post(format!("{base}/admin/audit_logs"))
        .bearer_auth(KEY)
        .json(&entry)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.expect("json");
    let line = tokio::time::timeout(Duration::from_secs(10), stdout.next_line())
        .await
        .expect("a line in time")
        .expect("stdout")
        .expect("a line");
    let echoed: Value = serde_json::from_str(&line).expect("the line is JSON");
    assert_eq!(echoed, stored);
    assert!(!line.contains(KEY), "the key never reaches the console");

    // A request in flight when SIGTERM arrives: its headers and half its body are sent.
    let body = serde_json::to_vec(&json!([entry, entry])).expect("body");
    let (head, tail) = body.split_at(body.len() / 2);
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /admin/audit_logs HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(head).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().expect("a pid").to_string();
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(signalled.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream
        .write_all(tail)
        .await
        .expect("the server still reads the request");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits after the request")
        .expect("exit status");
    assert!(status.success(), "a clean exit: {status:?}");
}
