//! What the crash and outage tests share: the real `auditlog` binary as a child
//! process on a port of its own, a client with its key, and reading back every entry.
#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::{collections::HashSet, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStderr, Command},
};
use uuid::Uuid;

/// The bootstrap key every test server starts with (read and write, default tenant).
pub const KEY: &str = "reliability-test-key-0123456789";

/// The `auditlog` binary serving on a port of its own.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
}

impl Server {
    /// Starts `auditlog serve` on `database_url` with the bootstrap key, and returns once
    /// it listens (it prints its address after migrating and binding).
    pub async fn start(database_url: &str, extra_env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .env("AUDITLOG_DATABASE_URL", database_url)
            .env("AUDITLOG_LISTEN", "127.0.0.1:0")
            .env("AUDITLOG_BOOTSTRAP_API_KEY", KEY)
            .env("AUDITLOG_SIGNING_KEY_FILE", signing_key_file())
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the auditlog binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("stderr is readable") {
                if let Some(rest) = line.split("auditlog is serving at ").nth(1) {
                    return rest.trim().to_owned();
                }
                eprintln!("auditlog: {line}");
            }
            panic!("auditlog exited before it listened");
        })
        .await
        .expect("auditlog listens within 60 s");
        // Keep draining stderr so that the child never blocks on a full pipe; the rest of
        // the start-up banner (indented lines) is left out.
        tokio::spawn(async move {
            let mut banner = true;
            while let Ok(Some(line)) = lines.next_line().await {
                banner = banner && (line.trim().is_empty() || line.starts_with("  "));
                if !banner {
                    eprintln!("auditlog: {line}");
                }
            }
        });
        Self { base, child }
    }

    /// Kills the process with SIGKILL: no shutdown, no flush, nothing in flight finishes.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL is delivered");
        let _ = self.child.wait().await;
    }

    /// The process id, to read its resident memory.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The passkey-server URL of the default tenant.
    pub fn passkey_url(&self) -> String {
        format!(
            "{}/{}/audit_logs",
            self.base,
            auditlog_domain::DEFAULT_TENANT_ID
        )
    }

    /// The admin URL.
    pub fn admin_url(&self) -> String {
        format!("{}/admin/audit_logs", self.base)
    }
}

/// Starts `command` (an `auditlog serve`) with its standard error piped, and reads it
/// up to the end of the start banner, in text or JSON: the child, the lines read, and
/// the rest of standard error.
pub async fn until_banner(
    mut command: Command,
) -> (Child, Vec<String>, Lines<BufReader<ChildStderr>>) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stderr is readable") {
            let done = line.contains("Demo data:") || line.contains("\"auditlog is serving\"");
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("serve exited before its banner: {seen:?}");
    })
    .await
    .expect("the banner within 60 s");
    (child, seen, lines)
}

/// The log signing key of every test server: one file for all of them, so that a
/// restarted server signs with the key it had (the first start makes it).
pub fn signing_key_file() -> std::path::PathBuf {
    option_env!("CARGO_TARGET_TMPDIR")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from)
        .join("auditlog-test-signing.key")
}

/// The binary under test: Cargo's for tests, `AUDITLOG_BIN` for the soak example (which
/// Cargo builds without one).
pub fn binary() -> String {
    option_env!("CARGO_BIN_EXE_auditlog")
        .map(str::to_owned)
        .or_else(|| std::env::var("AUDITLOG_BIN").ok())
        .expect("AUDITLOG_BIN names the auditlog binary")
}

/// A client whose requests fail after 60 s at the latest.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// A batch of `size` valid entries, each with an id of its own.
pub fn batch(size: usize, tag: &str) -> (Vec<Uuid>, Value) {
    let ids: Vec<Uuid> = (0..size).map(|_| Uuid::new_v4()).collect();
    let entries: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "id": id,
                "type": "login_success",
                "meta_http_request_id": format!("{tag}-{i}"),
                "meta_source_ip": format!("10.{}.{}.{}", i % 200, (i / 200) % 250, i % 250 + 1),
                "meta_user_agent": "reliability-test",
                "actor_user_id": tag,
                "details": {"index": i},
            })
        })
        .collect();
    (ids, Value::Array(entries))
}

/// Every entry id of the default tenant, read page by page through the admin API, and
/// `X-Total-Count` as the first page reported it.
pub async fn all_ids(client: &reqwest::Client, server: &Server) -> (HashSet<Uuid>, u64) {
    let mut ids = HashSet::new();
    let mut total = None;
    for page in 1..=10_000 {
        let response = client
            .get(format!("{}?per_page=1000&page={page}", server.admin_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("a list answer");
        assert_eq!(response.status(), 200, "listing page {page}");
        let count: u64 = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("X-Total-Count");
        total.get_or_insert(count);
        let entries: Vec<Value> = response.json().await.expect("a JSON array");
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            let id = entry["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("an id");
            assert!(ids.insert(id), "entry {id} listed twice");
        }
    }
    (ids, total.unwrap_or(0))
}

/// Asks `/ready` until it answers 200, for at most `limit`.
pub async fn wait_ready(client: &reqwest::Client, server: &Server, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{}/ready", server.base)).send().await
            && response.status() == 200
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
