//! The passkey-server variant: `/{tenant_id}/audit_logs` and the tenant's log under it,
//! keys in the `apiKey` header (or as a bearer token), errors as
//! `{title, details, status}`.

use crate::{
    access::access_log_operation,
    audit_logs::{TenantFrom, audit_log_operations},
    auth::KeySource,
    error::{PasskeyError, PasskeyErrorBody},
    log::{log_operations, path_param},
};

audit_log_operations! {
    paths: ("/{tenant_id}/audit_logs", "/{tenant_id}/audit_logs/{id}"),
    tag: "passkey server",
    operation_ids: ("passkey_list_audit_logs", "passkey_create_audit_logs", "passkey_get_audit_log"),
    path_params: [("tenant_id" = uuid::Uuid, Path, description = "UUID of the tenant")],
    security: [("apiKey" = []), ("bearer" = [])],
    forbidden: (
        "The key belongs to another tenant or lacks the `read` scope",
        "The key belongs to another tenant or lacks the `write` scope",
    ),
    key: KeySource::ApiKeyOrBearer,
    tenant: |path| TenantFrom::Path(path_param(&path, "tenant_id")),
    errors: (PasskeyError, PasskeyErrorBody),
}

log_operations! {
    paths: (
        "/{tenant_id}/audit_logs/checkpoint",
        "/{tenant_id}/audit_logs/{id}/proof",
        "/{tenant_id}/audit_logs/consistency",
        "/{tenant_id}/audit_logs/export",
    ),
    tag: "passkey server",
    operation_ids: ("passkey_get_checkpoint", "passkey_get_inclusion_proof", "passkey_get_consistency_proof", "passkey_export_audit_logs"),
    path_params: [("tenant_id" = uuid::Uuid, Path, description = "UUID of the tenant")],
    security: [("apiKey" = []), ("bearer" = [])],
    forbidden: "The key belongs to another tenant or lacks the `read` scope",
    key: KeySource::ApiKeyOrBearer,
    tenant: |path| TenantFrom::Path(path_param(&path, "tenant_id")),
    errors: (PasskeyError, PasskeyErrorBody),
}

access_log_operation! {
    path: "/{tenant_id}/access_logs",
    operation_id: "passkey_list_access_logs",
    path_params: [("tenant_id" = uuid::Uuid, Path, description = "UUID of the tenant")],
    security: [("apiKey" = []), ("bearer" = [])],
    forbidden: "The key belongs to another tenant or lacks the `access_log` scope",
    key: KeySource::ApiKeyOrBearer,
    tenant: |path| TenantFrom::Path(path_param(&path, "tenant_id")),
    errors: (PasskeyError, PasskeyErrorBody),
}
