//! `audit_log_leaves`: leaf `leaf_index` of a tenant's tree is entry `entry_id`.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_leaves`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_leaves")]
pub struct Model {
    /// The tenant whose tree it is.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The leaf's 0-based index in the tree.
    #[sea_orm(primary_key, auto_increment = false)]
    pub leaf_index: i64,
    /// The entry the leaf stands for.
    pub entry_id: Uuid,
    /// The stored hashes that appending the leaf wrote, 32 bytes each: the leaf hash,
    /// then the hash of each subtree the leaf completed, from the lowest.
    pub hashes: Vec<u8>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
