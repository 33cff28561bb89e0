//! `audit_log_terms`: each tenant's distinct searchable values, trigram-indexed.

use sea_orm::entity::prelude::*;

/// A row of `audit_log_terms`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log_terms")]
pub struct Model {
    /// The tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// 0: source address text; 1: folded user id; 2: folded e-mail address.
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: i16,
    /// The value, as the entries hold it in `meta_source_ip`, `actor_user_id_ci` or
    /// `actor_email_ci`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
    /// For an address: its sort key, as `audit_logs.ip_key` holds it.
    pub key: Option<Vec<u8>>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
