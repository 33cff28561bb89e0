//! Verifying a tenant's log against its entries: every leaf is recomputed from the
//! entry it names, the tree is rebuilt from those leaves, and every kept checkpoint is
//! checked against the rebuilt tree and the verifier key. What disagrees is reported
//! by leaf index and entry id, with the kind of change it shows.

use std::{
    collections::{HashMap, HashSet},
    fmt,
};

use auditlog_domain::{
    StoreError,
    log::{
        Checkpoint, Hash as LogHash, MemoryTree, VerifierKey, leaf_bytes, leaf_hash, tenant_origin,
    },
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::{entries_by_id, hashes::split};
use crate::{
    SeaOrmStore,
    error::db_error,
    schema::{checkpoint, entry, leaf, pending, signing_key},
};

/// Leaves read per query.
const PAGE: u64 = 20_000;
/// Ids per `SELECT ... IN (...)`.
const CHUNK: usize = 1_000;

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
    /// What disagrees, in the order of the leaves (checkpoints after).
    pub findings: Vec<Finding>,
}

impl TenantReport {
    /// Whether the log and the entries agree.
    pub fn verified(&self) -> bool {
        self.findings.is_empty()
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
        verify(self.connection(), tenant_id, key, log_origin, progress).await
    }
}

async fn verify<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    key: &VerifierKey,
    log_origin: &str,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TenantReport, StoreError> {
    let mut report = TenantReport {
        tenant_id,
        ..TenantReport::default()
    };
    let mut tree = MemoryTree::new();
    // Every stored hash the leaves make, in tlog's order, to compare with the stored.
    let mut made: Vec<Hash> = Vec::new();
    // Leaves whose entry does not give the recorded leaf hash: (index, id, made hash).
    let mut mismatched: Vec<(u64, Uuid, Hash)> = Vec::new();
    let mut recorded_at: HashMap<[u8; 32], u64> = HashMap::new();
    let mut gone: Vec<(u64, Uuid)> = Vec::new();
    let mut in_tree: HashSet<Uuid> = HashSet::new();
    let mut next: u64 = 0;
    loop {
        let page: Vec<leaf::Model> = leaf::Entity::find()
            .filter(leaf::Column::TenantId.eq(tenant_id))
            .filter(leaf::Column::LeafIndex.gte(i64::try_from(next).unwrap_or(i64::MAX)))
            .order_by_asc(leaf::Column::LeafIndex)
            .limit(PAGE)
            .all(conn)
            .await
            .map_err(db_error)?;
        if page.is_empty() {
            break;
        }
        let ids: Vec<Uuid> = page.iter().map(|l| l.entry_id).collect();
        let entries =
            entries_by_id(conn, entry::Column::TenantId.eq(tenant_id).into(), &ids).await?;
        for row in page {
            let index = u64::try_from(row.leaf_index).unwrap_or(u64::MAX);
            if index != next {
                report.findings.push(Finding {
                    change: Change::Missing,
                    leaf_index: Some(next),
                    entry_id: None,
                    detail: format!(
                        "leaves {next} to {} are gone from the tree",
                        index.saturating_sub(1)
                    ),
                });
                // Nothing after a gap can be checked against the checkpoints.
                return finish(conn, report, tree, key, log_origin, &in_tree).await;
            }
            in_tree.insert(row.entry_id);
            let stored = split(&row.hashes).unwrap_or_default();
            let recorded = stored.first().copied();
            if let Some(recorded) = recorded {
                recorded_at.entry(recorded.0).or_insert(index);
            }
            let leaf = match entries.get(&row.entry_id) {
                Some(entry) => match leaf_bytes(entry) {
                    Ok(bytes) => Hash(leaf_hash(&bytes).0),
                    Err(err) => {
                        report.findings.push(Finding {
                            change: Change::Changed,
                            leaf_index: Some(index),
                            entry_id: Some(row.entry_id),
                            detail: format!("the entry has no leaf: {err}"),
                        });
                        recorded.unwrap_or_default()
                    }
                },
                None => {
                    gone.push((index, row.entry_id));
                    // Go on with what was recorded, to check the rest.
                    recorded.unwrap_or_default()
                }
            };
            if entries.contains_key(&row.entry_id) && Some(leaf) != recorded {
                mismatched.push((index, row.entry_id, leaf));
            }
            let expected = {
                let reader = Made(&made);
                tlog_tiles::stored_hashes_for_record_hash(index, leaf, &reader).map_err(|err| {
                    StoreError::Backend(format!("rebuilding the tree failed: {err}"))
                })?
            };
            // The leaf hash itself is judged above; the subtrees it completed here.
            if Some(leaf) == recorded && expected != stored {
                report.findings.push(Finding {
                    change: Change::TreeRewritten,
                    leaf_index: Some(index),
                    entry_id: Some(row.entry_id),
                    detail:
                        "the subtree hashes stored with this leaf are not those the leaves make"
                            .to_owned(),
                });
            }
            made.extend(expected);
            tree.push(LogHash(leaf.0))
                .map_err(|err| StoreError::Backend(format!("rebuilding the tree failed: {err}")))?;
            next += 1;
        }
        progress(next);
    }
    report.leaves = next;
    classify(conn, tenant_id, &mut report, mismatched, &recorded_at, gone).await?;
    finish(conn, report, tree, key, log_origin, &in_tree).await
}

/// Names what the mismatched and gone leaves show: an entry recorded at another leaf
/// is reordered, one now in another tenant moved, the rest changed or missing.
async fn classify<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    report: &mut TenantReport,
    mismatched: Vec<(u64, Uuid, Hash)>,
    recorded_at: &HashMap<[u8; 32], u64>,
    gone: Vec<(u64, Uuid)>,
) -> Result<(), StoreError> {
    let mut findings = Vec::new();
    for (index, id, made) in mismatched {
        let (change, detail) = match recorded_at.get(&made.0) {
            Some(other) => (
                Change::Reordered,
                format!("the entry is the one recorded at leaf {other}"),
            ),
            None => (
                Change::Changed,
                "the entry's content is not what its leaf recorded".to_owned(),
            ),
        };
        findings.push(Finding {
            change,
            leaf_index: Some(index),
            entry_id: Some(id),
            detail,
        });
    }
    let ids: Vec<Uuid> = gone.iter().map(|(_, id)| *id).collect();
    let mut elsewhere: HashMap<Uuid, Uuid> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(Uuid, Uuid)> = entry::Entity::find()
            .select_only()
            .column(entry::Column::Id)
            .column(entry::Column::TenantId)
            .filter(entry::Column::Id.is_in(chunk.iter().copied()))
            .filter(entry::Column::TenantId.ne(tenant_id))
            .into_tuple()
            .all(conn)
            .await
            .map_err(db_error)?;
        elsewhere.extend(rows);
    }
    for (index, id) in gone {
        let (change, detail) = match elsewhere.get(&id) {
            Some(other) => (Change::Moved, format!("the entry is now in tenant {other}")),
            None => (Change::Missing, "the leaf's entry is gone".to_owned()),
        };
        findings.push(Finding {
            change,
            leaf_index: Some(index),
            entry_id: Some(id),
            detail,
        });
    }
    findings.sort_by_key(|f| f.leaf_index);
    // Entry findings first, in leaf order, before the tree's own.
    let tree_findings = std::mem::take(&mut report.findings);
    report.findings = findings;
    report.findings.extend(tree_findings);
    report.findings.sort_by_key(|f| f.leaf_index);
    Ok(())
}

/// The entries and checkpoints after the leaves: entries in no leaf, and every kept
/// checkpoint against the rebuilt tree and the key.
async fn finish<C: ConnectionTrait>(
    conn: &C,
    mut report: TenantReport,
    tree: MemoryTree,
    key: &VerifierKey,
    log_origin: &str,
    in_tree: &HashSet<Uuid>,
) -> Result<TenantReport, StoreError> {
    let tenant_id = report.tenant_id;
    report.leaves = tree.size();
    let queued: HashSet<Uuid> = pending::Entity::find()
        .select_only()
        .column(pending::Column::EntryId)
        .filter(pending::Column::TenantId.eq(tenant_id))
        .into_tuple::<Uuid>()
        .all(conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .collect();
    report.pending = queued.len() as u64;
    let ids: Vec<Uuid> = entry::Entity::find()
        .select_only()
        .column(entry::Column::Id)
        .filter(entry::Column::TenantId.eq(tenant_id))
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_error)?;
    report.entries = ids.len() as u64;
    for id in ids {
        if !in_tree.contains(&id) && !queued.contains(&id) {
            report.findings.push(Finding {
                change: Change::Inserted,
                leaf_index: None,
                entry_id: Some(id),
                detail: "the entry is in no leaf of the tree and not queued for it".to_owned(),
            });
        }
    }

    let origin = tenant_origin(log_origin, tenant_id);
    let checkpoints = checkpoint::Entity::find()
        .filter(checkpoint::Column::TenantId.eq(tenant_id))
        .order_by_asc(checkpoint::Column::Size)
        .all(conn)
        .await
        .map_err(db_error)?;
    report.checkpoints = checkpoints.len() as u64;
    let mut previous: Option<(u64, LogHash)> = None;
    for row in checkpoints {
        let size = u64::try_from(row.size).unwrap_or(u64::MAX);
        report.newest_size = report.newest_size.max(size);
        let opened = match Checkpoint::open(&row.note, key, &origin) {
            Ok(opened) => opened,
            Err(err) => {
                report.findings.push(Finding {
                    change: Change::BadSignature,
                    leaf_index: None,
                    entry_id: None,
                    detail: format!("the checkpoint of size {size}: {err}"),
                });
                continue;
            }
        };
        if opened.size() != size || opened.root().0.as_slice() != row.root.as_slice() {
            report.findings.push(Finding {
                change: Change::Fork,
                leaf_index: None,
                entry_id: None,
                detail: format!("the checkpoint kept for size {size} signs another size or root"),
            });
            continue;
        }
        if size > tree.size() {
            report.findings.push(Finding {
                change: Change::Missing,
                leaf_index: Some(tree.size()),
                entry_id: None,
                detail: format!("the checkpoint of size {size} covers leaves that are gone"),
            });
            continue;
        }
        let made = tree
            .root_at(size)
            .map_err(|err| StoreError::Backend(format!("rebuilding the tree failed: {err}")))?;
        if made != opened.root() {
            report.findings.push(Finding {
                change: Change::Fork,
                leaf_index: None,
                entry_id: None,
                detail: format!("the signed root of size {size} is not the root the leaves make"),
            });
            continue;
        }
        if let Some((old_size, old_root)) = previous {
            // Both roots are the rebuilt tree's; its consistency proof must hold.
            let proof = tree
                .consistency_proof(old_size, size)
                .map_err(|err| StoreError::Backend(format!("rebuilding the tree failed: {err}")))?;
            if auditlog_domain::log::verify_consistency(old_size, size, old_root, made, &proof)
                .is_err()
            {
                report.findings.push(Finding {
                    change: Change::Fork,
                    leaf_index: None,
                    entry_id: None,
                    detail: format!(
                        "the checkpoints of sizes {old_size} and {size} are not consistent"
                    ),
                });
            }
        }
        previous = Some((size, made));
    }
    let signers: Vec<String> = signing_key::Entity::find()
        .select_only()
        .column(signing_key::Column::VerifierKey)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_error)?;
    let ours = key.to_string();
    for other in signers.into_iter().filter(|k| *k != ours) {
        report.findings.push(Finding {
            change: Change::KeyChanged,
            leaf_index: None,
            entry_id: None,
            detail: format!("checkpoints were also signed by the key {other}"),
        });
    }
    Ok(report)
}

/// The stored hashes made so far, as tlog reads them.
struct Made<'a>(&'a [Hash]);

impl tlog_tiles::HashReader for Made<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.0.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}
