//! What both variants share: listing a tenant's entries and recording new ones. The
//! variant modules (`passkey`, `admin`) only decide where the tenant comes from, how
//! the key is sent, and the error shape.

use auditlog_domain::{AuditLog, NewAuditLog, Scope, limits};
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
    auth::{self, KeySource},
    error::ApiError,
    headers::{X_NEXT_CURSOR, X_TOTAL_COUNT},
    query,
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
async fn tenant_for(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    scope: Scope,
) -> Result<Uuid, ApiError> {
    let key = auth::authenticate(state, headers, source).await?;
    let tenant_id = match tenant {
        TenantFrom::Path(raw) => auth::parse_tenant(raw)?,
        TenantFrom::Key => key.tenant_id,
    };
    auth::authorize(&key, tenant_id, scope)?;
    Ok(tenant_id)
}

/// Lists entries: the JSON array of the page, `X-Total-Count` and `Link`.
pub(crate) async fn list(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    path: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let tenant_id = tenant_for(state, headers, source, tenant, Scope::Read).await?;
    let filter = query::parse_filter(uri.query())?;
    let page = state.logs.list(tenant_id, &filter).await?;
    let base = query::base_url(
        state.config.public_url.as_deref(),
        uri,
        headers,
        &state.config.listen_host,
    );
    let mut response = Json(&page.items).into_response();
    let out = response.headers_mut();
    out.insert(X_TOTAL_COUNT, HeaderValue::from(page.total));
    if let Some(link) = query::link_header(&base, path, &filter, &page) {
        out.insert(axum::http::header::LINK, link);
    }
    if let Some(cursor) = query::next_cursor(&filter, &page)
        && let Ok(value) = HeaderValue::from_str(&cursor.to_string())
    {
        out.insert(X_NEXT_CURSOR, value);
    }
    Ok(response)
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
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {limit} bytes"),
        )
    };
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
            ApiError::bad_request("the body could not be read")
        }
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))?;
    let (values, single) = match value {
        Value::Array(items) => (items, false),
        other => (vec![other], true),
    };
    if values.is_empty() || values.len() > limits::MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "a batch holds 1 to {} entries, not {}",
            limits::MAX_BATCH,
            values.len()
        )));
    }
    let entries = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            NewAuditLog::from_json(value, tenant_id)
                .map_err(|err| ApiError::bad_request(format!("entry {index}: {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stored = state.logs.append(tenant_id, entries).await?;
    Ok(created(stored, single))
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
