//! The two passes over a tenant's log, each one streamed query in the verifying
//! transaction's snapshot:
//! 1. **Match**: every entry of the tenant beside the leaf that names it (a full join
//!    on the entry id, which the database answers from one pass over each table in
//!    the order it keeps them): each entry's leaf is recomputed and compared with the
//!    leaf hash recorded, leaves without an entry and entries without a leaf are
//!    counted and kept for naming.
//! 2. **Tree**: the leaves alone, in order (a narrow index scan): the tree is rebuilt
//!    from the recorded leaf hashes, which the first pass checked, keeping only its
//!    right edge; each leaf's stored subtree hashes are compared with those the tree
//!    makes, and each kept checkpoint with the root as the walk passes its size.
//!
//! Reading entries in the order of the leaves instead would visit the entries' table
//! at random, one key lookup a leaf: on PostgreSQL that is several times slower than
//! one pass over each table.

use std::{collections::HashMap, sync::Arc};

use auditlog_domain::StoreError;
use futures::StreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryResult,
    QuerySelect, Statement, StreamTrait,
};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::{
    Change, Finding, MAX_FINDINGS, TenantReport, bounded, checkpoints::Kept, removals::Covered,
};
use crate::{
    backend::{Backend, shared},
    error::db_error,
    log::{
        hashes::{Edge, split},
        sequence::leaf_of_row,
    },
    schema::entry,
};

/// Ids per `SELECT ... IN (...)` when looking for moved entries.
const CHUNK: usize = 1_000;

/// What the first pass found.
#[derive(Debug, Default)]
pub(super) struct Matched {
    /// Leaves whose entry is there.
    present: u64,
    /// Leaves whose entry a valid removal took.
    removed: u64,
    /// Leaves whose entry a valid erasure erased, and that are as erased.
    erased: u64,
    /// The tenant's entries in no leaf.
    unlogged: u64,
    /// Leaves whose entry does not make the recorded leaf hash: index, entry id, the
    /// hash the entry makes, the recorded one.
    mismatched: Vec<(u64, Uuid, Hash, Hash)>,
    /// Leaves whose entry the tenant does not hold: index, entry id, recorded hash.
    gone: Vec<(u64, Uuid, Hash)>,
    /// Leaves whose entry makes no leaf at all, with why.
    unmade: Vec<Finding>,
    /// What was found beyond the kept lists.
    unlisted: u64,
}

/// A leaf beside its entry, as the first pass reads it.
struct Pair {
    index: u64,
    /// The entry id the leaf names.
    named: Uuid,
    /// The leaf hash recorded; `None` when the stored hashes cannot be read, which the
    /// second pass reports.
    recorded: Option<Hash>,
    /// The row, whose entry columns the worker reads; `None` when the tenant holds no
    /// such entry.
    entry: Option<QueryResult>,
}

/// The position of the first entry column in a row of the first pass, after
/// `leaf_index`, `entry_id` and `hashes`; the entry's columns follow in this order:
/// `id`, `tenant_id`, `type`, `error`, `meta_http_request_id`, `meta_source_ip`,
/// `meta_user_agent`, `actor_user_id`, `actor_email`, `details`, `created_at`.
const ENTRY_AT: usize = 3;

/// The entry of a first-pass row, read by position: the columns its leaf is made of.
/// The row's other columns are not read: `updated_at` stands in for itself as
/// `created_at` (no leaf member), and the search columns are left empty.
fn entry_of(row: &QueryResult) -> Result<entry::Model, sea_orm::DbErr> {
    let at = |k: usize| ENTRY_AT + k;
    let created_at: i64 = row.try_get_by_index(at(10))?;
    Ok(entry::Model {
        id: row.try_get_by_index(at(0))?,
        tenant_id: row.try_get_by_index(at(1))?,
        r#type: row.try_get_by_index(at(2))?,
        error: row.try_get_by_index(at(3))?,
        meta_http_request_id: row.try_get_by_index(at(4))?,
        meta_source_ip: row.try_get_by_index(at(5))?,
        ip_key: Vec::new(),
        meta_user_agent: row.try_get_by_index(at(6))?,
        actor_user_id: row.try_get_by_index(at(7))?,
        actor_user_id_ci: None,
        actor_email: row.try_get_by_index(at(8))?,
        actor_email_ci: None,
        details: row.try_get_by_index(at(9))?,
        created_at,
        updated_at: created_at,
    })
}

/// Pairs handed to a worker at a time.
const PAIRS_PER_BATCH: usize = 512;
/// Batches waiting for each worker.
const BATCHES_AHEAD: usize = 4;

/// The first pass: each entry against the leaf that names it. This task reads the
/// rows; workers on the blocking pool, one a core, recompute the leaves meanwhile.
pub(super) async fn match_entries(
    txn: &DatabaseTransaction,
    backend: Backend,
    report: &mut TenantReport,
    covered: Covered,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Matched, StoreError> {
    let covered = Arc::new(covered);
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(1, 8);
    let mut queues = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (queue, mut batches) = tokio::sync::mpsc::channel::<Vec<Pair>>(BATCHES_AHEAD);
        queues.push(queue);
        let covered = Arc::clone(&covered);
        handles.push(tokio::task::spawn_blocking(move || {
            let mut found = Matched::default();
            while let Some(batch) = batches.blocking_recv() {
                for pair in batch {
                    found.take(pair, &covered);
                }
            }
            found
        }));
    }
    let read = read_pairs(txn, backend, report.tenant_id, &queues, progress).await;
    drop(queues);
    let mut matched = Matched::default();
    for handle in handles {
        let part = handle
            .await
            .map_err(|err| StoreError::Backend(format!("recomputing the leaves failed: {err}")))?;
        matched.merge(part);
    }
    matched.unlogged = read?;
    report.removed = matched.removed;
    report.erased = matched.erased;
    report.unlisted += matched.unlisted;
    for finding in std::mem::take(&mut matched.unmade) {
        report.found(finding);
    }
    Ok(matched)
}

/// Reads the pairs of the first pass and deals them out to `queues` in batches;
/// returns how many of the tenant's entries are in no leaf.
async fn read_pairs(
    txn: &DatabaseTransaction,
    backend: Backend,
    tenant_id: Uuid,
    queues: &[tokio::sync::mpsc::Sender<Vec<Pair>>],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, StoreError> {
    let mut rows = txn
        .stream_raw(Statement::from_sql_and_values(
            ConnectionTrait::get_database_backend(txn),
            backend.leaf_match(),
            [tenant_id.into()],
        ))
        .await
        .map_err(db_error)?;
    let mut unlogged = 0;
    let mut leaves = 0u64;
    let mut batch = Vec::with_capacity(PAIRS_PER_BATCH);
    let mut next_queue = 0;
    while let Some(row) = rows.next().await {
        let row = row.map_err(db_error)?;
        let leaf: Option<i64> = row.try_get_by_index(0).map_err(db_error)?;
        let Some(index) = leaf else {
            // An entry in no leaf: queued for the log, or inserted behind its back;
            // the count tells after the pass.
            unlogged += 1;
            continue;
        };
        let named: Uuid = row.try_get_by_index(1).map_err(db_error)?;
        let hashes: Vec<u8> = row.try_get_by_index(2).map_err(db_error)?;
        let found: Option<Uuid> = row.try_get_by_index(ENTRY_AT).map_err(db_error)?;
        batch.push(Pair {
            index: u64::try_from(index).unwrap_or(u64::MAX),
            named,
            recorded: split(&hashes).and_then(|hashes| hashes.first().copied()),
            entry: found.map(|_| row),
        });
        leaves += 1;
        if batch.len() == PAIRS_PER_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(PAIRS_PER_BATCH));
            send(&queues[next_queue], full).await?;
            next_queue = (next_queue + 1) % queues.len();
            // Told once a batch: a batch is the unit of work handed out anyway.
            progress(leaves);
        }
    }
    if !batch.is_empty() {
        send(&queues[next_queue], batch).await?;
    }
    progress(leaves);
    Ok(unlogged)
}

async fn send(
    queue: &tokio::sync::mpsc::Sender<Vec<Pair>>,
    batch: Vec<Pair>,
) -> Result<(), StoreError> {
    queue
        .send(batch)
        .await
        .map_err(|_| StoreError::Backend("recomputing the leaves stopped".to_owned()))
}

impl Matched {
    /// Recomputes one leaf from its entry and notes what disagrees; a leaf whose
    /// entry a valid removal took is counted as removed.
    fn take(&mut self, pair: Pair, covered: &Covered) {
        let Pair {
            index,
            named,
            recorded,
            entry,
        } = pair;
        if entry.is_none() && covered.removed.contains(index) {
            self.removed += 1;
            return;
        }
        let Some(entry) = entry else {
            if let Some(recorded) = recorded {
                bounded(&mut self.gone, (index, named, recorded), &mut self.unlisted);
            }
            return;
        };
        self.present += 1;
        let made = entry_of(&entry)
            .map_err(|err| err.to_string())
            .and_then(|row| leaf_of_row(row).map_err(|err| err.to_string()));
        match made {
            Ok(made) => match (recorded, covered.erased.get(&index)) {
                (Some(recorded), None) if made != recorded => bounded(
                    &mut self.mismatched,
                    (index, named, made, recorded),
                    &mut self.unlisted,
                ),
                (_, Some(erased)) if Hash::from(*erased) == made => self.erased += 1,
                (_, Some(_)) => bounded(
                    &mut self.unmade,
                    Finding {
                        change: Change::Changed,
                        leaf_index: Some(index),
                        entry_id: Some(named),
                        detail: "the entry is not as its erasure left it".to_owned(),
                    },
                    &mut self.unlisted,
                ),
                _ => {}
            },
            Err(err) => bounded(
                &mut self.unmade,
                Finding {
                    change: Change::Changed,
                    leaf_index: Some(index),
                    entry_id: Some(named),
                    detail: format!("the entry makes no leaf: {err}"),
                },
                &mut self.unlisted,
            ),
        }
    }

    /// Takes in what another worker found.
    fn merge(&mut self, other: Matched) {
        self.present += other.present;
        self.removed += other.removed;
        self.erased += other.erased;
        self.unlisted += other.unlisted;
        for item in other.mismatched {
            bounded(&mut self.mismatched, item, &mut self.unlisted);
        }
        for item in other.gone {
            bounded(&mut self.gone, item, &mut self.unlisted);
        }
        for item in other.unmade {
            bounded(&mut self.unmade, item, &mut self.unlisted);
        }
    }
}

/// The second pass: the tree rebuilt from the recorded leaf hashes, in leaf order,
/// checked against the stored subtree hashes and the kept checkpoints. Returns the
/// size of the tree rebuilt; it stops at the first gap in the leaves.
pub(super) async fn rebuild_tree(
    txn: &DatabaseTransaction,
    mut kept: Kept,
    report: &mut TenantReport,
) -> Result<u64, StoreError> {
    let mut rows = txn
        .stream_raw(Statement::from_sql_and_values(
            ConnectionTrait::get_database_backend(txn),
            shared::LEAVES_IN_ORDER,
            [report.tenant_id.into()],
        ))
        .await
        .map_err(db_error)?;
    let mut edge = Edge::default();
    meet(&mut kept, &edge, report)?;
    while let Some(row) = rows.next().await {
        let row = row.map_err(db_error)?;
        let index: i64 = row.try_get("", "leaf_index").map_err(db_error)?;
        let entry_id: Uuid = row.try_get("", "entry_id").map_err(db_error)?;
        let hashes: Vec<u8> = row.try_get("", "hashes").map_err(db_error)?;
        let next = edge.size();
        if u64::try_from(index).ok() != Some(next) {
            report.found(Finding {
                change: Change::Missing,
                leaf_index: Some(next),
                entry_id: None,
                detail: format!(
                    "leaves {next} to {} are gone from the tree",
                    index.saturating_sub(1)
                ),
            });
            // Nothing after a gap can be placed in the tree.
            break;
        }
        let stored = split(&hashes);
        let Some(recorded) = stored.as_ref().and_then(|hashes| hashes.first().copied()) else {
            report.found(Finding {
                change: Change::TreeRewritten,
                leaf_index: Some(next),
                entry_id: Some(entry_id),
                detail: "the hashes stored with this leaf cannot be read".to_owned(),
            });
            break;
        };
        let expected = edge.append(recorded).map_err(rebuild_failed)?;
        if stored.is_some_and(|stored| stored != expected) {
            report.found(Finding {
                change: Change::TreeRewritten,
                leaf_index: Some(next),
                entry_id: Some(entry_id),
                detail: "the subtree hashes stored with this leaf are not those the leaves make"
                    .to_owned(),
            });
        }
        meet(&mut kept, &edge, report)?;
    }
    kept.unmet(edge.size(), report);
    Ok(edge.size())
}

/// Checks the checkpoints due at the rebuilt tree's present size.
fn meet(kept: &mut Kept, edge: &Edge, report: &mut TenantReport) -> Result<(), StoreError> {
    if kept.wants(edge.size()) {
        let root = edge.root().map_err(rebuild_failed)?;
        kept.meet(edge.size(), root, report);
    }
    Ok(())
}

impl Matched {
    /// Names what the first pass found: reordered, changed, moved and missing leaves,
    /// and the entries in no leaf that are not queued for the log.
    pub(super) async fn name<C: ConnectionTrait>(
        self,
        conn: &C,
        report: &mut TenantReport,
    ) -> Result<(), StoreError> {
        let tenant_id = report.tenant_id;
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
        report.entries = self.present + self.unlogged;
        report.pending = count(conn, shared::COUNT_QUEUED, tenant_id).await?;
        // The entries in no leaf are the queued ones, unless some were inserted behind
        // the log's back; only then are they named, by an anti-join.
        if self.unlogged > report.pending {
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
