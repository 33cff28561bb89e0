//! `auditlog tenants` and `auditlog keys`: what an operator manages by hand.

use anyhow::bail;
use auditlog_domain::{ApiKeySecret, KeyStore, NewApiKey, Scopes};
use auditlog_storage::SeaOrmStore;
use clap::Subcommand;
use uuid::Uuid;

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

pub async fn tenants(store: &SeaOrmStore, command: TenantsCommand) -> anyhow::Result<()> {
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

pub async fn keys(store: &SeaOrmStore, command: KeysCommand) -> anyhow::Result<()> {
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
