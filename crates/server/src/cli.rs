//! The command line.

use std::sync::Arc;

use anyhow::{Context, bail};
use auditlog_domain::{ApiKeySecret, KeyStore, NewApiKey, Scopes};
use auditlog_storage::{SeaOrmStore, StoreOptions};
use clap::{Parser, Subcommand};
use uuid::Uuid;

use crate::{config, export, seed, serve, signing_key, verify};

/// auditlog: a security audit log with Hanko-compatible APIs.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The database: `sqlite://FILE?mode=rwc` (embedded) or `postgres://...`.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_DATABASE_URL",
        default_value = "sqlite://auditlog.db?mode=rwc"
    )]
    pub database_url: String,
    /// Log format: `text` or `json`.
    #[arg(
        long,
        global = true,
        env = "AUDITLOG_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (migrations run first).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write realistic synthetic entries, for demos and benchmarks.
    Seed(seed::SeedArgs),
    /// Check each tenant's log against its entries (online), or an NDJSON export
    /// against a checkpoint (offline: --entries, --checkpoint, --key); exits non-zero
    /// on any disagreement.
    Verify(verify::VerifyArgs),
    /// Write a tenant's entries in log order as NDJSON or CSV; without filters the
    /// NDJSON ends with the checkpoint that covers it.
    Export(export::ExportArgs),
    /// Print the verifier key of the log signing key (making the key file when it is
    /// missing, as `serve` does): what clients check checkpoints with.
    LogKey,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant (a new id unless --id is given); prints its id.
    Create {
        /// The tenant's id.
        #[arg(long)]
        id: Option<Uuid>,
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once and never again.
    Create {
        /// The key's tenant.
        #[arg(long)]
        tenant: Uuid,
        /// `read`, `write` or `read,write`.
        #[arg(long, default_value = "read")]
        scopes: Scopes,
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (never their secrets).
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<Uuid>,
    },
    /// Revoke a key with immediate effect.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: Uuid,
    },
}

async fn open_store(url: &str) -> anyhow::Result<SeaOrmStore> {
    let options = StoreOptions {
        max_connections: config::max_connections()?,
        ..StoreOptions::default()
    };
    SeaOrmStore::connect(url, options)
        .await
        .context("cannot open the database")
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&auditlog_http::openapi_document())?
            );
            Ok(())
        }
        Command::Serve => {
            let config = config::ServeConfig::from_env()?;
            // Before the database: a key file that cannot be used stops the start at once.
            let (signer, verifier) = signing_key::signer(&config::LogConfig::from_env())?;
            serve::run(
                Arc::new(open_store(&cli.database_url).await?),
                config,
                signer,
                verifier,
            )
            .await
        }
        Command::LogKey => {
            let (_, verifier) = signing_key::signer(&config::LogConfig::from_env())?;
            println!("{verifier}");
            Ok(())
        }
        Command::Migrate => {
            // As `serve` does, so that keys can be made for it before the first start.
            let tenant = config::bootstrap_tenant_id()?;
            let store = open_store(&cli.database_url).await?;
            store
                .ensure_tenant(tenant, serve::DEFAULT_TENANT_NAME)
                .await?;
            println!("migrations applied; tenant {tenant} exists");
            Ok(())
        }
        Command::Tenants(command) => tenants(&open_store(&cli.database_url).await?, command).await,
        Command::Keys(command) => keys(&open_store(&cli.database_url).await?, command).await,
        Command::Seed(args) => seed::run(&open_store(&cli.database_url).await?, args).await,
        Command::Verify(args) => verify::run(&cli.database_url, args).await,
        Command::Export(args) => export::run(&cli.database_url, args).await,
    }
}

async fn tenants(store: &SeaOrmStore, command: TenantsCommand) -> anyhow::Result<()> {
    match command {
        TenantsCommand::Create { id, name } => {
            let tenant = store
                .ensure_tenant(id.unwrap_or_else(Uuid::new_v4), &name)
                .await?;
            println!("{}", tenant.id);
        }
        TenantsCommand::List => {
            for tenant in store.tenants().await? {
                println!("{}\t{}", tenant.id, tenant.name);
            }
        }
    }
    Ok(())
}

async fn keys(store: &SeaOrmStore, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            tenant,
            scopes,
            name,
        } => {
            if !store.tenants().await?.iter().any(|t| t.id == tenant) {
                bail!(
                    "tenant {tenant} does not exist; create it with `auditlog tenants create --id {tenant}`"
                );
            }
            if scopes == Scopes::default() {
                bail!("a key needs at least one scope: read, write or read,write");
            }
            let secret = ApiKeySecret::generate();
            let key = store
                .register_key(NewApiKey {
                    tenant_id: tenant,
                    name,
                    scopes,
                    secret: secret.clone(),
                })
                .await?;
            eprintln!(
                "key {} created for tenant {tenant} with scopes {scopes}; the secret is shown once:",
                key.id
            );
            println!("{}", secret.expose());
        }
        KeysCommand::List { tenant } => {
            println!("id\ttenant\tprefix\tscopes\tstatus\tname");
            for key in store.keys(tenant).await? {
                let status = if key.is_active() { "active" } else { "revoked" };
                // `alk_...` begins the secret; `sha256:...` is of its hash, not of it.
                let more = if key.prefix.starts_with(auditlog_domain::keys::SECRET_PREFIX) {
                    "..."
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}{more}\t{}\t{status}\t{}",
                    key.id, key.tenant_id, key.prefix, key.scopes, key.name
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_key(id).await? {
                bail!("no key with id {id}");
            }
            println!("key {id} revoked");
        }
    }
    Ok(())
}
