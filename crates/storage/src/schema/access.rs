//! `access_logs`: who read a tenant's log, a row a read.

use auditlog_domain::{AccessRecord, StoreError, entry::timestamp::from_micros};
use sea_orm::entity::prelude::*;

use super::unreadable;

/// A row of `access_logs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_logs")]
pub struct Model {
    /// The record's id, a UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant whose log was read.
    pub tenant_id: Uuid,
    /// The key that read it; null from the command line.
    pub key_id: Option<Uuid>,
    /// When, in microseconds since the Unix epoch.
    pub at: i64,
    /// The operation's name.
    pub operation: String,
    /// The path read.
    pub path: String,
    /// The query's parameters, a JSON object as serde_json wrote it.
    pub parameters: String,
    /// How many entries the answer held.
    pub returned: i64,
    /// The request's id.
    pub request_id: Option<String>,
}

/// No relations (no foreign keys in the schema).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The row of `record`.
    pub(crate) fn of(record: &AccessRecord) -> ActiveModel {
        use sea_orm::ActiveValue::Set;
        ActiveModel {
            id: Set(record.id),
            tenant_id: Set(record.tenant_id),
            key_id: Set(record.key_id),
            at: Set(auditlog_domain::entry::timestamp::to_micros(record.at)),
            operation: Set(record.operation.clone()),
            path: Set(record.path.clone()),
            parameters: Set(serde_json::Value::Object(record.parameters.clone()).to_string()),
            returned: Set(i64::try_from(record.returned).unwrap_or(i64::MAX)),
            request_id: Set(record.request_id.clone()),
        }
    }

    /// The record this row stores.
    pub(crate) fn into_record(self) -> Result<AccessRecord, StoreError> {
        let id = self.id;
        let unreadable = |column: &str| unreadable("access_logs", id, column);
        let parameters = match serde_json::from_str(&self.parameters) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(unreadable("parameters")),
        };
        Ok(AccessRecord {
            id,
            tenant_id: self.tenant_id,
            key_id: self.key_id,
            at: from_micros(self.at).ok_or_else(|| unreadable("at"))?,
            operation: self.operation,
            path: self.path,
            parameters,
            returned: u64::try_from(self.returned).map_err(|_| unreadable("returned"))?,
            request_id: self.request_id,
        })
    }
}
