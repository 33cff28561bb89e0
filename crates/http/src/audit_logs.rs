//! What both variants share: listing a tenant's entries and recording new ones, and
//! the operations that serve them with their documentation ([`audit_log_operations`]).
//! The variant modules (`passkey`, `admin`) only decide where the tenant comes from,
//! how the key is sent, and the error shape.

use auditlog_domain::{AccessOperation, AuditLog, Cursor, LogError, NewAuditLog, Scope};
use axum::{
    Json,
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    AppState,
    access::{self, Reader},
    auth::{self, KeySource},
    error::ApiError,
    headers::{X_NEXT_CURSOR, X_TOTAL_COUNT},
    json_array, query,
};

/// Where a request names its tenant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TenantFrom<'a> {
    /// In the path (passkey server): checked against the key's tenant.
    Path(&'a str),
    /// The key's own tenant (admin API).
    Key,
}

/// Authenticates, then resolves and authorizes the tenant, in the contract's order.
pub(crate) async fn tenant_for(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    scope: Scope,
) -> Result<Uuid, ApiError> {
    Ok(reader_for(state, headers, source, tenant, scope)
        .await?
        .tenant_id)
}

/// What [`tenant_for`] does, naming the key too: who reads, for the access log.
pub(crate) async fn reader_for(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    scope: Scope,
) -> Result<Reader, ApiError> {
    let key = auth::authenticate(state, headers, source).await?;
    let tenant_id = match tenant {
        TenantFrom::Path(raw) => auth::parse_tenant(raw)?,
        TenantFrom::Key => key.tenant_id,
    };
    auth::authorize(&key, tenant_id, scope)?;
    Ok(Reader {
        tenant_id,
        key_id: key.id,
    })
}

/// Lists entries: the JSON array of the page, `X-Total-Count`, `Link` and
/// `X-Next-Cursor`. Links point at `route`, with the path's tenant for `{tenant_id}`.
pub(crate) async fn list(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    route: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let path = match tenant {
        TenantFrom::Path(raw) => route.replace("{tenant_id}", raw),
        TenantFrom::Key => route.to_owned(),
    };
    let reader = reader_for(state, headers, source, tenant, Scope::Read).await?;
    let filter = query::parse_filter(uri.query())?;
    // A large page is read by its entries' positions, and its entries a slice at a time
    // as the answer is written: a request holds a slice, not a page.
    let sliced = filter.page().per_page() > json_array::SLICE as u64;
    let (body, returned, total, last) = if sliced {
        let page = state.logs.list_positions(reader.tenant_id, &filter).await?;
        let last = page.items.last().copied();
        let ids = page
            .items
            .iter()
            .map(|position| position.id)
            .collect::<Vec<_>>();
        let returned = ids.len();
        let body = json_array::sliced(state.logs.clone(), reader.tenant_id, ids);
        (body, returned, page.total, last)
    } else {
        let page = state.logs.list(reader.tenant_id, &filter).await?;
        let last = page.items.last().map(Cursor::after);
        let returned = page.items.len();
        // Each entry is written out as the client reads, and dropped once written.
        (json_array::answer(page.items)?, returned, page.total, last)
    };
    access::record(
        state,
        reader,
        AccessOperation::ListAuditLogs,
        headers,
        uri,
        returned as u64,
    )
    .await;
    let base = query::base_url(
        state.config.public_url.as_deref(),
        uri,
        headers,
        &state.config.listen_host,
    );
    let next = query::next_cursor(&filter, returned, total, last);
    let link = query::link_header(&base, &path, &filter, total, next.as_ref());
    let mut response = body;
    let out = response.headers_mut();
    out.insert(X_TOTAL_COUNT, HeaderValue::from(total));
    if let Some(link) = link {
        out.insert(axum::http::header::LINK, link);
    }
    if let Some(cursor) = next
        && let Ok(value) = HeaderValue::from_str(&cursor.to_string())
    {
        out.insert(X_NEXT_CURSOR, value);
    }
    Ok(response)
}

/// One entry of the tenant by its id, or 404 when the tenant has none with it.
pub(crate) async fn get(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    raw_id: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let reader = reader_for(state, headers, source, tenant, Scope::Read).await?;
    let id = query::parse_entry_id(raw_id)?;
    // The tenant is part of the key the store reads by, so another tenant's entry with
    // this id is not found either: the answer does not tell whether it exists.
    let entry = state.logs.get(reader.tenant_id, id).await?;
    // A look for an entry that is not there is a read too: it tells the reader so.
    let returned = u64::from(entry.is_some());
    access::record(
        state,
        reader,
        AccessOperation::GetAuditLog,
        headers,
        uri,
        returned,
    )
    .await;
    match entry {
        Some(entry) => Ok(Json(entry).into_response()),
        None => Err(LogError::EntryNotFound.into()),
    }
}

/// Records one entry or a batch: 201 with the stored entries after the commit.
pub(crate) async fn create(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant_id = tenant_for(state, headers, source, tenant, Scope::Write).await?;
    let limit = state.config.body_limit;
    let too_large = || ApiError::too_large(limit);
    // A declared length over the limit is refused before anything is read.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|err| {
        if std::error::Error::source(&err)
            .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
        {
            too_large()
        } else {
            ApiError::bad_request("the body could not be read").kind("unreadable_body")
        }
    })?;
    // Read without building the body's tree: each entry is checked against its limits
    // as it is taken from the body.
    let (entries, single) = crate::submission::entries(&bytes, tenant_id)?;
    drop(bytes);
    let stored = state.logs.append(tenant_id, entries).await?;
    Ok(created(stored, single))
}

/// The submitted entries of `tenant_id`, or 400 naming the first invalid one's index.
pub(crate) fn entries_from_json(
    values: &[Value],
    tenant_id: Uuid,
) -> Result<Vec<NewAuditLog>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            NewAuditLog::from_json(value, tenant_id)
                .map_err(|err| ApiError::invalid_entry(index, &err))
        })
        .collect()
}

fn created(mut stored: Vec<AuditLog>, single: bool) -> Response {
    match (single, stored.pop()) {
        (true, Some(entry)) => (StatusCode::CREATED, Json(entry)).into_response(),
        (_, last) => {
            stored.extend(last);
            (StatusCode::CREATED, Json(stored)).into_response()
        }
    }
}

/// Declares a variant's three operations on entries, `list_audit_logs`,
/// `create_audit_logs` and `get_audit_log`, and its `router()`: the handlers, their
/// descriptions and their response tables are written here once, and a variant names
/// only what is its own.
///
/// - `paths`: the list's path and the path of one entry (`.../{id}`); `tag`,
///   `operation_ids`: where and under what names they are documented;
/// - `path_params`: the documented tenant path parameter, if any;
/// - `security`: the documented schemes; `forbidden`: the 403 descriptions for `read`
///   and `write`;
/// - `key`: the [`KeySource`]; `tenant`: the [`TenantFrom`] of the request's path
///   parameters ([`crate::log::RawPath`]);
/// - `errors`: the error type the variant renders, and its documented body.
macro_rules! audit_log_operations {
    (
        paths: ($path:tt, $entry_path:tt $(,)?),
        tag: $tag:tt,
        operation_ids: ($list_id:tt, $create_id:tt, $get_id:tt $(,)?),
        path_params: [$($path_param:tt)?],
        security: [$($security:tt)*],
        forbidden: ($forbidden_read:tt, $forbidden_write:tt $(,)?),
        key: $source:expr,
        tenant: |$raw_path:ident| $tenant:expr,
        errors: ($error:ty, $error_body:tt) $(,)?
    ) => {
        /// The routes of this variant's entries.
        pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                .routes(utoipa_axum::routes!(list_audit_logs, create_audit_logs))
                .routes(utoipa_axum::routes!(get_audit_log))
        }

        /// List audit log entries
        ///
        /// The tenant's entries that match every given filter, newest first
        /// (`created_at` descending, then `id` descending), one page at a time.
        /// `X-Total-Count` gives how many match; `Link` points at the first, previous,
        /// next and last pages and keeps every filter.
        ///
        /// To read every entry at any depth, page by cursor: leave `page` out, and send
        /// each answer's `X-Next-Cursor` header as `cursor` with the same filters until
        /// an answer has none.
        #[utoipa::path(
            get,
            path = $path,
            operation_id = $list_id,
            tag = $tag,
            params($($path_param,)? crate::docs::PageQuery, crate::docs::FilterQuery),
            responses(
                (status = 200, description = "A page of entries", body = Vec<auditlog_domain::AuditLog>, headers(
                    ("X-Total-Count" = u64, description = "How many entries match the filters, ignoring pagination"),
                    ("Link" = String, description = "Links to the first, previous, next and last pages, with every filter kept"),
                    ("X-Next-Cursor" = String, description = "When more entries may follow: the `cursor` that continues after this page in keyset mode"),
                )),
                (status = 400, description = "A parameter is invalid; the message names it and its value", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_list_query()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden_read, body = $error_body),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn list_audit_logs(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $raw_path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let tenant = $tenant;
            Ok(crate::audit_logs::list(&state, &headers, $source, tenant, $path, &uri).await?)
        }

        /// Record audit log entries
        ///
        /// One entry, or a JSON array of 1 to 1000, stored atomically: when any entry is
        /// invalid nothing is stored and the answer names its index, field and value. An
        /// entry's `id` makes it idempotent: resending the same content stores nothing twice
        /// and answers as the first time; the same `id` with other content, or with a stored
        /// field left out (only a `created_at` the server assigned may be), is 409. A single
        /// object in gives a single object out; an array gives an array. The answer comes
        /// after the entries are committed.
        #[utoipa::path(
            post,
            path = $path,
            operation_id = $create_id,
            tag = $tag,
            $(params($path_param),)?
            request_body(content = inline(crate::docs::CreateBody), description = "One entry or an array of 1 to 1000", examples(
                ("one entry" = (summary = "A failed password login", value = json!(crate::docs::example_entry()))),
                ("a batch" = (summary = "Two entries, each with its own idempotency key", value = json!(crate::docs::example_batch()))),
            )),
            responses(
                (status = 201, description = "The stored entries: an object for an object, an array for an array", body = inline(crate::docs::CreatedBody)),
                (status = 400, description = "The body or an entry is invalid; nothing was stored", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_entry()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden_write, body = $error_body),
                (status = 409, description = "An id is already stored with other content; nothing was stored", body = $error_body),
                (status = 413, description = "The body is over the size limit", body = $error_body),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn create_audit_logs(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $raw_path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            body: axum::body::Body,
        ) -> Result<axum::response::Response, $error> {
            let tenant = $tenant;
            Ok(crate::audit_logs::create(&state, &headers, $source, tenant, body).await?)
        }

        /// Read one audit log entry
        ///
        /// The tenant's entry with this id, as the list serves it. An id that is not one
        /// of the tenant's entries is 404, the same whether another tenant has an entry
        /// with it or no tenant has.
        #[utoipa::path(
            get,
            path = $entry_path,
            operation_id = $get_id,
            tag = $tag,
            params(
                $($path_param,)?
                ("id" = uuid::Uuid, Path, description = "The id of the entry"),
            ),
            responses(
                (status = 200, description = "The entry", body = auditlog_domain::AuditLog),
                (status = 400, description = "The id is not a UUID; the message names the parameter and its value", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_entry_id()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden_read, body = $error_body),
                (status = 404, description = "The tenant has no entry with this id", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::no_entry()))),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn get_audit_log(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $raw_path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let id = crate::log::path_param(&$raw_path, "id");
            let tenant = $tenant;
            Ok(crate::audit_logs::get(&state, &headers, $source, tenant, id, &uri).await?)
        }
    };
}

pub(crate) use audit_log_operations;
