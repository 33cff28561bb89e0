//! API key authentication for both variants, in the order the contract fixes: a
//! missing, wrong or revoked key is 401; a key of another tenant or without the scope
//! is 403.

use auditlog_domain::{ApiKey, ApiKeySecret, Scope};
use axum::http::{HeaderMap, header};
use uuid::Uuid;

use crate::{AppState, error::ApiError, headers::API_KEY};

/// Where a variant reads the key from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `apiKey: <secret>`, or `Authorization: Bearer <secret>` (passkey server).
    ApiKeyOrBearer,
    /// `Authorization: Bearer <secret>` only (admin API).
    Bearer,
}

impl KeySource {
    fn challenge(self) -> &'static str {
        match self {
            KeySource::ApiKeyOrBearer => "Bearer realm=\"auditlog\", apiKey",
            KeySource::Bearer => "Bearer realm=\"auditlog\"",
        }
    }

    fn how(self) -> &'static str {
        match self {
            KeySource::ApiKeyOrBearer => {
                "send it in the 'apiKey' header or as 'Authorization: Bearer <key>'"
            }
            KeySource::Bearer => "send it as 'Authorization: Bearer <key>'",
        }
    }
}

fn presented_secret(headers: &HeaderMap, source: KeySource) -> Result<Option<&str>, ()> {
    if source == KeySource::ApiKeyOrBearer
        && let Some(value) = headers.get(API_KEY)
    {
        return value.to_str().map(|s| Some(s.trim())).map_err(|_| ());
    }
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value.to_str().map_err(|_| ())?;
            let (scheme, secret) = value.split_once(' ').ok_or(())?;
            if scheme.eq_ignore_ascii_case("bearer") {
                Ok(Some(secret.trim()))
            } else {
                Err(())
            }
        }
    }
}

/// The active key the request presents, or 401.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
) -> Result<ApiKey, ApiError> {
    let secret = match presented_secret(headers, source) {
        Ok(Some(secret)) if !secret.is_empty() => secret,
        Ok(_) => {
            return Err(ApiError::unauthorized(
                format!("an API key is required: {}", source.how()),
                source.challenge(),
            )
            .kind("missing_key"));
        }
        Err(()) => {
            return Err(ApiError::unauthorized(
                format!("the Authorization header is malformed: {}", source.how()),
                source.challenge(),
            )
            .kind("malformed_authorization"));
        }
    };
    let hash = ApiKeySecret::presented(secret).hash();
    let key = state.keys.find_key(&hash).await?;
    match key {
        Some(key) if key.is_active() && key.hash.ct_eq(&hash) => {
            crate::middleware::note_caller(&key);
            Ok(key)
        }
        _ => Err(ApiError::unauthorized(
            "the API key is not valid or has been revoked",
            source.challenge(),
        )
        .kind("invalid_key")),
    }
}

/// Checks that `key` may act on `tenant_id` with `scope`, or 403. The answer is the
/// same whether or not the tenant exists.
pub(crate) fn authorize(key: &ApiKey, tenant_id: Uuid, scope: Scope) -> Result<(), ApiError> {
    if key.tenant_id != tenant_id {
        return Err(ApiError::forbidden(format!(
            "the API key does not belong to tenant {tenant_id}"
        ))
        .kind("wrong_tenant"));
    }
    if !key.scopes.contains(scope) {
        return Err(ApiError::forbidden(format!(
            "the API key lacks the '{}' scope (it has: {})",
            scope.as_str(),
            if key.scopes.to_string().is_empty() {
                "none".to_owned()
            } else {
                key.scopes.to_string()
            }
        ))
        .kind("missing_scope"));
    }
    Ok(())
}

/// Parses the tenant id of a path, or 400 naming it. Only the 36-character form is a
/// tenant's path (as the published API documents it), so that each tenant has one
/// path and links built from it are valid URLs; braces, `urn:uuid:` and the form
/// without hyphens are refused.
pub(crate) fn parse_tenant(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw)
        .ok()
        .filter(|_| raw.len() == 36)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid value '{raw}' for path parameter 'tenant_id': must be a UUID in its \
                 36-character form, such as 00000000-0000-0000-0000-000000000001"
            ))
            .kind("invalid_parameter")
            .parameter("tenant_id")
        })
}
