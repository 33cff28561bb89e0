//! Rows to domain values and back. Reading a row can fail only when the database holds
//! something this code never writes; the error then names the row and column, never
//! the value (entries carry personal data).

use std::net::IpAddr;

use auditlog_domain::{
    ApiKey, ApiKeyHash, AuditLog, AuditLogType, Scopes, StoreError, Tenant,
    entry::timestamp::{from_micros, to_micros},
    ip,
    text::fold_case,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::entity::{api_key, audit_log, tenant};

/// The row that stores `entry`.
pub(crate) fn entry_to_row(entry: &AuditLog) -> Result<audit_log::Model, StoreError> {
    let details = entry
        .details
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| {
            StoreError::Backend(format!("entry {}: details cannot be serialised", entry.id))
        })?;
    let source_ip = ip::canonical(entry.meta_source_ip);
    Ok(audit_log::Model {
        tenant_id: entry.tenant_id,
        id: entry.id,
        r#type: entry.r#type.as_str().to_owned(),
        error: entry.error.clone(),
        meta_http_request_id: entry.meta_http_request_id.clone(),
        meta_source_ip: source_ip.to_string(),
        ip_key: ip::sort_key(source_ip).to_vec(),
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

/// The entry a row stores.
pub(crate) fn entry_from_row(row: audit_log::Model) -> Result<AuditLog, StoreError> {
    let id = row.id;
    let unreadable = |column: &str| unreadable("audit_logs", id, column);
    let r#type: AuditLogType = row.r#type.parse().map_err(|_| unreadable("type"))?;
    let meta_source_ip: IpAddr = row
        .meta_source_ip
        .parse()
        .map_err(|_| unreadable("meta_source_ip"))?;
    // An empty object (stored by earlier versions) is no details, as it is on writing.
    let details = row
        .details
        .as_deref()
        .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
        .transpose()
        .map_err(|_| unreadable("details"))?
        .filter(|details| !details.is_empty());
    Ok(AuditLog {
        id,
        tenant_id: row.tenant_id,
        r#type,
        error: row.error,
        meta_http_request_id: row.meta_http_request_id,
        meta_source_ip,
        meta_user_agent: row.meta_user_agent,
        actor_user_id: row.actor_user_id,
        actor_email: row.actor_email,
        details,
        created_at: from_micros(row.created_at).ok_or_else(|| unreadable("created_at"))?,
        updated_at: from_micros(row.updated_at).ok_or_else(|| unreadable("updated_at"))?,
    })
}

/// The tenant a row stores.
pub(crate) fn tenant_from_row(row: tenant::Model) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.id,
        name: row.name,
        created_at: from_micros(row.created_at)
            .ok_or_else(|| unreadable("tenants", row.id, "created_at"))?,
    })
}

/// The key a row stores.
pub(crate) fn key_from_row(row: api_key::Model) -> Result<ApiKey, StoreError> {
    let id = row.id;
    let hash: [u8; 32] = row
        .hash
        .as_slice()
        .try_into()
        .map_err(|_| unreadable("api_keys", id, "hash"))?;
    let revoked_at = row
        .revoked_at
        .map(|micros| from_micros(micros).ok_or_else(|| unreadable("api_keys", id, "revoked_at")))
        .transpose()?;
    Ok(ApiKey {
        id,
        tenant_id: row.tenant_id,
        name: row.name,
        prefix: row.prefix,
        hash: ApiKeyHash(hash),
        scopes: Scopes {
            read: row.scope_read,
            write: row.scope_write,
        },
        created_at: from_micros(row.created_at)
            .ok_or_else(|| unreadable("api_keys", id, "created_at"))?,
        revoked_at,
    })
}

/// The current time as every backend keeps it: UTC, whole microseconds.
pub(crate) fn now() -> OffsetDateTime {
    auditlog_domain::entry::truncate_to_micros(OffsetDateTime::now_utc())
}

fn unreadable(table: &str, id: Uuid, column: &str) -> StoreError {
    StoreError::Backend(format!(
        "row {id} of {table}: column {column} holds a value that cannot be read"
    ))
}
