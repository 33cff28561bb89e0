//! `audit_log_heads`: a tenant's tree size and right edge, which writes lock and move on.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_heads`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_heads")]
pub struct Model {
    /// The tenant whose tree it is.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The tree's size: one past its last leaf.
    pub size: i64,
    /// The hashes of the tree's maximal complete subtrees, from the largest, 32 bytes
    /// each; absent until a write or the integrator has read them from the leaves.
    pub edge: Option<Vec<u8>>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
