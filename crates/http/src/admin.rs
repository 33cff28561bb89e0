//! The admin variant: `/admin/audit_logs`, keys as `Authorization: Bearer`, the tenant
//! is the key's own, errors as `{code, message}`.

use crate::{
    audit_logs::{TenantFrom, audit_log_operations},
    auth::KeySource,
    error::{AdminError, AdminErrorBody},
};

audit_log_operations! {
    path: "/admin/audit_logs",
    tag: "admin",
    operation_ids: ("admin_list_audit_logs", "admin_create_audit_logs"),
    path_params: [],
    security: [("bearer" = [])],
    forbidden: (
        "The key lacks the `read` scope",
        "The key lacks the `write` scope",
    ),
    key: KeySource::Bearer,
    tenant: |_nothing: ()| TenantFrom::Key,
    errors: (AdminError, AdminErrorBody),
}
