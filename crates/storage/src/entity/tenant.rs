//! `tenants`: the owners of entries and keys.

use sea_orm::entity::prelude::*;

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
}

/// No relations: embedders need no tenant rows, so nothing refers to this table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
