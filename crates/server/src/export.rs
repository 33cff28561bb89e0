//! `auditlog export`: a tenant's entries in log order, as NDJSON or CSV, with a progress
//! bar; without filters the NDJSON ends with the checkpoint that covers it, so that
//! `auditlog verify --entries` can check it offline.

use std::{io::Write, path::PathBuf};

use anyhow::Context;
use auditlog_domain::{AuditLogFilter, LogStore};
use auditlog_http::export_format::ExportFormat;
use auditlog_storage::{SeaOrmStore, StoreOptions};
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

/// Leaves read per page.
const PAGE: u64 = 10_000;

/// Arguments of `auditlog export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The tenant.
    #[arg(long)]
    pub tenant: Uuid,
    /// `ndjson` or `csv`.
    #[arg(long, default_value = "ndjson")]
    pub format: String,
    /// Write here instead of to standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Only entries of these types (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Only entries at or after this time (RFC 3339).
    #[arg(long)]
    pub start_time: Option<String>,
    /// Only entries before this time (RFC 3339).
    #[arg(long)]
    pub end_time: Option<String>,
    /// Only entries of this user id.
    #[arg(long)]
    pub actor_user_id: Option<String>,
    /// Only entries of this e-mail address (any ASCII case).
    #[arg(long)]
    pub actor_email: Option<String>,
    /// Only entries from this address or CIDR block.
    #[arg(long)]
    pub meta_source_ip: Option<String>,
    /// Only entries whose address, user id or e-mail address contains this.
    #[arg(long)]
    pub q: Option<String>,
}

impl ExportArgs {
    /// The filter, built as the APIs build it from query parameters.
    fn filter(&self) -> anyhow::Result<(AuditLogFilter, bool)> {
        let mut pairs: Vec<(&str, &str)> =
            self.types.iter().map(|t| ("type", t.as_str())).collect();
        for (name, value) in [
            ("start_time", &self.start_time),
            ("end_time", &self.end_time),
            ("actor_user_id", &self.actor_user_id),
            ("actor_email", &self.actor_email),
            ("meta_source_ip", &self.meta_source_ip),
            ("q", &self.q),
        ] {
            if let Some(value) = value {
                pairs.push((name, value));
            }
        }
        let whole = pairs.is_empty();
        let filter =
            AuditLogFilter::from_query_pairs(pairs).map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok((filter, whole))
    }
}

/// Runs `auditlog export`.
pub async fn run(database_url: &str, args: ExportArgs) -> anyhow::Result<()> {
    let format: ExportFormat = args
        .format
        .parse()
        .map_err(|err: String| anyhow::anyhow!(err))?;
    let (filter, whole) = args.filter()?;
    let store = SeaOrmStore::connect(database_url, StoreOptions::default())
        .await
        .context("connecting to the database")?;
    // The export covers the log up to its newest checkpoint, read first.
    let checkpoint = store.latest_checkpoint(args.tenant).await?;
    let end = checkpoint.as_ref().map_or(0, |c| c.size);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = ProgressBar::new(end);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} leaves ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if args.output.is_none() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    out.write_all(&format.header())?;
    let (mut from, mut written) = (0, 0u64);
    while from < end {
        let page = store
            .export_page(args.tenant, &filter, from, end, PAGE)
            .await?;
        for (index, entry) in &page.entries {
            out.write_all(&format.entry(*index, entry)?)?;
        }
        written += page.entries.len() as u64;
        from = page.next;
        bar.set_position(from);
    }
    let note = checkpoint.filter(|_| whole).map(|c| c.note);
    out.write_all(&format.trailer(note.as_deref()))?;
    out.flush()?;
    bar.finish_and_clear();
    eprintln!("{written} entries of {end} leaves exported");
    Ok(())
}
