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
mod seed;
mod serve;
mod settings;
mod signing_key;
mod verify;

use std::process::ExitCode;

use clap::Parser;
use settings::LogFormat;

#[tokio::main]
async fn main() -> ExitCode {
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
