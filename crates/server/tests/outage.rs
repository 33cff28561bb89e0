//! Database outage: `auditlog serve` runs on a PostgreSQL cluster of this test's own
//! (the installed server binaries, a private port and data directory, never the shared
//! instance), which is stopped with `pg_ctl stop -m immediate` while clients record
//! entries. While it is down, requests answer 503 in their variant's error shape and
//! `/ready` fails; when it is back, the service recovers by itself, and every entry
//! acknowledged with 201, before or after, is listed.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::{KEY, Server, all_ids, batch, client, wait_ready};
use rand::Rng;
use serde_json::Value;
use uuid::Uuid;

/// A PostgreSQL cluster in a temporary directory, on a free port of 127.0.0.1. When the
/// test runs as root, the cluster runs as the `postgres` user (PostgreSQL refuses root).
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Where the server binaries are: `AUDITLOG_PG_BINDIR`, else the newest
    /// `/usr/lib/postgresql/*/bin`, else the directory of `pg_ctl` on the PATH.
    fn bindir() -> Option<PathBuf> {
        if let Ok(dir) = std::env::var("AUDITLOG_PG_BINDIR") {
            return Some(PathBuf::from(dir));
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("pg_ctl").is_file() && bin.join("initdb").is_file())
            .collect();
        versions.sort_by_key(|bin| {
            bin.parent()
                .and_then(Path::file_name)
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        versions.pop().or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .find(|dir| dir.join("pg_ctl").is_file() && dir.join("initdb").is_file())
            })
        })
    }

    /// Creates and starts a cluster, or `None` when no PostgreSQL server binaries are
    /// installed and this is not CI (in CI that fails the test instead).
    async fn start() -> Option<Self> {
        let Some(bindir) = Self::bindir() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but no PostgreSQL server binaries (initdb, pg_ctl) were found"
            );
            eprintln!("no PostgreSQL server binaries: skipping the outage test");
            return None;
        };
        let as_postgres = run_plain("id", &["-u"]).await.trim() == "0";
        let dir = tempfile::Builder::new()
            .prefix("auditlog-outage-")
            .tempdir()
            .expect("a temporary directory");
        if as_postgres {
            let path = dir.path().to_str().expect("a UTF-8 path").to_owned();
            run_plain("chown", &["-R", "postgres:postgres", &path]).await;
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("an address").port()
        };
        let cluster = Self {
            dir,
            bindir,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await;
        cluster.start_again().await;
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, tool: &str, args: &[&str]) -> tokio::process::Command {
        let program = self.bindir.join(tool).display().to_string();
        let mut command = if self.as_postgres {
            let mut command = tokio::process::Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            tokio::process::Command::new(program)
        };
        command.args(args).stdin(Stdio::null());
        command
    }

    async fn run(&self, tool: &str, args: &[&str]) {
        let output = self
            .command(tool, args)
            .output()
            .await
            .unwrap_or_else(|err| panic!("{tool} runs: {err}"));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the cluster (again) on its port, with its socket in its own directory.
    async fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .await;
    }

    /// Stops the cluster at once, as a crash would: no checkpoint, connections cut.
    async fn stop_immediately(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )
        .await;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bindir.join("pg_ctl").display().to_string();
        let mut command = if self.as_postgres {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            std::process::Command::new(program)
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn run_plain(program: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|err| panic!("{program} runs: {err}"));
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One batch a writer sent, and how it ended.
#[derive(Debug)]
struct Sent {
    ids: Vec<Uuid>,
    status: u16,
}

/// Checks an error body's shape: `{title, details, status}` for the passkey server,
/// `{code, message}` for the admin API.
fn assert_shape(body: &Value, admin: bool, status: u16, what: &str) {
    if admin {
        assert_eq!(body["code"], status, "{what}: {body}");
        assert!(body["message"].is_string(), "{what}: {body}");
        assert!(body.get("title").is_none(), "{what}: {body}");
    } else {
        assert_eq!(body["status"], status, "{what}: {body}");
        assert!(body["title"].is_string(), "{what}: {body}");
        assert!(body["details"].is_string(), "{what}: {body}");
    }
}

/// Records batches until `stop`; every answer must be 201, or 503 in the variant's shape.
async fn writer(url: String, admin: bool, stop: Arc<AtomicBool>, sent: Arc<Mutex<Vec<Sent>>>) {
    let client = client();
    for i in 0..100_000 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let size = rand::rng().random_range(1..=10);
        let (ids, body) = batch(size, &format!("outage-{admin}-{i}"));
        let request = if admin {
            client.post(&url).bearer_auth(KEY)
        } else {
            client.post(&url).header("apiKey", KEY)
        };
        let response = request
            .json(&body)
            .send()
            .await
            .expect("the service answers, database or not");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON answer");
        match status {
            201 => {}
            503 => assert_shape(&body, admin, 503, "a write during the outage"),
            other => panic!("a write answered {other}, not 201 or 503: {body}"),
        }
        sent.lock().expect("lock").push(Sent { ids, status });
        if status == 503 {
            // A client backs off a little before it retries.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn acknowledged(sent: &Mutex<Vec<Sent>>) -> usize {
    sent.lock()
        .expect("lock")
        .iter()
        .filter(|s| s.status == 201)
        .count()
}

/// Waits until the writers have had `more` batches acknowledged, for at most 60 s.
async fn wait_for_acks(sent: &Mutex<Vec<Sent>>, more: usize) {
    let target = acknowledged(sent) + more;
    for _ in 0..600 {
        if acknowledged(sent) >= target {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the writers got no {more} batches acknowledged within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_and_heals_by_itself() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let server = Server::start(&pg.url(), &[]).await;
    let client = client();
    assert!(wait_ready(&client, &server, Duration::from_secs(10)).await);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|n| {
            let admin = n % 2 == 1;
            let url = if admin {
                server.admin_url()
            } else {
                server.passkey_url()
            };
            tokio::spawn(writer(url, admin, stop.clone(), sent.clone()))
        })
        .collect();
    wait_for_acks(&sent, 20).await;

    // The outage.
    pg.stop_immediately().await;
    let outage_started = Instant::now();
    let health = client
        .get(format!("{}/health", server.base))
        .send()
        .await
        .expect("/health answers");
    assert_eq!(health.status(), 200, "the process lives on");
    let probes = [
        (
            client.get(format!("{}/ready", server.base)),
            false,
            "/ready",
        ),
        (
            client.get(server.passkey_url()).header("apiKey", KEY),
            false,
            "GET passkey",
        ),
        (
            client.get(server.admin_url()).bearer_auth(KEY),
            true,
            "GET admin",
        ),
        (
            client
                .post(server.passkey_url())
                .header("apiKey", KEY)
                .json(&batch(3, "probe").1),
            false,
            "POST passkey",
        ),
        (
            client
                .post(server.admin_url())
                .bearer_auth(KEY)
                .json(&batch(3, "probe").1),
            true,
            "POST admin",
        ),
    ];
    let answers =
        futures::future::join_all(probes.into_iter().map(|(request, admin, what)| async move {
            let response = request.send().await.expect("an answer during the outage");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("a JSON error");
            (status, body, admin, what)
        }))
        .await;
    for (status, body, admin, what) in &answers {
        assert_eq!(*status, 503, "{what} during the outage: {body}");
        assert_shape(body, *admin, 503, what);
    }
    let outage = outage_started.elapsed();

    // The database comes back; nobody restarts auditlog.
    pg.start_again().await;
    let back = Instant::now();
    assert!(
        wait_ready(&client, &server, Duration::from_secs(60)).await,
        "/ready answers 200 again by itself"
    );
    let recovery = back.elapsed();
    wait_for_acks(&sent, 20).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("every write answered 201 or 503");
    }

    let (found, total) = all_ids(&client, &server).await;
    assert_eq!(total as usize, found.len());
    let (mut acked_batches, mut acked_entries, mut refused, mut refused_found) = (0, 0, 0, 0);
    for batch in sent.lock().expect("lock").iter() {
        let present = batch.ids.iter().filter(|id| found.contains(id)).count();
        if batch.status == 201 {
            assert_eq!(
                present,
                batch.ids.len(),
                "an acknowledged batch is listed whole"
            );
            acked_batches += 1;
            acked_entries += batch.ids.len();
        } else {
            assert!(
                present == 0 || present == batch.ids.len(),
                "a refused batch is whole or absent"
            );
            refused += 1;
            if present > 0 {
                // Committed as the database went away, answered 503 all the same: the
                // client retries with the same ids, which is idempotent.
                refused_found += 1;
            }
        }
    }
    server.kill().await;
    println!(
        "outage: 1 fault (pg_ctl stop -m immediate), probes answered 503 within {:.1} s; \
         ready again {:.1} s after the restart; {acked_batches} batches ({acked_entries} \
         entries) acknowledged, all found; {refused} writes answered 503, {refused_found} of \
         them found whole, none partly; {} entries listed",
        outage.as_secs_f64(),
        recovery.as_secs_f64(),
        found.len()
    );
}
