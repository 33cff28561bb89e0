//! The log's queue: entries stored but not yet in their tenant's tree.

use auditlog_domain::StoreError;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

use crate::{error::db_error, schema::pending};

/// Rows per `INSERT`.
const INSERT_ROWS: usize = 1000;

/// Queues the entries `ids` of `tenant_id` for the log, in this order, with the ORM's
/// portable insert (PostgreSQL queues them in the statement that inserts the rows).
pub(crate) async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<(), StoreError> {
    let mut ids = ids.into_iter().peekable();
    while ids.peek().is_some() {
        let chunk: Vec<pending::ActiveModel> = ids
            .by_ref()
            .take(INSERT_ROWS)
            .map(|id| pending::ActiveModel {
                tenant_id: Set(tenant_id),
                entry_id: Set(id),
                ..Default::default()
            })
            .collect();
        pending::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
