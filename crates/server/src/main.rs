//! The `auditlog` binary: serve the API, run migrations, manage tenants and keys, seed
//! demo data, check and export the log, print completions and the man page. Settings
//! come from flags, the environment (`AUDITLOG_*`) and an optional TOML file.
#![forbid(unsafe_code)]

mod access_log;
mod args;
mod banner;
mod cli;
mod config;
mod database;
mod export;
mod logging;
mod manage;
mod purge;
mod seed;
mod serve;
mod settings;
mod signing_key;
mod verify;

use std::process::ExitCode;

use clap::Parser;
use settings::LogFormat;

/// jemalloc: freed memory goes back to the system within seconds of a burst, busy or
/// idle (see [`return_freed_memory`]), where glibc's malloc keeps it in its arenas.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background threads, which purge freed pages on jemalloc's decay
/// schedule (dirty pages within about 10 s) even while no request allocates, so that
/// the memory of a burst leaves the process's resident set once it is over.
fn return_freed_memory() {
    #[cfg(not(target_env = "msvc"))]
    if let Err(err) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("warning: jemalloc's background purging could not start: {err}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    return_freed_memory();
    let cli = cli::Cli::parse();
    let settings = match cli.command.settings() {
        Ok(settings) => settings,
        Err(err) => return failed(&err, None),
    };
    let format = settings.as_ref().map(|s| s.log_format);
    if let Some(format) = format {
        logging::init(format);
    }
    match cli::run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => failed(&err, format),
    }
}

/// Reports a failure as one line, its causes joined with `: ` and never a backtrace
/// (what went wrong is the operator's to fix, not the code's): a JSON log line in
/// JSON log format, else `error: ...`.
fn failed(err: &anyhow::Error, format: Option<LogFormat>) -> ExitCode {
    match format {
        Some(LogFormat::Json) => tracing::error!(error = format!("{err:#}"), "auditlog failed"),
        _ => eprintln!("error: {err:#}"),
    }
    ExitCode::FAILURE
}
