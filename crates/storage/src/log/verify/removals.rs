//! The tenant's removals, checked before the walk: each one's signed note must open
//! with the verifier key under the tenant's origin and state what its row says. The
//! leaves of those that do may lack their entries; a removal that does not is
//! reported, and its leaves count as missing wherever their entries are gone.

use auditlog_domain::{
    StoreError,
    entry::timestamp::from_micros,
    log::{LeafRanges, Removal, VerifierKey},
};
use uuid::Uuid;

use super::{Change, Finding, TenantReport};
use crate::SeaOrmStore;

/// The leaves whose entries valid removals took.
pub(super) async fn read<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    key: &VerifierKey,
    origin: &str,
    report: &mut TenantReport,
) -> Result<LeafRanges, StoreError> {
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
    let leaves = LeafRanges::union(valid.iter().map(|removal| &removal.leaves));
    report.removals = valid;
    Ok(leaves)
}
