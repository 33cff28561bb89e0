//! Recording search terms with the ORM's portable insert, for backends whose insert of
//! the rows does not record them itself.

use auditlog_domain::StoreError;
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::extract::{IP, RowTerm};
use crate::{error::db_error, schema::term};

/// Terms per `INSERT`.
const INSERT_ROWS: usize = 1000;

/// Records `terms` (from [`super::of_rows`]) that the tenant has not had before.
/// Values go in key order, so concurrent writers lock them in one order.
pub(crate) async fn record<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    terms: Vec<RowTerm>,
) -> Result<(), StoreError> {
    let mut terms = terms.into_iter().peekable();
    while terms.peek().is_some() {
        let chunk: Vec<term::ActiveModel> = terms
            .by_ref()
            .take(INSERT_ROWS)
            .map(|(field, value, key)| term::ActiveModel {
                tenant_id: sea_orm::Set(tenant_id),
                field: sea_orm::Set(field),
                value: sea_orm::Set(value),
                key: sea_orm::Set((field == IP).then_some(key)),
            })
            .collect();
        term::Entity::insert_many(chunk)
            .on_conflict_do_nothing()
            .exec_without_returning(conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
