//! The examples of the document's error answers, each made by the code that makes the
//! real answer, so that the document shows what a client gets: every status of every
//! operation has an example of its own, in its variant's shape.
//!
//! The statuses that every operation answers alike (401, 403, 409, 413, 500, 503) get
//! theirs from [`fill_in`], which [`super::finish`] runs over the whole document; the
//! operations name their own 400 and 404, whose causes differ, with the functions here.

use auditlog_domain::{DEFAULT_TENANT_ID, LogError, Scope, Scopes, StoreError};
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa::openapi::{RefOr, path::Operation};
use uuid::Uuid;

use crate::{
    HttpConfig, audit_logs,
    auth::{self, KeySource},
    error::{AdminErrorBody, ApiError, PasskeyErrorBody},
    log, query,
};

/// The error `result` holds: what a handler answers to the example's input. An input
/// that was accepted gives a 500 saying so, which the document's tests refuse (an
/// example must have the status it documents).
fn refused<T, E: Into<ApiError>>(result: Result<T, E>) -> ApiError {
    match result {
        Err(err) => err.into(),
        Ok(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the example's input was accepted",
        ),
    }
}

/// 400 of a list: a parameter out of its range.
pub(crate) fn bad_list_query() -> ApiError {
    refused(query::parse_filter(Some("page=0")))
}

/// 400 of a page of the access log: an operation it does not know.
pub(crate) fn bad_access_query() -> ApiError {
    refused(crate::access::parse_query(Some(
        "operation=delete_audit_logs",
    )))
}

/// 400 of a recording: an entry of the batch with an address that is none.
pub(crate) fn bad_entry() -> ApiError {
    let mut entry = super::example_entry();
    entry["meta_source_ip"] = json!("203.0.113.999");
    refused(audit_logs::entries_from_json(
        &[super::example_entry(), entry],
        DEFAULT_TENANT_ID,
    ))
}

/// 400 of a path whose tenant id is no UUID.
pub(crate) fn bad_tenant() -> ApiError {
    refused(auth::parse_tenant("default"))
}

/// 400 of a path whose entry id is no UUID.
pub(crate) fn bad_entry_id() -> ApiError {
    refused(query::parse_entry_id("42"))
}

/// 400 of a tree size that is none.
pub(crate) fn bad_tree_size() -> ApiError {
    refused(query::parse_sizes(Some("tree_size=-1"), ["tree_size"]))
}

/// 400 of a consistency proof's sizes: one that is none.
pub(crate) fn bad_consistency_sizes() -> ApiError {
    refused(query::parse_sizes(Some("from=0&to=latest"), ["from", "to"]))
}

/// 400 of an export's query: a format it does not write.
pub(crate) fn bad_export_query() -> ApiError {
    refused(query::parse_export(Some("format=xml")))
}

/// 404 of the checkpoint of an empty log.
pub(crate) fn empty_log() -> ApiError {
    log::empty_log()
}

/// 404 of an id the tenant has no entry with.
pub(crate) fn no_entry() -> ApiError {
    LogError::EntryNotFound.into()
}

/// An error shape of the document: the variant it belongs to, told by the schema of
/// the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Passkey,
    Admin,
}

impl Shape {
    /// The shape of a body whose schema is `schema`, if it is an error body.
    fn of(schema: &RefOr<utoipa::openapi::schema::Schema>) -> Option<Self> {
        let RefOr::Ref(reference) = schema else {
            return None;
        };
        match reference.ref_location.rsplit('/').next() {
            Some("PasskeyErrorBody") => Some(Shape::Passkey),
            Some("AdminErrorBody") => Some(Shape::Admin),
            _ => None,
        }
    }

    /// `err` as this shape renders it.
    fn body(self, err: &ApiError) -> Value {
        match self {
            Shape::Passkey => json!(PasskeyErrorBody::from(err)),
            Shape::Admin => json!(AdminErrorBody::from(err)),
        }
    }

    /// Where the variant reads keys from.
    fn source(self) -> KeySource {
        match self {
            Shape::Passkey => KeySource::ApiKeyOrBearer,
            Shape::Admin => KeySource::BearerOrApiKey,
        }
    }
}

/// The error of `status` that every operation of a variant answers alike, for one that
/// needs `scope`; `None` for 400 and 404, whose examples the operations give.
fn common(status: u16, shape: Shape, scope: Scope) -> Option<ApiError> {
    Some(match status {
        401 => auth::key_required(shape.source()),
        // The passkey variant names the tenant in the path: a key of another is the
        // 403 its users meet; the admin variant's tenant is the key's own.
        403 if shape == Shape::Passkey => auth::other_tenant(DEFAULT_TENANT_ID),
        403 => {
            let other = match scope {
                Scope::Read | Scope::AccessLog => Scope::Write,
                Scope::Write => Scope::Read,
            };
            auth::lacks_scope(scope, other.as_str().parse().unwrap_or(Scopes::ALL))
        }
        409 => StoreError::Conflict {
            id: Uuid::from_u128(0x0190_f1c4_6f2a_7cc1_9b1e_3a6f_0e2d_4c11),
            index: 0,
            other_index: None,
        }
        .into(),
        413 => ApiError::too_large(HttpConfig::default().body_limit),
        500 => ApiError::internal(),
        503 => ApiError::unavailable(),
        _ => return None,
    })
}

/// Gives every JSON error answer of `operation` that has no example the common one of
/// its status; `scope` is what the operation needs.
pub(super) fn fill_in(operation: &mut Operation, scope: Scope) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let Ok(status) = status.parse::<u16>() else {
            continue;
        };
        for content in response.content.values_mut() {
            let shape = content.schema.as_ref().and_then(Shape::of);
            if let Some(shape) = shape
                && content.example.is_none()
                && content.examples.is_empty()
                && let Some(err) = common(status, shape, scope)
            {
                content.example = Some(shape.body(&err));
            }
        }
    }
}
