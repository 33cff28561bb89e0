//! `auditlog tenants` and `auditlog keys`: what an operator manages by hand.

use anyhow::{Context, bail};
use auditlog_domain::{ApiKeySecret, KeyStore, NewApiKey, Scopes};
use auditlog_storage::SeaOrmStore;
use clap::Subcommand;
use time::OffsetDateTime;
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
    /// List the tenants: id, retention, legal hold, name.
    List,
    /// Change a tenant's retention or legal hold.
    Update {
        /// The tenant's id.
        id: Uuid,
        /// Keep its entries this many days (at least 1), or `default` for the service's
        /// AUDITLOG_RETENTION_DAYS.
        #[arg(long, value_name = "DAYS|default", value_parser = retention_days)]
        retention_days: Option<RetentionDays>,
        /// `on` suspends every removal of its entries (retention included) until `off`.
        #[arg(long, value_name = "on|off", value_parser = on_off)]
        legal_hold: Option<bool>,
    },
}

/// A tenant's retention as `tenants update` takes it.
#[derive(Debug, Clone, Copy)]
pub enum RetentionDays {
    /// The service's default.
    Default,
    /// This many days.
    Days(u32),
}

fn retention_days(raw: &str) -> Result<RetentionDays, String> {
    if raw.trim() == "default" {
        return Ok(RetentionDays::Default);
    }
    match raw.trim().parse::<u32>() {
        Ok(days) if (1..=i32::MAX as u32).contains(&days) => Ok(RetentionDays::Days(days)),
        _ => Err(format!(
            "{raw:?} is neither a number of days (at least 1) nor `default`"
        )),
    }
}

fn on_off(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{raw:?} is neither `on` nor `off`")),
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once and never again.
    Create {
        /// The key's tenant.
        #[arg(long)]
        tenant: Uuid,
        /// One or more of `read` (list and export entries, proofs), `write` (record
        /// entries) and `access_log` (read who read the log), comma-separated.
        #[arg(long, default_value = "read")]
        scopes: Scopes,
        /// A name for people.
        #[arg(long, default_value = "")]
        name: String,
        /// Make the key expire this long after now, such as `90d`, `12h` or `1y 6months`;
        /// it never expires when not given.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<humantime::Duration>,
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
                println!("{}", tenant_line(&tenant));
            }
        }
        TenantsCommand::Update {
            id,
            retention_days,
            legal_hold,
        } => {
            if retention_days.is_none() && legal_hold.is_none() {
                bail!("nothing to change: give --retention-days, --legal-hold or both");
            }
            let retention = retention_days.map(|days| match days {
                RetentionDays::Default => None,
                RetentionDays::Days(days) => Some(days),
            });
            let Some(tenant) = store.update_tenant(id, retention, legal_hold).await? else {
                bail!(
                    "tenant {id} does not exist; create it with `auditlog tenants create --id {id}`"
                );
            };
            println!("{}", tenant_line(&tenant));
        }
    }
    Ok(())
}

/// A tenant as `tenants list` shows it: id, retention, legal hold, name.
fn tenant_line(tenant: &auditlog_domain::Tenant) -> String {
    let retention = tenant.retention_days.map_or_else(
        || "retention=default".to_owned(),
        |days| format!("retention={days}d"),
    );
    let hold = if tenant.legal_hold {
        "legal-hold=on"
    } else {
        "legal-hold=off"
    };
    format!("{}\t{retention}\t{hold}\t{}", tenant.id, tenant.name)
}

pub async fn keys(store: &SeaOrmStore, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            tenant,
            scopes,
            name,
            expires_in,
        } => {
            if !store.tenants().await?.iter().any(|t| t.id == tenant) {
                bail!(
                    "tenant {tenant} does not exist; create it with `auditlog tenants create --id {tenant}`"
                );
            }
            if scopes == Scopes::default() {
                bail!(
                    "a key needs at least one scope: read, write, access_log, or several such as read,write"
                );
            }
            let expires_at = expires_in
                .map(|after| {
                    time::Duration::try_from(*after.as_ref())
                        .ok()
                        .and_then(|after| OffsetDateTime::now_utc().checked_add(after))
                        .filter(|at| at.year() <= 9999)
                        .with_context(|| format!("--expires-in {after} is too far off"))
                })
                .transpose()?;
            if expires_in.is_some_and(|after| after.as_ref().is_zero()) {
                bail!("--expires-in must be longer than 0s");
            }
            let secret = ApiKeySecret::generate();
            let key = store
                .register_key(NewApiKey {
                    tenant_id: tenant,
                    name,
                    scopes,
                    secret: secret.clone(),
                    expires_at,
                })
                .await?;
            let expiry = match key.expires_at {
                Some(at) => format!(", expiring at {}", rfc3339(at)),
                None => String::new(),
            };
            eprintln!(
                "key {} created for tenant {tenant} with scopes {scopes}{expiry}; the secret is shown once:",
                key.id
            );
            println!("{}", secret.expose());
        }
        KeysCommand::List { tenant } => {
            println!("id\ttenant\tprefix\tscopes\tstatus\texpires\tlast_used\tname");
            let now = OffsetDateTime::now_utc();
            for key in store.keys(tenant).await? {
                let status = key.status_at(now).as_str();
                let expires = key.expires_at.map_or_else(|| "never".to_owned(), rfc3339);
                let last_used = key.last_used_at.map_or_else(|| "never".to_owned(), rfc3339);
                // `alk_...` begins the secret; `chosen` says nothing of one.
                let more = if key.prefix.starts_with(auditlog_domain::keys::SECRET_PREFIX) {
                    "..."
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}{more}\t{}\t{status}\t{expires}\t{last_used}\t{}",
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

/// A time as RFC 3339, to the second.
fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
