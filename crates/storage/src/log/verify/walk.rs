//! The walk over a tenant's leaves: one task reads pages of leaves, each leaf with the
//! entry it names, while this one recomputes each leaf from its entry and rebuilds the
//! tree, so the database and the hashing work side by side.

use std::{collections::HashMap, sync::Arc};

use auditlog_domain::StoreError;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Statement,
};
use tlog_tiles::Hash;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Change, Finding, MAX_FINDINGS, TenantReport, checkpoints::Kept};
use crate::{
    backend::{Backend, shared},
    error::db_error,
    log::{
        hashes::{Edge, split},
        sequence::leaf_of_row,
    },
    schema::entry,
};

/// Leaves read per query.
const PAGE: i64 = 10_000;
/// Pages read ahead of the hashing.
const AHEAD: usize = 2;
/// Ids per `SELECT ... IN (...)` when looking for moved entries.
const CHUNK: usize = 1_000;

/// A leaf as the walk reads it.
struct Leaf {
    index: i64,
    entry_id: Uuid,
    hashes: Vec<u8>,
    /// The entry's row; `None` when the tenant holds no such entry, an error when the
    /// row cannot be read as an entry.
    entry: Option<Result<entry::Model, String>>,
}

/// What the walk learned, for what is checked after it.
#[derive(Debug)]
pub(super) struct Walked {
    edge: Edge,
    kept: Kept,
    /// Leaves whose entry is there.
    present: u64,
    /// The walk stopped at a gap in the leaves.
    stopped: bool,
    /// Leaves whose entry does not make the recorded leaf hash: index, entry id, the
    /// hash the entry makes, the recorded one.
    mismatched: Vec<(u64, Uuid, Hash, Hash)>,
    /// Leaves whose entry the tenant does not hold: index, entry id, recorded hash.
    gone: Vec<(u64, Uuid, Hash)>,
}

/// Walks the tenant's leaves in `txn`, checking each against its entry and the
/// checkpoints in `kept` as their sizes pass; `progress` is told the leaves walked.
pub(super) async fn walk(
    txn: Arc<DatabaseTransaction>,
    backend: Backend,
    kept: Kept,
    report: &mut TenantReport,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Walked, StoreError> {
    let tenant_id = report.tenant_id;
    let (pages, mut incoming) = mpsc::channel::<Result<Vec<Leaf>, StoreError>>(AHEAD);
    let reader = tokio::spawn(async move {
        let mut from = 0;
        loop {
            let page = read_page(txn.as_ref(), backend, tenant_id, from).await;
            let next = match &page {
                Ok(leaves) => leaves.last().map(|leaf| leaf.index.saturating_add(1)),
                Err(_) => None,
            };
            if page.as_ref().is_ok_and(Vec::is_empty) || pages.send(page).await.is_err() {
                break;
            }
            match next {
                Some(next) => from = next,
                None => break,
            }
        }
    });
    let mut walked = Walked {
        edge: Edge::default(),
        kept,
        present: 0,
        stopped: false,
        mismatched: Vec::new(),
        gone: Vec::new(),
    };
    walked.meet_checkpoints(report)?;
    let mut failed = None;
    while let Some(page) = incoming.recv().await {
        match page {
            Ok(page) => {
                walked.take(page, report)?;
                progress(walked.edge.size());
                if walked.stopped {
                    break;
                }
            }
            Err(err) => {
                failed = Some(err);
                break;
            }
        }
    }
    drop(incoming);
    reader
        .await
        .map_err(|err| StoreError::Backend(format!("reading the leaves failed: {err}")))?;
    match failed {
        Some(err) => Err(err),
        None => Ok(walked),
    }
}

/// Reads up to [`PAGE`] of the tenant's leaves from leaf `from` on, in order.
async fn read_page(
    txn: &DatabaseTransaction,
    backend: Backend,
    tenant_id: Uuid,
    from: i64,
) -> Result<Vec<Leaf>, StoreError> {
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            backend.leaf_walk(),
            [tenant_id.into(), from.into(), PAGE.into()],
        ))
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| {
            let found: Option<Uuid> = row.try_get("", "id").map_err(db_error)?;
            let entry = found
                .map(|_| entry::Model::from_query_result(&row, "").map_err(|err| err.to_string()));
            Ok(Leaf {
                index: row.try_get("", "leaf_index").map_err(db_error)?,
                entry_id: row.try_get("", "entry_id").map_err(db_error)?,
                hashes: row.try_get("", "hashes").map_err(db_error)?,
                entry,
            })
        })
        .collect()
}

impl Walked {
    /// Checks the checkpoints due at the tree's present size.
    fn meet_checkpoints(&mut self, report: &mut TenantReport) -> Result<(), StoreError> {
        let size = self.edge.size();
        if self.kept.wants(size) {
            let root = self.edge.root().map_err(rebuild_failed)?;
            self.kept.meet(size, root, report);
        }
        Ok(())
    }

    /// Takes a page of leaves into the rebuilt tree; stops at a gap.
    fn take(&mut self, page: Vec<Leaf>, report: &mut TenantReport) -> Result<(), StoreError> {
        for leaf in page {
            let index = self.edge.size();
            if u64::try_from(leaf.index).ok() != Some(index) {
                report.found(Finding {
                    change: Change::Missing,
                    leaf_index: Some(index),
                    entry_id: None,
                    detail: format!(
                        "leaves {index} to {} are gone from the tree",
                        leaf.index.saturating_sub(1)
                    ),
                });
                // Nothing after a gap can be placed in the tree.
                self.stopped = true;
                return Ok(());
            }
            let stored = split(&leaf.hashes);
            let recorded = stored.as_ref().and_then(|hashes| hashes.first().copied());
            if recorded.is_none() {
                report.found(Finding {
                    change: Change::TreeRewritten,
                    leaf_index: Some(index),
                    entry_id: Some(leaf.entry_id),
                    detail: "the hashes stored with this leaf cannot be read".to_owned(),
                });
            }
            let made = match leaf.entry {
                Some(row) => {
                    self.present += 1;
                    match row.and_then(|row| leaf_of_row(row).map_err(|err| err.to_string())) {
                        Ok(made) => Some(made),
                        Err(err) => {
                            report.found(Finding {
                                change: Change::Changed,
                                leaf_index: Some(index),
                                entry_id: Some(leaf.entry_id),
                                detail: format!("the entry makes no leaf: {err}"),
                            });
                            None
                        }
                    }
                }
                None => {
                    if let Some(recorded) = recorded {
                        keep(&mut self.gone, (index, leaf.entry_id, recorded), report);
                    }
                    None
                }
            };
            if let (Some(made), Some(recorded)) = (made, recorded)
                && made != recorded
            {
                keep(
                    &mut self.mismatched,
                    (index, leaf.entry_id, made, recorded),
                    report,
                );
            }
            // Go on with what was recorded where the entry says otherwise, to check the
            // rest of the tree.
            let leaf_hash = recorded.or(made).unwrap_or_default();
            let expected = self.edge.append(leaf_hash).map_err(rebuild_failed)?;
            if made.is_none_or(|made| Some(made) == recorded)
                && stored.is_some_and(|stored| stored != expected)
            {
                report.found(Finding {
                    change: Change::TreeRewritten,
                    leaf_index: Some(index),
                    entry_id: Some(leaf.entry_id),
                    detail:
                        "the subtree hashes stored with this leaf are not those the leaves make"
                            .to_owned(),
                });
            }
            self.meet_checkpoints(report)?;
        }
        Ok(())
    }

    /// What is checked after the walk: the checkpoints it did not reach, what the
    /// mismatched and gone leaves show, and the entries in no leaf.
    pub(super) async fn finish<C: ConnectionTrait>(
        self,
        conn: &C,
        report: &mut TenantReport,
    ) -> Result<(), StoreError> {
        let tenant_id = report.tenant_id;
        report.leaves = self.edge.size();
        self.kept.unmet(self.edge.size(), report);
        // An entry recorded at another leaf than the one that names it now: the
        // leaves were reordered. Both leaves then disagree, so the recorded hashes of
        // the disagreeing leaves are all that is needed to tell.
        let recorded_at: HashMap<[u8; 32], u64> = self
            .mismatched
            .iter()
            .map(|&(index, _, _, recorded)| (recorded.0, index))
            .chain(
                self.gone
                    .iter()
                    .map(|&(index, _, recorded)| (recorded.0, index)),
            )
            .collect();
        for (index, id, made, _) in self.mismatched {
            let (change, detail) = match recorded_at.get(&made.0) {
                Some(other) if *other != index => (
                    Change::Reordered,
                    format!("the entry is the one recorded at leaf {other}"),
                ),
                _ => (
                    Change::Changed,
                    "the entry's content is not what its leaf recorded".to_owned(),
                ),
            };
            report.found(Finding {
                change,
                leaf_index: Some(index),
                entry_id: Some(id),
                detail,
            });
        }
        let ids: Vec<Uuid> = self.gone.iter().map(|(_, id, _)| *id).collect();
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
        for (index, id, _) in self.gone {
            let (change, detail) = match elsewhere.get(&id) {
                Some(other) => (Change::Moved, format!("the entry is now in tenant {other}")),
                None => (Change::Missing, "the leaf's entry is gone".to_owned()),
            };
            report.found(Finding {
                change,
                leaf_index: Some(index),
                entry_id: Some(id),
                detail,
            });
        }
        report.entries = count(conn, shared::COUNT_ENTRIES, tenant_id).await?;
        report.pending = count(conn, shared::COUNT_QUEUED, tenant_id).await?;
        // Each leaf names its own entry (the leaves' entry ids are unique), so the
        // entries in no leaf are what the count leaves over; only then are they named.
        if self.stopped || report.entries != self.present + report.pending {
            for id in unlogged(conn, tenant_id).await? {
                report.found(Finding {
                    change: Change::Inserted,
                    leaf_index: None,
                    entry_id: Some(id),
                    detail: "the entry is in no leaf of the tree and not queued for it".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Keeps a leaf to look at after the walk, or counts it once enough are kept.
fn keep<T>(list: &mut Vec<T>, item: T, report: &mut TenantReport) {
    if list.len() < MAX_FINDINGS {
        list.push(item);
    } else {
        report.unlisted += 1;
    }
}

/// The count that `sql` gives for the tenant.
async fn count<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    tenant_id: Uuid,
) -> Result<u64, StoreError> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [tenant_id.into()],
        ))
        .await
        .map_err(db_error)?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n").map_err(db_error)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or_default())
}

/// The tenant's entries in no leaf and not queued, the first [`MAX_FINDINGS`].
async fn unlogged<C: ConnectionTrait>(conn: &C, tenant_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let limit = i64::try_from(MAX_FINDINGS).unwrap_or(i64::MAX);
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            shared::UNLOGGED_ENTRIES,
            [tenant_id.into(), limit.into()],
        ))
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| row.try_get("", "id").map_err(db_error))
        .collect()
}

fn rebuild_failed(err: tlog_tiles::Error) -> StoreError {
    StoreError::Backend(format!("rebuilding the tree failed: {err}"))
}
