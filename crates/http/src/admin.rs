//! The admin variant: `/admin/audit_logs` and the tenant's log under it, keys as
//! `Authorization: Bearer`, the tenant is the key's own, errors as `{code, message}`.

use crate::{
    access::access_log_operation,
    audit_logs::{TenantFrom, audit_log_operations},
    auth::KeySource,
    error::{AdminError, AdminErrorBody},
    log::log_operations,
};

audit_log_operations! {
    paths: ("/admin/audit_logs", "/admin/audit_logs/{id}"),
    tag: "admin",
    operation_ids: ("admin_list_audit_logs", "admin_create_audit_logs", "admin_get_audit_log"),
    path_params: [],
    security: [("bearer" = []), ("apiKey" = [])],
    forbidden: (
        "The key lacks the `read` scope",
        "The key lacks the `write` scope",
    ),
    key: KeySource::BearerOrApiKey,
    tenant: |_path| TenantFrom::Key,
    errors: (AdminError, AdminErrorBody),
}

log_operations! {
    paths: (
        "/admin/audit_logs/checkpoint",
        "/admin/audit_logs/{id}/proof",
        "/admin/audit_logs/consistency",
        "/admin/audit_logs/export",
    ),
    tag: "admin",
    operation_ids: ("admin_get_checkpoint", "admin_get_inclusion_proof", "admin_get_consistency_proof", "admin_export_audit_logs"),
    path_params: [],
    security: [("bearer" = []), ("apiKey" = [])],
    forbidden: "The key lacks the `read` scope",
    key: KeySource::BearerOrApiKey,
    tenant: |_path| TenantFrom::Key,
    errors: (AdminError, AdminErrorBody),
}

access_log_operation! {
    path: "/admin/access_logs",
    operation_id: "admin_list_access_logs",
    path_params: [],
    security: [("bearer" = []), ("apiKey" = [])],
    forbidden: "The key lacks the `access_log` scope",
    key: KeySource::BearerOrApiKey,
    tenant: |_path| TenantFrom::Key,
    errors: (AdminError, AdminErrorBody),
}
