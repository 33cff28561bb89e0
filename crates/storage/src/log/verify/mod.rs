//! Verifying a tenant's log against its entries, in one snapshot of the database, in
//! two streamed passes ([`walk`]): every leaf is recomputed from its entry, then the
//! tree is rebuilt from the leaves keeping only its right edge, and every kept
//! checkpoint is checked against it as the walk passes its size ([`checkpoints`]).
//! What disagrees is reported by leaf index and entry id, with the kind of change it
//! shows. Memory stays constant whatever the tree's size: what is kept grows only with
//! what is found.

mod checkpoints;
mod removals;
mod walk;

use std::fmt;

use auditlog_domain::{
    StoreError,
    log::{Removal, VerifierKey, tenant_origin},
};
use sea_orm::{EntityTrait, QuerySelect};
use uuid::Uuid;

use crate::{
    SeaOrmStore,
    backend::Backend,
    error::db_error,
    schema::{checkpoint, entry},
};

/// Findings kept per tenant; past these, only a count (a log rewritten from end to end
/// would otherwise be kept whole in memory).
const MAX_FINDINGS: usize = 10_000;

/// What kind of change a finding shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// An entry's content is not what its leaf recorded.
    Changed,
    /// A leaf's entry is gone, or a leaf itself is gone.
    Missing,
    /// An entry that is in no leaf and not queued for the log.
    Inserted,
    /// An entry stands at another leaf than the one that recorded it.
    Reordered,
    /// A leaf's entry now belongs to another tenant.
    Moved,
    /// A checkpoint's signature does not verify with the verifier key.
    BadSignature,
    /// A checkpoint whose root is not the root of the tree the leaves make: another
    /// history was signed.
    Fork,
    /// The stored hashes of the tree are not those its leaves make.
    TreeRewritten,
    /// Checkpoints were signed by a key other than the verifier key.
    KeyChanged,
    /// A removal whose signed note does not verify, or does not say what its row says:
    /// its leaves are not accepted as removed.
    ForgedRemoval,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Changed => "changed",
            Change::Missing => "missing",
            Change::Inserted => "inserted",
            Change::Reordered => "reordered",
            Change::Moved => "moved to another tenant",
            Change::BadSignature => "bad signature",
            Change::Fork => "fork",
            Change::TreeRewritten => "stored tree rewritten",
            Change::KeyChanged => "signing key changed",
            Change::ForgedRemoval => "forged removal",
        })
    }
}

/// One disagreement between the entries and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of change it shows.
    pub change: Change,
    /// The leaf where it shows, if any.
    pub leaf_index: Option<u64>,
    /// The entry concerned, if any.
    pub entry_id: Option<Uuid>,
    /// What was found, for people.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.change)?;
        if let Some(index) = self.leaf_index {
            write!(f, " at leaf {index}")?;
        }
        if let Some(id) = self.entry_id {
            write!(f, " (entry {id})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// The verification of one tenant's log.
#[derive(Debug, Clone, Default)]
pub struct TenantReport {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Its entries.
    pub entries: u64,
    /// The leaves of its tree.
    pub leaves: u64,
    /// Its entries still queued for the tree.
    pub pending: u64,
    /// Its kept checkpoints.
    pub checkpoints: u64,
    /// The newest checkpoint's size.
    pub newest_size: u64,
    /// Leaves whose entries were removed on purpose, by the valid removals.
    pub removed: u64,
    /// Entries whose personal data was erased, by the valid erasures, and that are
    /// exactly as erased.
    pub erased: u64,
    /// The valid removals (signed by the verifier key), oldest first.
    pub removals: Vec<Removal>,
    /// What disagrees, in the order of the leaves (checkpoints after), at most the
    /// first 10,000.
    pub findings: Vec<Finding>,
    /// What disagrees beyond [`TenantReport::findings`].
    pub unlisted: u64,
}

impl TenantReport {
    /// Whether the log and the entries agree.
    pub fn verified(&self) -> bool {
        self.findings.is_empty() && self.unlisted == 0
    }

    /// Keeps `finding`, or counts it once [`MAX_FINDINGS`] are kept.
    fn found(&mut self, finding: Finding) {
        bounded(&mut self.findings, finding, &mut self.unlisted);
    }
}

/// Keeps `item` in `list`, or counts it in `unlisted` once [`MAX_FINDINGS`] are kept.
fn bounded<T>(list: &mut Vec<T>, item: T, unlisted: &mut u64) {
    if list.len() < MAX_FINDINGS {
        list.push(item);
    } else {
        *unlisted += 1;
    }
}

impl SeaOrmStore {
    /// The tenants that have entries or a log.
    pub async fn log_tenants(&self) -> Result<Vec<Uuid>, StoreError> {
        let conn = self.connection();
        let mut tenants: Vec<Uuid> = entry::Entity::find()
            .select_only()
            .column(entry::Column::TenantId)
            .distinct()
            .into_tuple()
            .all(conn)
            .await
            .map_err(db_error)?;
        let with_checkpoints: Vec<Uuid> = checkpoint::Entity::find()
            .select_only()
            .column(checkpoint::Column::TenantId)
            .distinct()
            .into_tuple()
            .all(conn)
            .await
            .map_err(db_error)?;
        tenants.extend(with_checkpoints);
        tenants.sort_unstable();
        tenants.dedup();
        Ok(tenants)
    }

    /// Verifies the tenant's log against its entries with `key`, the verifier key of
    /// the log origin `log_origin`; `progress` is told the leaves checked so far.
    pub async fn verify_log(
        &self,
        tenant_id: Uuid,
        key: &VerifierKey,
        log_origin: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<TenantReport, StoreError> {
        let db = self.connection();
        let backend = Backend::of(db)?;
        let txn = backend.begin_snapshot(db).await?;
        let origin = tenant_origin(log_origin, tenant_id);
        let mut report = TenantReport {
            tenant_id,
            ..TenantReport::default()
        };
        let checked = async {
            backend.tune_for_verify(&txn).await?;
            let kept = checkpoints::Kept::read(&txn, tenant_id, key, &origin, &mut report).await?;
            let covered = removals::read(&txn, tenant_id, key, &origin, &mut report).await?;
            let matched =
                walk::match_entries(&txn, backend, &mut report, covered, progress).await?;
            report.leaves = walk::rebuild_tree(&txn, kept, &mut report).await?;
            matched.name(&txn, &mut report).await?;
            checkpoints::other_signers(&txn, key, &mut report).await
        }
        .await;
        // Read-only: nothing to keep, and the snapshot is let go at once.
        txn.rollback().await.map_err(db_error)?;
        checked?;
        report
            .findings
            .sort_by_key(|f| (f.leaf_index.is_none(), f.leaf_index));
        Ok(report)
    }
}
