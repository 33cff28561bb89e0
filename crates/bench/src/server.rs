//! The release server under test: started on a loopback port with a bootstrap key of
//! its own, watched through /proc, and stopped at the end.

use std::{
    path::Path,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// A running `auditlog serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The bootstrap key (read and write on the main tenant); never printed.
    pub api_key: String,
    rss_peak_kib: Arc<AtomicU64>,
    sampling: Arc<AtomicBool>,
}

impl Server {
    /// Starts the server on `database_url`, signing the log's checkpoints with the key
    /// in `signing_key` (created by the server when missing), waits (at most 120 s)
    /// until `/ready`, and checks that the server answering is this one: its bootstrap
    /// key, made for this start, reads `tenant`'s entries.
    pub async fn start(
        bin: &Path,
        database_url: &str,
        port: u16,
        pool: u32,
        signing_key: &Path,
        log: &Path,
        tenant: uuid::Uuid,
    ) -> anyhow::Result<Self> {
        // Another process on the port would answer in this server's place.
        drop(
            std::net::TcpListener::bind(("127.0.0.1", port)).with_context(|| {
                format!("port {port} on 127.0.0.1 is in use by another process; choose another with BENCH_PORT")
            })?,
        );
        let api_key = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(bin)
            .arg("serve")
            .env("AUDITLOG_DATABASE_URL", database_url)
            .env("AUDITLOG_LISTEN", format!("127.0.0.1:{port}"))
            .env("AUDITLOG_BOOTSTRAP_API_KEY", &api_key)
            .env("AUDITLOG_BOOTSTRAP_TENANT_ID", tenant.to_string())
            .env("AUDITLOG_DB_MAX_CONNECTIONS", pool.to_string())
            .env("AUDITLOG_SIGNING_KEY_FILE", signing_key)
            // One log line per request would measure the terminal, not the service.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Self {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
            api_key,
            rss_peak_kib: Arc::new(AtomicU64::new(0)),
            sampling: Arc::new(AtomicBool::new(true)),
        };
        server.wait_ready(log).await?;
        server.check_own(tenant, log).await?;
        server.spawn_sampler();
        Ok(server)
    }

    /// Fails unless this server's bootstrap key reads `tenant`'s entries: a server of
    /// another run on the port would refuse it.
    async fn check_own(&mut self, tenant: uuid::Uuid, log: &Path) -> anyhow::Result<()> {
        let url = format!("{}/{tenant}/audit_logs?per_page=1", self.base_url);
        let answer = reqwest::Client::new()
            .get(&url)
            .header("apiKey", &self.api_key)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !answer.status().is_success() || self.exited() {
            bail!(
                "the server on {} refused the key this run started it with ({}): another process answers there; see {}",
                self.base_url,
                answer.status(),
                log.display()
            );
        }
        Ok(())
    }

    /// Whether the server process has ended (reaping it: an exited child stays visible
    /// in /proc until then).
    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    async fn wait_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/ready", self.base_url);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if let Ok(answer) = client.get(&url).send().await
                && answer.status().is_success()
            {
                return Ok(());
            }
            if self.exited() {
                bail!("the server exited; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "the server was not ready within 120 s; see {}",
            log.display()
        )
    }

    /// Samples VmRSS every 50 ms into the running peak.
    fn spawn_sampler(&self) {
        let (pid, peak, sampling) = (
            self.pid,
            Arc::clone(&self.rss_peak_kib),
            Arc::clone(&self.sampling),
        );
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                match read_status(pid).and_then(|s| status_kib(&s, "VmRSS:")) {
                    Some(rss) => {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    None => break,
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }

    /// The largest RSS sampled since the last call, and starts a new period.
    pub fn take_rss_peak(&self) -> u64 {
        let sampled = read_status(self.pid)
            .and_then(|s| status_kib(&s, "VmRSS:"))
            .unwrap_or(0);
        self.rss_peak_kib.swap(0, Ordering::Relaxed).max(sampled)
    }

    /// The kernel's high-water mark of the resident set since the start (VmHWM).
    pub fn rss_high_water_kib(&self) -> Option<u64> {
        read_status(self.pid).and_then(|s| status_kib(&s, "VmHWM:"))
    }

    /// CPU time the server has used, in clock ticks.
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Waits (at most 60 s) until the server has been idle for 300 ms, so that requests
    /// abandoned at the end of a run do not slow the next one.
    pub async fn settle(&self) {
        let started = Instant::now();
        let mut last = self.cpu_ticks();
        while started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = self.cpu_ticks();
            match (last, now) {
                (Some(a), Some(b)) if b.saturating_sub(a) <= 1 => return,
                (_, None) => return,
                _ => last = now,
            }
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.sampling.store(false, Ordering::Relaxed);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await.context("cannot kill the server")?;
        }
        Ok(())
    }
}

fn read_status(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// A `Name:   1234 kB` line of /proc/PID/status.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sizes_from_proc_status() {
        let status = "Name:\tauditlog\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(40960));
        assert_eq!(status_kib(status, "VmHWM:"), Some(51200));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }
}
