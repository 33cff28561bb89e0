//! `auditlog verify`: checks each tenant's log against its entries in the database, or
//! an NDJSON export against a checkpoint with no database at all.

use std::{
    io::BufRead,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use auditlog_domain::{
    AuditLog,
    log::{
        Checkpoint, Hash, LeafRanges, MemoryTree, Removal, RemovalReason, VerifierKey, leaf_bytes,
        leaf_hash,
    },
};
use auditlog_storage::TenantReport;
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::{
    config::LogConfig,
    database::{Create, Database},
    settings::Settings,
    signing_key,
};

/// Arguments of `auditlog verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Only this tenant (online).
    #[arg(long)]
    pub tenant: Option<Uuid>,
    /// The verifier key to check signatures with: its text (`name+id+key`) or a file
    /// that holds it. Online, the key of the signing key file when not given.
    #[arg(long)]
    pub key: Option<String>,
    /// Offline: an NDJSON export of one tenant's whole log, in log order.
    #[arg(long, requires = "key")]
    pub entries: Option<PathBuf>,
    /// Offline: the checkpoint (signed note) that the export must reproduce; the
    /// export's last line when not given.
    #[arg(long, requires = "entries")]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    // The signing key file whose verifier key is used when `--key` is not given (never
    // made here), and the log origin that names the logs (offline, the checkpoint's).
    #[command(flatten)]
    pub signing: crate::args::SigningArgs,
}

/// Runs `auditlog verify`; fails when anything disagrees.
pub async fn run(database: &Database, settings: &Settings, args: VerifyArgs) -> anyhow::Result<()> {
    let config = LogConfig::new(settings);
    if let Some(entries) = &args.entries {
        let key = verifier_key(args.key.as_deref(), &config)?;
        return offline(entries, args.checkpoint.as_deref(), &key);
    }
    let key = verifier_key(args.key.as_deref(), &config)?;
    let store = database.open(Create::Refused).await?;
    let tenants = match args.tenant {
        Some(tenant) => vec![tenant],
        None => store.log_tenants().await?,
    };
    let mut failed = 0;
    let started = Instant::now();
    let mut leaves = 0;
    for tenant in tenants {
        let bar = ProgressBar::new_spinner().with_message(format!("tenant {tenant}"));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}: {pos} leaves ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let progress = |n: u64| bar.set_position(n);
        let report = store
            .verify_log(tenant, &key, &config.origin, &progress)
            .await?;
        bar.finish_and_clear();
        leaves += report.leaves;
        print_report(&report);
        if !report.verified() {
            failed += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{leaves} leaves checked in {seconds:.1} s ({:.0} a second)",
        leaves as f64 / seconds.max(1e-9)
    );
    if failed > 0 {
        bail!("the log of {failed} tenant(s) does not match its entries");
    }
    Ok(())
}

fn print_report(report: &TenantReport) {
    let status = if report.verified() {
        "verified"
    } else {
        "FAILED"
    };
    println!(
        "tenant {}: {status}: {} entries, {} leaves, {} queued, {} checkpoints (newest of size {})",
        report.tenant_id,
        report.entries,
        report.leaves,
        report.pending,
        report.checkpoints,
        report.newest_size
    );
    if report.removed > 0 || report.erased > 0 || !report.removals.is_empty() {
        println!(
            "  {} leaves' entries removed on purpose and {} entries erased, by {} signed \
             removal(s):",
            report.removed,
            report.erased,
            report.removals.len()
        );
        for removal in report.removals.iter().take(10) {
            println!(
                "    {} at {}: {} ({} entries, leaves {})",
                removal.reason,
                removal
                    .at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                removal.rule,
                removal.leaves.count(),
                excerpt(&removal.leaves.to_string())
            );
        }
        if report.removals.len() > 10 {
            println!("    and {} more", report.removals.len() - 10);
        }
    }
    if let Some(first) = report.findings.first() {
        println!("  first: {first}");
        for finding in report.findings.iter().skip(1).take(20) {
            println!("  also:  {finding}");
        }
        let more = (report.findings.len() as u64).saturating_sub(21) + report.unlisted;
        if more > 0 {
            println!("  and {more} more");
        }
    }
}

/// At most 60 characters of `text`.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// The verifier key from `--key` (its text, or a file holding it), else the verifier
/// key of the signing key file.
fn verifier_key(given: Option<&str>, config: &LogConfig) -> anyhow::Result<VerifierKey> {
    let Some(given) = given else {
        return signing_key::existing_verifier(config);
    };
    let text = if Path::new(given).is_file() {
        std::fs::read_to_string(given).with_context(|| format!("reading {given}"))?
    } else {
        given.to_owned()
    };
    text.trim()
        .parse()
        .map_err(|err| anyhow::anyhow!("--key is not a verifier key: {err}"))
}

/// Checks that the entries of `entries` (NDJSON, in log order) reproduce the root of
/// the checkpoint in `checkpoint` (else the export's last line), signed by `key`. A
/// leaf whose entry was removed on purpose stands as its recorded hash, and counts only
/// when a removal in the export, signed by `key` for the same log, names it.
fn offline(entries: &Path, checkpoint: Option<&Path>, key: &VerifierKey) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(entries).with_context(|| format!("reading {}", entries.display()))?;
    let mut tree = MemoryTree::new();
    let mut tenant: Option<Uuid> = None;
    let mut trailer: Option<String> = None;
    let mut removed_leaves: Vec<u64> = Vec::new();
    let mut removals: Vec<String> = Vec::new();
    // An erased entry: its leaf as written (the line before it), then the entry as
    // erased, whose hash an erasure must have signed.
    let mut erased_recorded: Option<RemovedLeaf> = None;
    let mut erased_leaves: Vec<(u64, Hash)> = Vec::new();
    let mut count = 0u64;
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        if trailer.is_some() {
            bail!("line {} follows the checkpoint line", number + 1);
        }
        match serde_json::from_str::<Special>(&line) {
            Ok(Special::Checkpoint { checkpoint }) => {
                trailer = Some(checkpoint);
                continue;
            }
            Ok(Special::Removal { removal }) => {
                removals.push(removal);
                continue;
            }
            Ok(Special::ErasedLeaf { erased_leaf }) => {
                erased_recorded = Some(erased_leaf);
                continue;
            }
            Ok(Special::RemovedLeaf { removed_leaf }) => {
                if removed_leaf.leaf_index != tree.size() {
                    bail!(
                        "line {}: removed leaf {} stands at leaf {}",
                        number + 1,
                        removed_leaf.leaf_index,
                        tree.size()
                    );
                }
                removed_leaves.push(removed_leaf.leaf_index);
                tree.push(removed_leaf.leaf_hash)?;
                continue;
            }
            Err(_) => {}
        }
        let entry: AuditLog = serde_json::from_str(&line)
            .with_context(|| format!("line {} is not an entry", number + 1))?;
        if *tenant.get_or_insert(entry.tenant_id) != entry.tenant_id {
            bail!("line {} is an entry of another tenant", number + 1);
        }
        let bytes =
            leaf_bytes(&entry).map_err(|err| anyhow::anyhow!("line {}: {err}", number + 1))?;
        let made = leaf_hash(&bytes);
        match erased_recorded.take() {
            Some(leaf) if leaf.leaf_index == tree.size() => {
                erased_leaves.push((leaf.leaf_index, made));
                tree.push(leaf.leaf_hash)?;
            }
            Some(leaf) => bail!(
                "line {}: the erased leaf {} stands at leaf {}",
                number + 1,
                leaf.leaf_index,
                tree.size()
            ),
            None => {
                tree.push(made)?;
            }
        }
        count += 1;
    }
    if erased_recorded.is_some() {
        bail!("the export ends with an erased leaf but no entry after it");
    }
    let note = match checkpoint {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => trailer.context("the export ends with no checkpoint: give --checkpoint")?,
    };
    let origin = note.lines().next().unwrap_or_default().to_owned();
    let opened = Checkpoint::open(&note, key, &origin)
        .map_err(|err| anyhow::anyhow!("the checkpoint does not verify: {err}"))?;
    if let Some(tenant) = tenant
        && !origin.ends_with(&format!("/{tenant}"))
    {
        bail!("the checkpoint is of the log {origin}, not of tenant {tenant}'s");
    }
    if tree.size() != opened.size() {
        bail!(
            "the export holds {} leaves, the checkpoint covers {}",
            tree.size(),
            opened.size()
        );
    }
    if tree.root()? != opened.root() {
        bail!("the entries do not reproduce the checkpoint's root: they are not the log it signs");
    }
    let mut signed = Vec::with_capacity(removals.len());
    for note in &removals {
        signed
            .push(Removal::open(note, key, &origin).map_err(|err| {
                anyhow::anyhow!("a removal in the export does not verify: {err}")
            })?);
    }
    let covered = LeafRanges::union(
        signed
            .iter()
            .filter(|removal| removal.reason == RemovalReason::Retention)
            .map(|removal| &removal.leaves),
    );
    if let Some(uncovered) = removed_leaves.iter().find(|&&leaf| !covered.contains(leaf)) {
        bail!(
            "leaf {uncovered} has no entry, and no removal signed by the key names it: \
             the entry was deleted, not removed"
        );
    }
    let erasures: std::collections::HashMap<u64, Hash> = signed
        .iter()
        .filter(|removal| removal.reason == RemovalReason::Erasure)
        .flat_map(|removal| removal.leaves.indexes().zip(removal.erased.iter().copied()))
        .collect();
    for (leaf, made) in &erased_leaves {
        match erasures.get(leaf) {
            Some(signed) if signed == made => {}
            Some(_) => bail!("the entry at leaf {leaf} is not as its signed erasure left it"),
            None => bail!(
                "the entry at leaf {leaf} differs from its leaf, and no erasure signed by the \
                 key names it: the entry was changed, not erased"
            ),
        }
    }
    println!(
        "verified: {count} entries ({} erased), {} removed leaves and {} signed removals \
         reproduce the signed checkpoint of {origin} (size {})",
        erased_leaves.len(),
        removed_leaves.len(),
        signed.len(),
        opened.size()
    );
    Ok(())
}

/// A line of a whole-log NDJSON export that is not an entry.
#[derive(serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Special {
    /// The last line: the checkpoint.
    Checkpoint { checkpoint: String },
    /// A removal's signed note.
    Removal { removal: String },
    /// A leaf whose entry was removed.
    RemovedLeaf { removed_leaf: RemovedLeaf },
    /// The leaf, as written, of the erased entry on the next line.
    ErasedLeaf { erased_leaf: RemovedLeaf },
}

/// A removed or erased leaf: its index and recorded hash.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RemovedLeaf {
    leaf_index: u64,
    leaf_hash: Hash,
}
