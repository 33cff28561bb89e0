//! `auditlog purge`, and the same removal of expired entries that `serve` runs in the
//! background: each tenant's entries older than its retention (`tenants update
//! --retention-days`, else `AUDITLOG_RETENTION_DAYS`), unless it is under legal hold;
//! and `auditlog erase`, which removes one person's personal data from their entries.

use std::time::Duration;

use anyhow::bail;
use auditlog_storage::{LogSigner, Person, SeaOrmStore, TenantPurge};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    config::LogConfig,
    database::{Create, Database},
    settings::Settings,
    signing_key,
};

/// Arguments of `auditlog purge`.
#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Only count what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    #[command(flatten, next_help_heading = "Retention")]
    pub retention: crate::args::RetentionArgs,
    // The signing key file that signs each removal (never made here) and the log
    // origin that names the logs.
    #[command(flatten, next_help_heading = "Transparency log")]
    pub signing: crate::args::SigningArgs,
}

/// The default retention, refused when it is 0 days (which would remove everything).
pub fn default_days(settings: &Settings) -> anyhow::Result<Option<u32>> {
    match settings.retention_days {
        Some(0) => bail!("retention_days (AUDITLOG_RETENTION_DAYS) must be at least 1 day"),
        days => Ok(days),
    }
}

/// Runs `auditlog purge`.
pub async fn run(database: &Database, settings: &Settings, args: PurgeArgs) -> anyhow::Result<()> {
    let days = default_days(settings)?;
    let config = LogConfig::new(settings);
    // The origin must name the log before anything is signed under it.
    signing_key::existing_verifier(&config)?;
    let signer = signing_key::existing_signer(&config)?;
    let store = database.open(Create::Refused).await?;
    let done = store
        .purge(&signer, days, OffsetDateTime::now_utc(), args.dry_run)
        .await?;
    if done.is_empty() {
        println!("no tenant has a retention: nothing expires");
    }
    for purge in &done {
        println!("{}", describe(purge, args.dry_run));
    }
    Ok(())
}

/// One line about one tenant's purge.
fn describe(purge: &TenantPurge, dry_run: bool) -> String {
    let rule = format!(
        "retention {} days{}, before {}",
        purge.retention_days,
        if purge.by_default { " (default)" } else { "" },
        purge
            .before
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    let waiting = if purge.waiting > 0 {
        format!(
            "; {} expired {} kept",
            purge.waiting,
            if purge.held {
                "entries"
            } else {
                "entries not yet in the log"
            }
        )
    } else {
        String::new()
    };
    if purge.held {
        return format!(
            "tenant {}: legal hold: nothing removed ({rule}){waiting}",
            purge.tenant_id
        );
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    format!(
        "tenant {}: {verb} {} entries ({rule}){waiting}",
        purge.tenant_id, purge.removed
    )
}

/// Removes expired entries every `interval` (the first time a minute after the start),
/// for as long as the process runs.
pub fn background(store: SeaOrmStore, signer: LogSigner, days: Option<u32>, interval: Duration) {
    tokio::spawn(async move {
        let mut next = tokio::time::Instant::now() + FIRST_PURGE.min(interval);
        loop {
            tokio::time::sleep_until(next).await;
            next += interval;
            match store
                .purge(&signer, days, OffsetDateTime::now_utc(), false)
                .await
            {
                Ok(done) => {
                    for purge in done.iter().filter(|p| p.removed > 0 || p.held) {
                        tracing::info!(
                            tenant_id = %purge.tenant_id,
                            removed = purge.removed,
                            held = purge.held,
                            retention_days = purge.retention_days,
                            "retention applied"
                        );
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "removing expired entries failed; trying again later");
                }
            }
        }
    });
}

/// The first purge after the start.
const FIRST_PURGE: Duration = Duration::from_secs(60);

/// Arguments of `auditlog erase`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("person").required(true).args(["actor_user_id", "actor_email"])))]
pub struct EraseArgs {
    /// The tenant whose entries to erase.
    #[arg(long)]
    pub tenant: Uuid,
    /// The person's entries by user id (exactly, as the `actor_user_id` filter).
    #[arg(long, value_name = "ID")]
    pub actor_user_id: Option<String>,
    /// The person's entries by e-mail address (ignoring ASCII case, as the
    /// `actor_email` filter).
    #[arg(long, value_name = "EMAIL")]
    pub actor_email: Option<String>,
    /// Only count the entries; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    // The signing key file that signs each erasure (never made here) and the log
    // origin that names the logs.
    #[command(flatten, next_help_heading = "Transparency log")]
    pub signing: crate::args::SigningArgs,
}

/// Runs `auditlog erase`.
pub async fn erase(
    database: &Database,
    settings: &Settings,
    args: EraseArgs,
) -> anyhow::Result<()> {
    let person = match (args.actor_user_id, args.actor_email) {
        (Some(id), None) if !id.is_empty() => Person::UserId(id),
        (None, Some(email)) if !email.is_empty() => Person::Email(email),
        _ => bail!("give one of --actor-user-id and --actor-email, not empty"),
    };
    let config = LogConfig::new(settings);
    signing_key::existing_verifier(&config)?;
    let signer = signing_key::existing_signer(&config)?;
    let store = database.open(Create::Refused).await?;
    let done = store
        .erase(&signer, args.tenant, &person, args.dry_run)
        .await?;
    if args.dry_run {
        println!(
            "tenant {}: would erase {} entries",
            args.tenant, done.entries
        );
    } else {
        println!(
            "tenant {}: erased {} entries ({} signed erasure(s))",
            args.tenant,
            done.entries,
            done.removals.len()
        );
    }
    Ok(())
}
