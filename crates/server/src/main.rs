//! The `auditlog` binary: serve the API, run migrations, manage tenants and keys, seed
//! demo data. Configuration comes from the environment (`AUDITLOG_*`).
#![forbid(unsafe_code)]

mod cli;
mod config;
mod seed;
mod serve;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    config::init_tracing(&cli.log_format);
    cli::run(cli).await
}
