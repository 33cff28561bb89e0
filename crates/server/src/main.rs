//! The `auditlog` binary: serve the API, run migrations, manage tenants and keys, seed
//! demo data, print the log's verifier key. Configuration comes from the environment (`AUDITLOG_*`).
#![forbid(unsafe_code)]

mod cli;
mod config;
mod export;
mod seed;
mod serve;
mod signing_key;
mod verify;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    config::init_tracing(&cli.log_format);
    cli::run(cli).await
}
