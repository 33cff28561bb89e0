//! `audit_log_removals`: entries removed from a tenant's log on purpose, each with its
//! signed note.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_removals`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_removals")]
pub struct Model {
    /// The removal's id (a UUIDv7: in the order they were made).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant whose log it is.
    pub tenant_id: Uuid,
    /// When, in microseconds since the Unix epoch.
    pub removed_at: i64,
    /// Why: `retention`.
    pub reason: String,
    /// The rule that chose the entries, for people.
    pub rule: String,
    /// The leaves whose entries were removed, as `auditlog_domain::log::LeafRanges`.
    pub leaves: String,
    /// How many entries.
    pub entries: i64,
    /// The signed note of the removal, which alone is trusted.
    pub note: String,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
