//! `audit_log_signing_keys`: the verifier keys that have signed checkpoints.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_signing_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_signing_keys")]
pub struct Model {
    /// The verifier key, in the signed-note format.
    #[sea_orm(primary_key, auto_increment = false)]
    pub verifier_key: String,
    /// When it first signed here, in microseconds since the Unix epoch.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
