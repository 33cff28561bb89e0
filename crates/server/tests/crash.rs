//! Crash safety: `auditlog serve` is killed with SIGKILL while 8 clients record batches
//! concurrently, then restarted on the same database. Every entry acknowledged with 201
//! must be listed, and every batch must be visible whole or not at all. After the last
//! restart the log resumes where it was: every acknowledged entry gets an inclusion
//! proof, and `auditlog verify` finds the log and the entries in agreement, none left
//! queued. On SQLite (a file in a temporary directory) and on PostgreSQL (a database of
//! its own).

mod common;

use std::{
    collections::HashSet,
    path::Path,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use auditlog_tests::{Backend, TestDatabase};
use common::{KEY, Server, all_ids, batch, binary, client};
use rand::Rng;
use uuid::Uuid;

const WRITERS: usize = 8;
const ROUNDS: usize = 3;

/// What the clients know about one batch they sent.
#[derive(Debug)]
struct Sent {
    ids: Vec<Uuid>,
    /// The server answered 201.
    acknowledged: bool,
}

#[derive(Debug, Default)]
struct Figures {
    batches_acknowledged: usize,
    entries_acknowledged: usize,
    batches_in_flight: usize,
    in_flight_found_whole: usize,
    entries_found: usize,
}

/// Sends batches until the server stops answering, recording each in `sent`.
async fn writer(server_url: (String, bool), sent: Arc<Mutex<Vec<Sent>>>, round: usize, n: usize) {
    let (url, admin) = server_url;
    let client = client();
    for i in 0..100_000 {
        let size = rand::rng().random_range(1..=40);
        let (ids, body) = batch(size, &format!("r{round}-w{n}-b{i}"));
        let request = if admin {
            client.post(&url).bearer_auth(KEY)
        } else {
            client.post(&url).header("apiKey", KEY)
        };
        let outcome = request.json(&body).send().await;
        match outcome {
            Ok(response) => {
                let status = response.status();
                assert_eq!(status, 201, "before the kill every batch is stored");
                // The 201 counts only once its body has arrived whole.
                let acknowledged = response.bytes().await.is_ok();
                sent.lock().expect("lock").push(Sent { ids, acknowledged });
                if !acknowledged {
                    return;
                }
            }
            Err(_) => {
                // The server died with this batch in flight: its fate is unknown.
                sent.lock().expect("lock").push(Sent {
                    ids,
                    acknowledged: false,
                });
                return;
            }
        }
    }
}

/// Every acknowledged entry is listed; every batch is whole or absent; nothing else is.
async fn verify(server: &Server, sent: &Mutex<Vec<Sent>>, figures: &mut Figures) {
    let (found, total) = all_ids(&client(), server).await;
    let sent = sent.lock().expect("lock");
    assert_eq!(
        total as usize,
        found.len(),
        "X-Total-Count agrees with the list"
    );
    let mut known = HashSet::new();
    *figures = Figures::default();
    for batch in sent.iter() {
        known.extend(batch.ids.iter().copied());
        let present = batch.ids.iter().filter(|id| found.contains(id)).count();
        if batch.acknowledged {
            assert_eq!(
                present,
                batch.ids.len(),
                "an acknowledged batch of {} entries is listed whole",
                batch.ids.len()
            );
            figures.batches_acknowledged += 1;
            figures.entries_acknowledged += batch.ids.len();
        } else {
            assert!(
                present == 0 || present == batch.ids.len(),
                "a batch in flight at the kill is whole or absent, not {present} of {}",
                batch.ids.len()
            );
            figures.batches_in_flight += 1;
            if present > 0 {
                figures.in_flight_found_whole += 1;
            }
        }
    }
    let strangers = found.iter().filter(|id| !known.contains(id)).count();
    assert_eq!(strangers, 0, "no entry appears that no client sent");
    figures.entries_found = found.len();
}

/// How long after the restart the last acknowledged entry of every batch had a proof;
/// then `auditlog verify` must find the log whole, with nothing left queued.
async fn every_acknowledged_entry_is_proven(
    server: &Server,
    sent: &Mutex<Vec<Sent>>,
    url: &str,
    key_file: &Path,
) -> Duration {
    let started = Instant::now();
    let mut waiting: Vec<Uuid> = sent
        .lock()
        .expect("lock")
        .iter()
        .filter(|batch| batch.acknowledged)
        .filter_map(|batch| batch.ids.last().copied())
        .collect();
    let client = client();
    while !waiting.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} acknowledged entries still have no proof a minute after the restart",
            waiting.len()
        );
        let mut still = Vec::new();
        for id in waiting {
            let answer = client
                .get(format!("{}/{id}/proof", server.passkey_url()))
                .header("apiKey", KEY)
                .send()
                .await
                .expect("the server answers");
            match answer.status().as_u16() {
                200 => {}
                404 => still.push(id),
                other => panic!("a proof of an acknowledged entry answered {other}"),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let proven = started.elapsed();
    // Entries in flight at a kill may have been stored too: they join the log as well.
    for attempt in 0.. {
        let output = Command::new(binary())
            .args([
                "verify",
                "--tenant",
                &auditlog_domain::DEFAULT_TENANT_ID.to_string(),
            ])
            .env("AUDITLOG_DATABASE_URL", url)
            .env("AUDITLOG_SIGNING_KEY_FILE", key_file)
            .output()
            .expect("auditlog verify runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "auditlog verify failed: {stdout}");
        if stdout.contains(" 0 queued") {
            break;
        }
        assert!(attempt < 100, "entries stay queued for the log: {stdout}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proven
}

async fn crash_and_restart(url: &str, backend: &str) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let mut figures = Figures::default();
    // One signing key across the restarts, outside the working directory.
    let keys = tempfile::tempdir().expect("a directory for the key");
    let key_file = keys.path().join("signing.key");
    let key_file_text = key_file.to_string_lossy().into_owned();
    let env = [("AUDITLOG_SIGNING_KEY_FILE", key_file_text.as_str())];
    for round in 0..ROUNDS {
        let server = Server::start(url, &env).await;
        verify(&server, &sent, &mut figures).await;
        let writers: Vec<_> = (0..WRITERS)
            .map(|n| {
                let target = if n % 2 == 0 {
                    (server.passkey_url(), false)
                } else {
                    (server.admin_url(), true)
                };
                tokio::spawn(writer(target, sent.clone(), round, n))
            })
            .collect();
        let delay = rand::rng().random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill().await;
        for writer in writers {
            tokio::time::timeout(Duration::from_secs(90), writer)
                .await
                .expect("writers stop once the server is gone")
                .expect("a writer saw only 201 before the kill");
        }
    }
    let server = Server::start(url, &env).await;
    verify(&server, &sent, &mut figures).await;
    let proven = every_acknowledged_entry_is_proven(&server, &sent, url, &key_file).await;
    server.kill().await;
    assert!(
        figures.entries_acknowledged > 0,
        "some entries were acknowledged"
    );
    println!(
        "crash[{backend}]: {ROUNDS} SIGKILLs with {WRITERS} writers; {} batches ({} entries) \
         acknowledged, all found; {} batches in flight at a kill, {} of them found whole, \
         none partly; {} entries listed after the last restart; every acknowledged \
         batch's last entry proven {:.0?} after it, and the log verified",
        figures.batches_acknowledged,
        figures.entries_acknowledged,
        figures.batches_in_flight,
        figures.in_flight_found_whole,
        figures.entries_found,
        proven,
    );
}

async fn run(backend: Backend, name: &'static str) {
    let db = TestDatabase::create(backend).await;
    let url = db.url.clone();
    let outcome = tokio::spawn(async move { crash_and_restart(&url, name).await }).await;
    db.drop_database().await;
    if let Err(err) = outcome
        && err.is_panic()
    {
        std::panic::resume_unwind(err.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingestion_loses_nothing_acknowledged_sqlite() {
    run(Backend::Sqlite, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingestion_loses_nothing_acknowledged_postgres() {
    run(Backend::Postgres, "postgres").await;
}
