//! What the run ran on, for the report.

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::{args::BackendKind, backend::Target};

/// The machine, the software and the code measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub kernel: String,
    pub rustc: String,
    pub wrk: String,
    pub postgres: Option<String>,
    pub sqlite: Option<String>,
    pub commit: String,
    pub date: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn database_version(target: &Target) -> Option<String> {
    let sql = match target.kind {
        BackendKind::Postgres => "SELECT current_setting('server_version') AS v",
        BackendKind::Sqlite => "SELECT sqlite_version() AS v",
    };
    let db = target.connect(1).await.ok()?;
    let row = db
        .query_one_raw(target.statement(sql, vec![]))
        .await
        .ok()??;
    let version = row.try_get::<String>("", "v").ok();
    let _ = db.close().await;
    version
}

/// Gathers the facts; what cannot be read is left empty.
pub async fn describe(targets: &[Target]) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_owned(), |(_, v)| v.trim().to_owned());
    let memory_kib: f64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or("unknown".to_owned(), |v| v.trim_matches('"').to_owned());
    let mut postgres = None;
    let mut sqlite = None;
    for target in targets {
        let version = database_version(target).await;
        match target.kind {
            BackendKind::Postgres => postgres = version,
            BackendKind::Sqlite => sqlite = version,
        }
    }
    let head = command("git", &["rev-parse", "--short", "HEAD"]).await;
    let dirty = command("git", &["status", "--porcelain"])
        .await
        .is_some_and(|s| !s.is_empty());
    let commit = match head {
        Some(h) if dirty => format!("{h} with uncommitted changes"),
        Some(h) => h,
        None => "unknown".to_owned(),
    };
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        memory_gib: memory_kib / 1024.0 / 1024.0,
        os,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        rustc: command("rustc", &["--version"]).await.unwrap_or_default(),
        wrk: crate::wrk::version().await,
        postgres,
        sqlite,
        commit,
        date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .await
            .unwrap_or_default(),
    }
}
