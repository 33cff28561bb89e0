//! The integrator's statements on PostgreSQL: a batch of leaves, and the check for
//! entries already in the tree, each travel as arrays, one statement however large the
//! batch.

use std::collections::HashSet;

use auditlog_domain::StoreError;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

use crate::{error::db_error, schema::leaf};

/// [`crate::backend::Backend::take_queued`]'s statement: the tenant's first queue rows,
/// removed and returned.
pub(in crate::backend) const TAKE_QUEUED: &str = "DELETE FROM audit_log_pending WHERE seq IN ( \
       SELECT seq FROM audit_log_pending WHERE tenant_id = $1 ORDER BY seq LIMIT $2) \
     RETURNING seq, tenant_id, entry_id, leaf_hash";

/// [`crate::backend::Backend::lock_head`]'s statements: the head, locked, and a new one
/// sized from the tenant's leaves.
pub(in crate::backend) const LOCK_HEAD: &str =
    "SELECT tenant_id, size, edge FROM audit_log_heads WHERE tenant_id = $1 FOR UPDATE";
pub(in crate::backend) const NEW_HEAD: &str = "INSERT INTO audit_log_heads (tenant_id, size) \
     SELECT $1, COALESCE(MAX(leaf_index) + 1, 0) FROM audit_log_leaves WHERE tenant_id = $1 \
     ON CONFLICT (tenant_id) DO NOTHING";

/// [`crate::backend::Backend::leaf_match`] on PostgreSQL: a full join, which it answers
/// by hashing one side and passing once over the other, each table read in the order
/// it keeps its rows.
pub(in crate::backend) const LEAF_MATCH: &str = "SELECT l.leaf_index, l.entry_id, l.hashes, \
       e.id, e.tenant_id, e.\"type\", e.error, e.meta_http_request_id, e.meta_source_ip, \
       e.meta_user_agent, e.actor_user_id, e.actor_email, e.details, e.created_at \
     FROM (SELECT * FROM audit_logs WHERE tenant_id = $1) e \
     FULL JOIN (SELECT leaf_index, entry_id, hashes FROM audit_log_leaves WHERE tenant_id = $1) l \
       ON l.entry_id = e.id";

/// Memory for [`LEAF_MATCH`]'s hash join within the verifying transaction only: at the
/// stock 4 MB it spills a million leaves to disk in 32 batches and takes about twice
/// as long; 128 MB holds a million leaves' hash table.
pub(in crate::backend) const VERIFY_WORK_MEM: &str = "SET LOCAL work_mem = '128MB'";

/// Inserts the leaves `rows`.
pub(in crate::backend) async fn insert_leaves<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<leaf::Model>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(rows.len());
    let mut indexes = Vec::with_capacity(rows.len());
    let mut entries = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for row in rows {
        tenants.push(row.tenant_id);
        indexes.push(row.leaf_index);
        entries.push(row.entry_id);
        hashes.push(row.hashes);
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO audit_log_leaves (tenant_id, leaf_index, entry_id, hashes) \
         SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::uuid[], $4::bytea[])",
        [
            tenants.into(),
            indexes.into(),
            entries.into(),
            hashes.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The entries among `ids` that are leaves of the tenant's tree already.
pub(in crate::backend) async fn in_tree<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashSet<Uuid>, StoreError> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT entry_id FROM audit_log_leaves \
             WHERE tenant_id = $1 AND entry_id = ANY($2::uuid[])",
            [tenant_id.into(), ids.into()],
        ))
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| row.try_get::<Uuid>("", "entry_id").map_err(db_error))
        .collect()
}

/// [`crate::backend::Backend::tidy_queue`]: `VACUUM` of the queue, which holds few live
/// rows, so it takes milliseconds. It runs outside any transaction, as `VACUUM` must.
pub(in crate::backend) async fn tidy_queue(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.execute_unprepared("VACUUM audit_log_pending")
        .await
        .map_err(db_error)?;
    Ok(())
}
