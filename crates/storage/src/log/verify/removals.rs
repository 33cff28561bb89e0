//! The tenant's removals, checked before the walk: each one's signed note must open
//! with the verifier key under the tenant's origin and state what its row says. The
//! leaves of a valid retention removal may lack their entries; the entries of a valid
//! erasure may differ from their leaves, but only to be exactly as erased (the leaf
//! hash the erasure signed for each). A removal that is not valid is reported, and its
//! leaves count as missing or changed as if it were not there.

use std::collections::HashMap;

use auditlog_domain::{
    StoreError,
    entry::timestamp::from_micros,
    log::{Hash, LeafRanges, Removal, RemovalReason, VerifierKey},
};
use uuid::Uuid;

use super::{Change, Finding, TenantReport};
use crate::SeaOrmStore;

/// What the valid removals account for.
#[derive(Debug, Default)]
pub(super) struct Covered {
    /// The leaves whose entries retention removed.
    pub removed: LeafRanges,
    /// The leaves whose entries were erased, each with the leaf hash of the entry as
    /// erased.
    pub erased: HashMap<u64, Hash>,
}

/// What the tenant's valid removals account for.
pub(super) async fn read<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    key: &VerifierKey,
    origin: &str,
    report: &mut TenantReport,
) -> Result<Covered, StoreError> {
    let rows = SeaOrmStore::removals_of(conn, tenant_id).await?;
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        let opened = Removal::open(&row.note, key, origin).map_err(|err| err.to_string());
        let agrees = |removal: &Removal| {
            removal.id == row.id
                && removal.reason.as_str() == row.reason
                && removal.rule == row.rule
                && removal.leaves.to_string() == row.leaves
                && i64::try_from(removal.leaves.count()).ok() == Some(row.entries)
                && Some(removal.at) == from_micros(row.removed_at)
        };
        match opened {
            Ok(removal) if agrees(&removal) => valid.push(removal),
            Ok(_) => report.found(Finding {
                change: Change::ForgedRemoval,
                leaf_index: None,
                entry_id: None,
                detail: format!(
                    "removal {}: its row does not say what its signed note says",
                    row.id
                ),
            }),
            Err(err) => report.found(Finding {
                change: Change::ForgedRemoval,
                leaf_index: None,
                entry_id: None,
                detail: format!("removal {} (leaves {}): {err}", row.id, row.leaves),
            }),
        }
    }
    let removed = LeafRanges::union(
        valid
            .iter()
            .filter(|removal| removal.reason == RemovalReason::Retention)
            .map(|removal| &removal.leaves),
    );
    let erased = valid
        .iter()
        .filter(|removal| removal.reason == RemovalReason::Erasure)
        .flat_map(|removal| removal.leaves.indexes().zip(removal.erased.iter().copied()))
        .collect();
    report.removals = valid;
    Ok(Covered { removed, erased })
}
