//! The kept checkpoints of a tenant, checked against the tree that the walk rebuilds:
//! each one's signature and stored root first, then its root against the rebuilt
//! tree's as the walk passes its size.
//!
//! Two checkpoints whose roots are both the rebuilt tree's, at their sizes, are
//! consistent by construction: one tree has both as its roots. So every pair of kept
//! checkpoints, consecutive or not, is consistent exactly when each root matches, and
//! a fork shows as a root that does not.

use std::collections::VecDeque;

use auditlog_domain::{
    StoreError,
    log::{Checkpoint, VerifierKey},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tlog_tiles::Hash;
use uuid::Uuid;

use super::{Change, Finding, TenantReport};
use crate::{
    error::db_error,
    schema::{checkpoint, signing_key},
};

/// The checkpoints still to be met by the walk, by size.
#[derive(Debug)]
pub(super) struct Kept {
    due: VecDeque<(u64, Hash)>,
}

impl Kept {
    /// Reads the tenant's checkpoints, reporting those whose signature or stored root
    /// is wrong; the rest are due to be met by the walk.
    pub(super) async fn read<C: ConnectionTrait>(
        conn: &C,
        tenant_id: Uuid,
        key: &VerifierKey,
        origin: &str,
        report: &mut TenantReport,
    ) -> Result<Self, StoreError> {
        let rows = checkpoint::Entity::find()
            .filter(checkpoint::Column::TenantId.eq(tenant_id))
            .order_by_asc(checkpoint::Column::Size)
            .all(conn)
            .await
            .map_err(db_error)?;
        report.checkpoints = rows.len() as u64;
        let mut due = VecDeque::with_capacity(rows.len());
        for row in rows {
            let size = u64::try_from(row.size).unwrap_or(u64::MAX);
            report.newest_size = report.newest_size.max(size);
            let opened = match Checkpoint::open(&row.note, key, origin) {
                Ok(opened) => opened,
                Err(err) => {
                    report.found(Finding {
                        change: Change::BadSignature,
                        leaf_index: None,
                        entry_id: None,
                        detail: format!("the checkpoint of size {size}: {err}"),
                    });
                    continue;
                }
            };
            if opened.size() != size || opened.root().0.as_slice() != row.root.as_slice() {
                report.found(Finding {
                    change: Change::Fork,
                    leaf_index: None,
                    entry_id: None,
                    detail: format!(
                        "the checkpoint kept for size {size} signs another size or root"
                    ),
                });
                continue;
            }
            due.push_back((size, Hash(opened.root().0)));
        }
        Ok(Self { due })
    }

    /// Whether a checkpoint of `size` leaves is due, so that the root is wanted.
    pub(super) fn wants(&self, size: u64) -> bool {
        self.due.front().is_some_and(|(due, _)| *due == size)
    }

    /// Checks the checkpoints of `size` leaves against `root`, the rebuilt tree's.
    pub(super) fn meet(&mut self, size: u64, root: Hash, report: &mut TenantReport) {
        while let Some(&(due, signed)) = self.due.front() {
            if due != size {
                break;
            }
            self.due.pop_front();
            if signed != root {
                report.found(Finding {
                    change: Change::Fork,
                    leaf_index: None,
                    entry_id: None,
                    detail: format!(
                        "the signed root of size {size} is not the root the leaves make"
                    ),
                });
            }
        }
    }

    /// Reports the checkpoints that the walk did not reach: they cover leaves of a
    /// tree of `size` that are gone.
    pub(super) fn unmet(self, size: u64, report: &mut TenantReport) {
        for (due, _) in self.due {
            report.found(Finding {
                change: Change::Missing,
                leaf_index: Some(size),
                entry_id: None,
                detail: format!("the checkpoint of size {due} covers leaves that are gone"),
            });
        }
    }
}

/// Reports every key other than `key` that the database remembers having signed.
pub(super) async fn other_signers<C: ConnectionTrait>(
    conn: &C,
    key: &VerifierKey,
    report: &mut TenantReport,
) -> Result<(), StoreError> {
    let signers: Vec<String> = signing_key::Entity::find()
        .select_only()
        .column(signing_key::Column::VerifierKey)
        .into_tuple()
        .all(conn)
        .await
        .map_err(db_error)?;
    let ours = key.to_string();
    for other in signers.into_iter().filter(|k| *k != ours) {
        report.found(Finding {
            change: Change::KeyChanged,
            leaf_index: None,
            entry_id: None,
            detail: format!("checkpoints were also signed by the key {other}"),
        });
    }
    Ok(())
}
