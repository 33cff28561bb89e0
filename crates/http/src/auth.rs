//! API key authentication for both variants, in the order the contract fixes: a
//! missing, wrong, revoked or expired key is 401; a key of another tenant or without
//! the scope is 403.

use std::sync::Arc;

use auditlog_domain::{ApiKey, ApiKeySecret, Scope, Scopes, keys::KeyStatus};
use axum::http::{HeaderMap, header};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use crate::{AppState, error::ApiError, headers::API_KEY};

/// Where a variant reads the key from first. Both variants take the key in either
/// header, so that one key works wherever it is sent (and in whichever of Swagger UI's
/// two "Authorize" boxes it is pasted); each reads its own variant's header first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `apiKey: <secret>`, else `Authorization: Bearer <secret>` (passkey server).
    ApiKeyOrBearer,
    /// `Authorization: Bearer <secret>`, else `apiKey: <secret>` (admin API).
    BearerOrApiKey,
}

impl KeySource {
    fn challenge(self) -> &'static str {
        match self {
            KeySource::ApiKeyOrBearer => "Bearer realm=\"auditlog\", apiKey",
            KeySource::BearerOrApiKey => "Bearer realm=\"auditlog\"",
        }
    }

    fn how(self) -> &'static str {
        match self {
            KeySource::ApiKeyOrBearer => {
                "send it in the 'apiKey' header or as 'Authorization: Bearer <key>'"
            }
            KeySource::BearerOrApiKey => {
                "send it as 'Authorization: Bearer <key>' or in the 'apiKey' header"
            }
        }
    }
}

/// What is wrong with the key headers of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadHeaders {
    /// The header is not text, or `Authorization` is not `Bearer <key>`.
    Malformed(&'static str),
    /// The header is there but carries no key.
    Empty(&'static str),
    /// `apiKey` and `Authorization` carry two different keys.
    Conflicting,
}

/// The secret the request presents in `apiKey` or `Authorization: Bearer`; `None`
/// when it sends neither. Either header may carry the key; when both do, they must
/// carry the same one, and a header that is there must carry one: an empty or a second
/// key is refused rather than silently passed over. On the passkey variant, whose
/// header is `apiKey`, an `Authorization` of another scheme beside it is left alone.
fn presented_secret(headers: &HeaderMap, source: KeySource) -> Result<Option<&str>, BadHeaders> {
    let api_key = headers
        .get(API_KEY)
        .map(|value| {
            value
                .to_str()
                .map(str::trim)
                .map_err(|_| BadHeaders::Malformed("apiKey"))
        })
        .transpose()?;
    let bearer = headers.get(header::AUTHORIZATION).map(|value| {
        let value = value
            .to_str()
            .map_err(|_| BadHeaders::Malformed("Authorization"))?;
        match value.trim().split_once(' ') {
            Some((scheme, secret)) if scheme.eq_ignore_ascii_case("bearer") => Ok(secret.trim()),
            _ if value.trim().eq_ignore_ascii_case("bearer") => Ok(""),
            _ => Err(BadHeaders::Malformed("Authorization")),
        }
    });
    let bearer = match (bearer, api_key) {
        // The passkey variant's own header carries the key: an `Authorization` of
        // another scheme (a proxy's, say) is not a key and is left alone.
        (Some(Err(_)), Some(key)) if source == KeySource::ApiKeyOrBearer && !key.is_empty() => None,
        (bearer, _) => bearer.transpose()?,
    };
    match (api_key, bearer) {
        (Some(""), _) => Err(BadHeaders::Empty("apiKey")),
        (_, Some("")) => Err(BadHeaders::Empty("Authorization")),
        (Some(a), Some(b)) if a != b => Err(BadHeaders::Conflicting),
        (Some(key), _) | (None, Some(key)) => Ok(Some(key)),
        (None, None) => Ok(None),
    }
}

/// 401 for a request that presents no key.
pub(crate) fn key_required(source: KeySource) -> ApiError {
    ApiError::unauthorized(
        format!("an API key is required: {}", source.how()),
        source.challenge(),
    )
    .kind("missing_key")
}

/// The active key the request presents, or 401.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
) -> Result<ApiKey, ApiError> {
    let refused = |message: String, kind: &'static str| {
        ApiError::unauthorized(message, source.challenge()).kind(kind)
    };
    let secret = match presented_secret(headers, source) {
        Ok(Some(secret)) => secret,
        Ok(None) => return Err(key_required(source)),
        Err(BadHeaders::Malformed(name)) => {
            return Err(refused(
                format!("the {name} header is malformed: {}", source.how()),
                "malformed_authorization",
            ));
        }
        Err(BadHeaders::Empty(name)) => {
            return Err(refused(
                format!("the {name} header carries no key: {}", source.how()),
                "empty_key",
            ));
        }
        Err(BadHeaders::Conflicting) => {
            return Err(refused(
                "the apiKey and Authorization headers carry different keys: send one key, \
                 in one of them"
                    .to_owned(),
                "conflicting_keys",
            ));
        }
    };
    let hash = ApiKeySecret::presented(secret).hash();
    let key = state.keys.find_key(&hash).await?;
    let now = OffsetDateTime::now_utc();
    match key {
        Some(key) if key.hash.ct_eq(&hash) => match key.status_at(now) {
            KeyStatus::Active => {
                crate::middleware::note_caller(&key);
                note_use(state, &key, now);
                Ok(key)
            }
            KeyStatus::Expired => Err(ApiError::unauthorized(
                format!(
                    "the API key expired at {}",
                    key.expires_at
                        .and_then(|at| at.format(&Rfc3339).ok())
                        .unwrap_or_default()
                ),
                source.challenge(),
            )
            .kind("expired_key")),
            KeyStatus::Revoked => Err(invalid_key(source)),
        },
        _ => Err(invalid_key(source)),
    }
}

/// 401 for a key that no key's secret matches, or that was revoked: the two are not
/// told apart, so that a guess learns nothing.
fn invalid_key(source: KeySource) -> ApiError {
    ApiError::unauthorized(
        "the API key is not valid or has been revoked",
        source.challenge(),
    )
    .kind("invalid_key")
}

/// Records the key's use off the request's path, when the use it keeps is older than
/// a minute; a failure is logged and the request goes on.
fn note_use(state: &AppState, key: &ApiKey, now: OffsetDateTime) {
    if !key.use_is_news(now) {
        return;
    }
    let keys = Arc::clone(&state.keys);
    let id = key.id;
    tokio::spawn(async move {
        if let Err(error) = keys.note_key_used(id, now).await {
            tracing::warn!(key_id = %id, %error, "recording the key's last use failed");
        }
    });
}

/// Checks that `key` may act on `tenant_id` with `scope`, or 403. The answer is the
/// same whether or not the tenant exists.
pub(crate) fn authorize(key: &ApiKey, tenant_id: Uuid, scope: Scope) -> Result<(), ApiError> {
    if key.tenant_id != tenant_id {
        return Err(other_tenant(tenant_id));
    }
    if !key.scopes.contains(scope) {
        return Err(lacks_scope(scope, key.scopes));
    }
    Ok(())
}

/// 403 for a key of another tenant than `tenant_id`.
pub(crate) fn other_tenant(tenant_id: Uuid) -> ApiError {
    ApiError::forbidden(format!("the API key does not belong to tenant {tenant_id}"))
        .kind("wrong_tenant")
}

/// 403 for a key with the scopes `has`, which lack `scope`.
pub(crate) fn lacks_scope(scope: Scope, has: Scopes) -> ApiError {
    let has = has.to_string();
    ApiError::forbidden(format!(
        "the API key lacks the '{}' scope (it has: {})",
        scope.as_str(),
        if has.is_empty() { "none" } else { &has }
    ))
    .kind("missing_scope")
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
