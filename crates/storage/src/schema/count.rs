//! `audit_log_counts`: each tenant's number of entries per UTC day.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_counts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_counts")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// `floor(created_at / DAY_MICROS)`: days since the Unix epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: i64,
    /// Entries of the tenant with `created_at` in that day.
    pub entries: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
