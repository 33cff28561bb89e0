//! `audit_logs`: the entries, keyed by `(tenant_id, id)`.

use sea_orm::entity::prelude::*;

/// A row of `audit_logs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    /// The tenant the entry belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The entry's id, unique within its tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The event type's snake_case name.
    #[sea_orm(column_name = "type")]
    pub r#type: String,
    /// Why something failed.
    pub error: Option<String>,
    /// The id of the HTTP request that caused the event.
    pub meta_http_request_id: String,
    /// The source address in canonical text form.
    pub meta_source_ip: String,
    /// `auditlog_domain::ip::sort_key` of the source address, 16 bytes.
    pub ip_key: Vec<u8>,
    /// The user agent of the request.
    pub meta_user_agent: String,
    /// The user who acted.
    pub actor_user_id: Option<String>,
    /// `actor_user_id` with ASCII letters folded to lower case.
    pub actor_user_id_ci: Option<String>,
    /// The e-mail address of the user who acted.
    pub actor_email: Option<String>,
    /// `actor_email` with ASCII letters folded to lower case.
    pub actor_email_ci: Option<String>,
    /// The details object, serialised by serde_json.
    pub details: Option<String>,
    /// When it happened, in microseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was stored, in microseconds since the Unix epoch.
    pub updated_at: i64,
}

/// No relations (no foreign keys in the schema).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
