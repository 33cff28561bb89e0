//! `auditlog purge`, and the same removal of expired entries that `serve` runs in the
//! background: each tenant's entries older than its retention (`tenants update
//! --retention-days`, else `AUDITLOG_RETENTION_DAYS`), unless it is under legal hold.

use std::time::Duration;

use anyhow::bail;
use auditlog_storage::{LogSigner, SeaOrmStore, TenantPurge};
use time::OffsetDateTime;

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
