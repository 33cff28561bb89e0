//! `audit_logs`: the entries, keyed by `(tenant_id, id)`. [`Model`] is the one place
//! where an entry's row is written down: the columns that writes name and a row's
//! values in their order ([`columns`], [`values`]) are read off the entity, and every
//! backend's bulk statements are built from those.

use std::{net::IpAddr, sync::LazyLock};

use auditlog_domain::{
    AuditLog, AuditLogType, StoreError,
    entry::timestamp::{from_micros, to_micros},
    ip,
    text::fold_case,
};
use sea_orm::{Iterable, entity::prelude::*};

use super::{ip_key, unreadable};

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
    /// [`ip_key::of`] the source address, 16 bytes.
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

/// Every column of `audit_logs`, in the order of the entity's fields: the order in
/// which writes name them and [`values`] gives a row's values.
pub(crate) fn columns() -> impl Iterator<Item = Column> {
    Column::iter()
}

/// How many columns [`columns`] gives.
pub(crate) static COLUMN_COUNT: LazyLock<usize> = LazyLock::new(|| columns().count());

/// The names of [`columns`], separated by commas, for statements that write whole rows.
pub(crate) static COLUMN_LIST: LazyLock<String> = LazyLock::new(|| {
    columns()
        .map(|column| column.as_str())
        .collect::<Vec<_>>()
        .join(", ")
});

/// A row's values in the order of [`columns`].
pub(crate) fn values(row: &Model) -> impl Iterator<Item = Value> + '_ {
    columns().map(|column| row.get(column))
}

impl Model {
    /// The row that stores `entry`.
    pub(crate) fn from_entry(entry: &AuditLog) -> Result<Self, StoreError> {
        let details = entry
            .details
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|_| {
                StoreError::Backend(format!("entry {}: details cannot be serialised", entry.id))
            })?;
        let source_ip = ip::canonical(entry.meta_source_ip);
        Ok(Self {
            tenant_id: entry.tenant_id,
            id: entry.id,
            r#type: entry.r#type.as_str().to_owned(),
            error: entry.error.clone(),
            meta_http_request_id: entry.meta_http_request_id.clone(),
            meta_source_ip: source_ip.to_string(),
            ip_key: ip_key::of(source_ip).to_vec(),
            meta_user_agent: entry.meta_user_agent.clone(),
            actor_user_id: entry.actor_user_id.clone(),
            actor_user_id_ci: entry.actor_user_id.as_deref().map(fold_case),
            actor_email: entry.actor_email.clone(),
            actor_email_ci: entry.actor_email.as_deref().map(fold_case),
            details,
            created_at: to_micros(entry.created_at),
            updated_at: to_micros(entry.updated_at),
        })
    }

    /// The entry this row stores.
    pub(crate) fn into_entry(self) -> Result<AuditLog, StoreError> {
        let id = self.id;
        let unreadable = |column: &str| unreadable("audit_logs", id, column);
        let r#type: AuditLogType = self.r#type.parse().map_err(|_| unreadable("type"))?;
        let meta_source_ip: IpAddr = self
            .meta_source_ip
            .parse()
            .map_err(|_| unreadable("meta_source_ip"))?;
        // An empty object (stored by earlier versions) is no details, as it is on writing.
        let details = self
            .details
            .as_deref()
            .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
            .transpose()
            .map_err(|_| unreadable("details"))?
            .filter(|details| !details.is_empty());
        Ok(AuditLog {
            id,
            tenant_id: self.tenant_id,
            r#type,
            error: self.error,
            meta_http_request_id: self.meta_http_request_id,
            meta_source_ip,
            meta_user_agent: self.meta_user_agent,
            actor_user_id: self.actor_user_id,
            actor_email: self.actor_email,
            details,
            created_at: from_micros(self.created_at).ok_or_else(|| unreadable("created_at"))?,
            updated_at: from_micros(self.updated_at).ok_or_else(|| unreadable("updated_at"))?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row with every optional column set or, with `full` false, none of them.
    pub(crate) fn row(full: bool) -> Model {
        let some = |s: &str| full.then(|| s.to_owned());
        Model {
            tenant_id: Uuid::from_u128(1),
            id: Uuid::from_u128(2),
            r#type: "login_success".into(),
            error: some("bad"),
            meta_http_request_id: "r".into(),
            meta_source_ip: "10.0.0.1".into(),
            ip_key: vec![7; 16],
            meta_user_agent: "ua".into(),
            actor_user_id: some("U"),
            actor_user_id_ci: some("u"),
            actor_email: some("A@x"),
            actor_email_ci: some("a@x"),
            details: some("{\"k\":1}"),
            created_at: 1,
            updated_at: -2,
        }
    }

    #[test]
    fn values_follow_the_columns_and_the_row() {
        let full: Vec<Value> = values(&row(true)).collect();
        assert_eq!(full.len(), *COLUMN_COUNT);
        assert_eq!(COLUMN_LIST.split(", ").count(), *COLUMN_COUNT);
        assert!(
            COLUMN_LIST.starts_with("tenant_id, id, type, error, "),
            "{}",
            *COLUMN_LIST
        );
        let named: Vec<(&str, Value)> = columns().map(|c| c.as_str()).zip(full).collect();
        assert!(named.contains(&("type", Value::from("login_success"))));
        assert!(named.contains(&("updated_at", Value::from(-2i64))));
        let nulls: Vec<Value> = values(&row(false)).collect();
        let error = columns()
            .position(|c| c.as_str() == "error")
            .expect("error column");
        assert_eq!(nulls[error], Value::String(None));
    }
}
