//! `audit_log_pending`: entries stored but not yet in their tenant's tree, in the order
//! the log takes them.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_pending`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_pending")]
pub struct Model {
    /// The order the log takes the entries in.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The entry's tenant.
    pub tenant_id: Uuid,
    /// The entry.
    pub entry_id: Uuid,
    /// The entry's leaf hash, computed by the write from the row it stored; absent
    /// when a bulk load queued the entry, and then computed from the stored entry.
    pub leaf_hash: Option<Vec<u8>>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
