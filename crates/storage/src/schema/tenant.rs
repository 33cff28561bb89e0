//! `tenants`: the owners of entries and keys.

use auditlog_domain::{StoreError, Tenant, entry::timestamp::from_micros};
use sea_orm::entity::prelude::*;

use super::unreadable;

/// A row of `tenants`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    /// The tenant's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// When it was created, in microseconds since the Unix epoch.
    pub created_at: i64,
    /// Days its entries are kept; `NULL`: the service's default.
    pub retention_days: Option<i32>,
    /// Whether removal is suspended (a legal hold).
    pub legal_hold: bool,
}

/// No relations: embedders need no tenant rows, so nothing refers to this table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The tenant this row stores.
    pub(crate) fn into_tenant(self) -> Result<Tenant, StoreError> {
        Ok(Tenant {
            id: self.id,
            name: self.name,
            created_at: from_micros(self.created_at)
                .ok_or_else(|| unreadable("tenants", self.id, "created_at"))?,
            retention_days: self
                .retention_days
                .map(u32::try_from)
                .transpose()
                .map_err(|_| unreadable("tenants", self.id, "retention_days"))?,
            legal_hold: self.legal_hold,
        })
    }
}
