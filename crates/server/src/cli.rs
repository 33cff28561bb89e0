//! The command line: each command with the settings it reads (and no others, so that
//! its `--help` offers only what it uses), and what runs each one.

use std::{io::Write, path::PathBuf, sync::Arc};

use auditlog_domain::KeyStore as _;
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::{
    access_log,
    args::{
        BootstrapKeyArgs, ConfigArgs, DatabaseArgs, HttpArgs, PurgeScheduleArgs, RetentionArgs,
        SigningArgs, TenantArgs, given,
    },
    config,
    database::{Create, Database},
    export, manage, purge, seed, serve,
    settings::{Loader, Settings},
    signing_key, verify,
};

/// auditlog: a security audit log with Hanko-compatible APIs.
///
/// Settings come from flags, else the environment (`AUDITLOG_*`), else a TOML file
/// given with --config, else the defaults; each command's --help lists its own.
#[derive(Debug, Parser)]
#[command(version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (migrations run first; a missing SQLite file is made).
    Serve(ServeArgs),
    /// Run the database migrations and create the bootstrap tenant, then exit (a
    /// missing SQLite file is made).
    Migrate(MigrateArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Manage tenants.
    Tenants(TenantsArgs),
    /// Manage API keys.
    Keys(KeysArgs),
    /// Write realistic synthetic entries, for demos and benchmarks.
    Seed(seed::SeedArgs),
    /// Check each tenant's log against its entries (online), or an NDJSON export
    /// against a checkpoint (offline: --entries, --checkpoint, --key); exits non-zero
    /// on any disagreement.
    Verify(verify::VerifyArgs),
    /// Remove the entries older than each tenant's retention (its own, else
    /// AUDITLOG_RETENTION_DAYS), but not of tenants under legal hold; each removal is
    /// signed with the log key, so that `verify` tells it from tampering.
    Purge(purge::PurgeArgs),
    /// Erase one person's personal data (user id, e-mail address, source address, user
    /// agent, details, error) from their entries, which stay in place marked as erased;
    /// each batch is signed with the log key, so that `verify` tells it from tampering.
    Erase(purge::EraseArgs),
    /// Write a tenant's entries in log order as NDJSON or CSV; without filters the
    /// NDJSON ends with the checkpoint that covers it.
    Export(export::ExportArgs),
    /// Show who read a tenant's log, newest first: every read through the API (and
    /// from this command line), with its key, operation, parameters and entry count.
    AccessLog(access_log::AccessLogArgs),
    /// Print the verifier key of the log signing key (making the key file when it is
    /// missing, as `serve` does): what clients check checkpoints with.
    LogKey(LogKeyArgs),
    /// Print a shell completion script: `auditlog completions bash >
    /// /etc/bash_completion.d/auditlog`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one per command into --dir.
    Man {
        /// Write `auditlog.1` and a page per command (`auditlog-serve.1`, ...) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// The settings of the commands that work on the database.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

impl StoreArgs {
    fn loader(&self) -> anyhow::Result<Loader> {
        Ok(self.config.loader()?.given(&self.database))
    }
}

impl ConfigArgs {
    fn loader(&self) -> anyhow::Result<Loader> {
        Ok(Loader::new(given(&self.config).map(PathBuf::as_path))?.given(self))
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten, next_help_heading = "HTTP")]
    http: HttpArgs,
    #[command(flatten, next_help_heading = "Transparency log")]
    signing: SigningArgs,
    #[command(flatten, next_help_heading = "Retention")]
    retention: RetentionArgs,
    #[command(flatten, next_help_heading = "Retention")]
    purge: PurgeScheduleArgs,
    #[command(flatten, next_help_heading = "Bootstrap")]
    tenant: TenantArgs,
    #[command(flatten, next_help_heading = "Bootstrap")]
    key: BootstrapKeyArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    tenant: TenantArgs,
}

#[derive(Debug, Args)]
pub struct TenantsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: manage::TenantsCommand,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: manage::KeysCommand,
}

#[derive(Debug, Args)]
pub struct LogKeyArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    signing: SigningArgs,
}

impl Command {
    /// The settings the command reads, from every layer; `None` for those that read
    /// none.
    pub fn settings(&self) -> anyhow::Result<Option<Settings>> {
        let loader = match self {
            Command::Serve(args) => args
                .store
                .loader()?
                .given(&args.http)
                .given(&args.signing)
                .given(&args.retention)
                .given(&args.purge)
                .given(&args.tenant)
                .given(&args.key),
            Command::Migrate(args) => args.store.loader()?.given(&args.tenant),
            Command::Tenants(TenantsArgs { store, .. })
            | Command::Keys(KeysArgs { store, .. })
            | Command::Seed(seed::SeedArgs { store, .. })
            | Command::Export(export::ExportArgs { store, .. })
            | Command::AccessLog(access_log::AccessLogArgs { store, .. }) => store.loader()?,
            Command::Verify(args) => args.store.loader()?.given(&args.signing),
            Command::Purge(args) => args
                .store
                .loader()?
                .given(&args.retention)
                .given(&args.signing),
            Command::Erase(args) => args.store.loader()?.given(&args.signing),
            Command::LogKey(args) => args.config.loader()?.given(&args.signing),
            Command::Openapi | Command::Completions { .. } | Command::Man { .. } => {
                return Ok(None);
            }
        };
        loader.load().map(Some)
    }
}

/// Runs `command` with the settings it read.
pub async fn run(command: Command, settings: Option<Settings>) -> anyhow::Result<()> {
    let settings = settings.unwrap_or_default();
    let database = Database::new(&settings);
    match command {
        Command::Openapi => {
            let document = serde_json::to_string_pretty(&auditlog_http::openapi_document())?;
            println!("{document}");
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "auditlog",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man { dir } => man(dir),
        Command::Serve(_) => {
            let config = config::ServeConfig::new(&settings)?;
            // Before the database: a key file that cannot be used stops the start at once.
            let (signer, verifier) = signing_key::signer(&config::LogConfig::new(&settings))?;
            let store = Arc::new(database.open(Create::Allowed).await?);
            serve::run(
                store,
                &database,
                config,
                settings.log_format,
                signer,
                verifier,
            )
            .await
        }
        Command::LogKey(_) => {
            let (_, verifier) = signing_key::signer(&config::LogConfig::new(&settings))?;
            println!("{verifier}");
            Ok(())
        }
        Command::Migrate(_) => {
            // As `serve` does, so that keys can be made for it before the first start.
            let tenant = settings.bootstrap_tenant_id;
            let store = database.open(Create::Allowed).await?;
            store
                .ensure_tenant(tenant, serve::DEFAULT_TENANT_NAME)
                .await?;
            println!("migrations applied; tenant {tenant} exists");
            Ok(())
        }
        Command::Tenants(args) => {
            manage::tenants(&database.open(Create::Refused).await?, args.command).await
        }
        Command::Keys(args) => {
            manage::keys(&database.open(Create::Refused).await?, args.command).await
        }
        Command::Seed(args) => seed::run(&database.open(Create::Refused).await?, args).await,
        Command::Verify(args) => verify::run(&database, &settings, args).await,
        Command::Purge(args) => purge::run(&database, &settings, args).await,
        Command::Erase(args) => purge::erase(&database, &settings, args).await,
        Command::Export(args) => export::run(&database, args).await,
        Command::AccessLog(args) => access_log::run(&database, args).await,
    }
}

/// The man page on standard output, or every page into `dir`.
fn man(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let command = Cli::command().name("auditlog");
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(command, &dir)?;
            eprintln!("man pages written to {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
