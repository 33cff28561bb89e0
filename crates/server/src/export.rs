//! `auditlog export`: a tenant's entries in log order, as NDJSON or CSV, with a progress
//! bar; without filters the NDJSON ends with the checkpoint that covers it, so that
//! `auditlog verify --entries` can check it offline.

use std::{io::Write, path::PathBuf, sync::Arc};

use anyhow::Context;
use auditlog_domain::{AccessOperation, AuditLogFilter};
use auditlog_http::{export_format::ExportFormat, export_reader::ExportReader};
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::database::{Create, Database};

/// Leaves read per page.
const PAGE: u64 = 10_000;

/// Arguments of `auditlog export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
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
    fn filter(&self) -> anyhow::Result<AuditLogFilter> {
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
        AuditLogFilter::from_query_pairs(pairs).map_err(|err| anyhow::anyhow!("{err}"))
    }
}

/// Runs `auditlog export`.
pub async fn run(database: &Database, args: ExportArgs) -> anyhow::Result<()> {
    let format: ExportFormat = args
        .format
        .parse()
        .map_err(|err: String| anyhow::anyhow!(err))?;
    let filter = args.filter()?;
    let store = Arc::new(database.open(Create::Refused).await?);
    let mut parameters = crate::access_log::parameters(filter.query_pairs());
    parameters.insert("format".to_owned(), format.name().into());
    let mut export = ExportReader::open(store.clone(), args.tenant, filter, format, PAGE).await?;
    let written = write(&mut export, &args).await;
    // The read is recorded whether the export ended or failed part way.
    crate::access_log::record_cli(
        store.as_ref(),
        args.tenant,
        AccessOperation::ExportAuditLogs,
        parameters,
        export.entries_written(),
    )
    .await?;
    written?;
    eprintln!(
        "{} entries of {} leaves exported",
        export.entries_written(),
        export.tree_size()
    );
    Ok(())
}

/// Writes the export where `args` ask.
async fn write(export: &mut ExportReader, args: &ExportArgs) -> anyhow::Result<()> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = ProgressBar::new(export.tree_size());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} leaves ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if args.output.is_none() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    while let Some(chunk) = export.next_chunk().await? {
        out.write_all(&chunk)?;
        bar.set_position(export.leaves_read());
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}
