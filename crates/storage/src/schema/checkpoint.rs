//! `audit_log_checkpoints`: every signed checkpoint of every tenant's tree.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_checkpoints`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_checkpoints")]
pub struct Model {
    /// The tenant whose tree it is.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The tree size it covers.
    #[sea_orm(primary_key, auto_increment = false)]
    pub size: i64,
    /// The tree's root hash at that size, 32 bytes.
    pub root: Vec<u8>,
    /// The signed note, exactly as served.
    pub note: String,
    /// When it was signed, in microseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
