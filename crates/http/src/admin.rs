//! The admin variant: `/admin/audit_logs`, keys as `Authorization: Bearer`, the tenant
//! is the key's own, errors as `{code, message}`.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, Uri},
    response::Response,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    audit_logs::{self, TenantFrom},
    auth::KeySource,
    docs::{CreateBody, CreatedBody, ListQuery},
    error::{AdminError, AdminErrorBody},
};
use auditlog_domain::AuditLog;

/// The routes of this variant.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_logs, create_audit_logs))
}

/// List audit log entries
///
/// The tenant's entries that match every given filter, newest first
/// (`created_at` descending, then `id` descending), one page at a time.
/// `X-Total-Count` gives how many match; `Link` points at the first, previous,
/// next and last pages and keeps every filter.
#[utoipa::path(
    get,
    path = "/admin/audit_logs",
    operation_id = "admin_list_audit_logs",
    tag = "admin",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of entries", body = Vec<AuditLog>, headers(
            ("X-Total-Count" = u64, description = "How many entries match the filters, ignoring pagination"),
            ("Link" = String, description = "Links to the first, previous, next and last pages, with every filter kept"),
            ("X-Next-Cursor" = String, description = "When more entries may follow: the `cursor` that continues after this page in keyset mode"),
        )),
        (status = 400, description = "A parameter is invalid; the message names it and its value", body = AdminErrorBody),
        (status = 401, description = "The API key is missing, wrong or revoked", body = AdminErrorBody),
        (status = 403, description = "The key lacks the `read` scope", body = AdminErrorBody),
        (status = 500, description = "Internal error", body = AdminErrorBody),
        (status = 503, description = "The database is unavailable", body = AdminErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn list_audit_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AdminError> {
    let response = audit_logs::list(
        &state,
        &headers,
        KeySource::Bearer,
        TenantFrom::Key,
        "/admin/audit_logs",
        &uri,
    )
    .await?;
    Ok(response)
}

/// Record audit log entries
///
/// One entry, or a JSON array of 1 to 1000, stored atomically: when any entry is
/// invalid nothing is stored and the answer names its index, field and value. An
/// entry's `id` makes it idempotent: resending the same content stores nothing twice
/// and answers as the first time; the same `id` with other content is 409. A single
/// object in gives a single object out; an array gives an array. The answer comes
/// after the entries are committed.
#[utoipa::path(
    post,
    path = "/admin/audit_logs",
    operation_id = "admin_create_audit_logs",
    tag = "admin",
    request_body(content = CreateBody, description = "One entry or an array of 1 to 1000", examples(
        ("one entry" = (summary = "A failed password login", value = json!(crate::docs::example_entry()))),
        ("a batch" = (summary = "Two entries, each with its own idempotency key", value = json!(crate::docs::example_batch()))),
    )),
    responses(
        (status = 201, description = "The stored entries: an object for an object, an array for an array", body = CreatedBody),
        (status = 400, description = "The body or an entry is invalid; nothing was stored", body = AdminErrorBody),
        (status = 401, description = "The API key is missing, wrong or revoked", body = AdminErrorBody),
        (status = 403, description = "The key lacks the `write` scope", body = AdminErrorBody),
        (status = 409, description = "An id is already stored with other content; nothing was stored", body = AdminErrorBody),
        (status = 413, description = "The body is over the size limit", body = AdminErrorBody),
        (status = 500, description = "Internal error", body = AdminErrorBody),
        (status = 503, description = "The database is unavailable", body = AdminErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_audit_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AdminError> {
    audit_logs::create(&state, &headers, KeySource::Bearer, TenantFrom::Key, body)
        .await
        .map_err(AdminError)
}
