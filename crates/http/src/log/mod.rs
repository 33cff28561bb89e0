//! Each tenant's transparency log, as both variants serve it: the newest signed
//! checkpoint, inclusion and consistency proofs, the verifiable export ([`export`]) (all
//! in [`log_operations`]), and the verifier key that checks every checkpoint
//! (`GET /log-key`, [`router`]). The document's examples are one log ([`examples`]).
//!
//! A client that keeps the verifier key needs to trust nothing else: it opens a
//! checkpoint with the key and its tenant's origin (`<key name>/<tenant id>`), checks an
//! entry's leaf hash against the checkpoint's root with the inclusion proof, and checks
//! that a newer checkpoint extends one it saw before with the consistency proof.

pub(crate) mod examples;
pub(crate) mod export;

use std::convert::Infallible;

use auditlog_domain::{
    AccessOperation, Scope,
    log::Hash,
    store::{ConsistencyProof, InclusionProof},
};
use axum::{
    Json,
    extract::{FromRequestParts, MatchedPath, State},
    http::{HeaderMap, StatusCode, Uri, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState, access,
    audit_logs::{TenantFrom, reader_for},
    auth::KeySource,
    error::ApiError,
    query,
};
use examples::{
    EXAMPLE_CHECKPOINT, EXAMPLE_CONSISTENCY_PROOF, EXAMPLE_INCLUSION_PROOF, EXAMPLE_VERIFIER_KEY,
};

/// The path parameters of a request as sent, each percent-decoded on its own and parsed
/// (and refused by name) by the handler that reads it: a segment that is not UTF-8 once
/// decoded is kept as sent, so that it is refused as the parameter it is rather than
/// hiding the others.
#[derive(Debug, Default)]
pub(crate) struct RawPath(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for RawPath {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        // The route's template (`/{tenant_id}/audit_logs/{id}`) and the path have their
        // segments in the same places: routes here have no wildcards.
        let Some(template) = parts.extensions.get::<MatchedPath>() else {
            return Ok(Self::default());
        };
        let params = template
            .as_str()
            .split('/')
            .zip(parts.uri.path().split('/'))
            .filter_map(|(pattern, segment)| {
                let name = pattern.strip_prefix('{')?.strip_suffix('}')?;
                let value = percent_encoding::percent_decode_str(segment)
                    .decode_utf8()
                    .map_or_else(|_| segment.to_owned(), |decoded| decoded.into_owned());
                Some((name.to_owned(), value))
            })
            .collect();
        Ok(Self(params))
    }
}

/// The path parameter `name` as sent, or "" when the route has none of that name.
pub(crate) fn path_param<'a>(path: &'a RawPath, name: &str) -> &'a str {
    path.0
        .iter()
        .find(|(param, _)| param == name)
        .map_or("", |(_, value)| value.as_str())
}

/// The routes that need no key.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(log_key))
}

/// The verifier key of the log
///
/// The public key that signs every tenant's checkpoints, as a signed-note verifier key
/// `<name>+<hex key id>+<base64 key>`, named after the log origin. The checkpoints of a
/// tenant's log carry the origin `<name>/<tenant id>`. Keep it: a checkpoint that does
/// not verify with it is not this log's.
#[utoipa::path(
    get,
    path = "/log-key",
    operation_id = "get_log_key",
    tag = "transparency log",
    responses(
        (status = 200, description = "The verifier key, one line of text", body = String,
            content_type = "text/plain; charset=utf-8", example = json!(EXAMPLE_VERIFIER_KEY)),
    ),
)]
async fn log_key(State(state): State<AppState>) -> String {
    format!("{}\n", state.verifier_key)
}

/// The tenant's newest signed checkpoint: the note exactly as signed, or 404 while the
/// log is empty.
pub(crate) async fn checkpoint(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let reader = reader_for(state, headers, source, tenant, Scope::Read).await?;
    let checkpoint = state.log.latest_checkpoint(reader.tenant_id).await?;
    access::record(
        state,
        reader,
        AccessOperation::GetCheckpoint,
        headers,
        uri,
        0,
    )
    .await;
    match checkpoint {
        Some(checkpoint) => Ok(checkpoint.note.into_response()),
        None => Err(empty_log()),
    }
}

/// 404 for the checkpoint of a log that no entry has joined yet.
pub(crate) fn empty_log() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "the tenant's log is empty: no entry has joined it yet (entries join within a second of being recorded)",
    )
}

/// The proof that entry `raw_id` is in the tenant's log, at `tree_size` or at the
/// newest checkpoint.
pub(crate) async fn inclusion(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    raw_id: &str,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let reader = reader_for(state, headers, source, tenant, Scope::Read).await?;
    let id = query::parse_entry_id(raw_id)?;
    let [tree_size] = query::parse_sizes(uri.query(), ["tree_size"])?;
    let proof = state
        .log
        .inclusion_proof(reader.tenant_id, id, tree_size)
        .await;
    // A proof holds no entry, but tells whether one is in the log: it is recorded
    // whether or not there is one to give.
    let operation = AccessOperation::GetInclusionProof;
    access::record(state, reader, operation, headers, uri, 0).await;
    let proof = proof?;
    Ok(Json(InclusionBody::from(proof)).into_response())
}

/// The proof that the tenant's log at `from` leaves is a prefix of it at `to`.
pub(crate) async fn consistency(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let reader = reader_for(state, headers, source, tenant, Scope::Read).await?;
    let [from, to] = query::parse_sizes(uri.query(), ["from", "to"])?;
    let required = |name: &str| {
        ApiError::bad_request(format!(
            "the parameter '{name}' is required: a tree size of the tenant's log"
        ))
        .kind("missing_parameter")
        .parameter(name)
    };
    let from = from.ok_or_else(|| required("from"))?;
    let to = to.ok_or_else(|| required("to"))?;
    let proof = state
        .log
        .consistency_proof(reader.tenant_id, from, to)
        .await?;
    let operation = AccessOperation::GetConsistencyProof;
    access::record(state, reader, operation, headers, uri, 0).await;
    Ok(Json(ConsistencyBody::from(proof)).into_response())
}

/// The proof that an entry is a leaf of its tenant's log (RFC 9162, section 2.1.3), and
/// the signed checkpoint it leads to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "leaf_index": 2,
    "tree_size": 5,
    "inclusion_proof": EXAMPLE_INCLUSION_PROOF,
    "checkpoint": EXAMPLE_CHECKPOINT,
}))]
pub(crate) struct InclusionBody {
    /// The entry's 0-based index among the tenant's entries, in the order the log took
    /// them in.
    leaf_index: u64,
    /// The size of the tree the proof is for: the checkpoint's size.
    tree_size: u64,
    /// The hashes that lead from the entry's leaf hash to the checkpoint's root, from the
    /// leaf up, each in standard base64.
    #[schema(value_type = Vec<String>)]
    inclusion_proof: Vec<Hash>,
    /// The signed checkpoint (C2SP signed note) of the tenant's log at `tree_size`.
    checkpoint: String,
}

impl From<InclusionProof> for InclusionBody {
    fn from(proof: InclusionProof) -> Self {
        Self {
            leaf_index: proof.leaf_index,
            tree_size: proof.tree_size,
            inclusion_proof: proof.proof,
            checkpoint: proof.checkpoint,
        }
    }
}

/// The proof that the tenant's log at `from` leaves is a prefix of the log at `to`
/// (RFC 9162, section 2.1.4).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"from": 3, "to": 5, "proof": EXAMPLE_CONSISTENCY_PROOF}))]
pub(crate) struct ConsistencyBody {
    /// The older tree size.
    from: u64,
    /// The newer tree size.
    to: u64,
    /// The proof's hashes, each in standard base64; empty when `from` is 0 or equals `to`.
    #[schema(value_type = Vec<String>)]
    proof: Vec<Hash>,
}

impl From<ConsistencyProof> for ConsistencyBody {
    fn from(proof: ConsistencyProof) -> Self {
        Self {
            from: proof.from,
            to: proof.to,
            proof: proof.proof,
        }
    }
}

/// The query of an inclusion proof, as the document describes it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handler parses the raw query.
pub(crate) struct ProofQuery {
    /// The tree size to prove inclusion at: above the entry's leaf index, and not beyond
    /// the newest checkpoint. The newest checkpoint's size when absent.
    #[param(minimum = 1, example = 5)]
    tree_size: Option<u64>,
}

/// The query of a consistency proof, as the document describes it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handler parses the raw query.
pub(crate) struct ConsistencyQuery {
    /// The older tree size: at most `to`.
    #[param(minimum = 0, example = 3)]
    from: u64,
    /// The newer tree size: not beyond the newest checkpoint.
    #[param(minimum = 0, example = 5)]
    to: u64,
}

/// Declares a variant's four log operations, `get_checkpoint`, `get_inclusion_proof`,
/// `get_consistency_proof` and `export_audit_logs` (from [`export::export_operation`]),
/// and its `log_router()`; the handlers, descriptions and response tables are written
/// here once, as [`crate::audit_logs::audit_log_operations`] writes those of the
/// entries.
///
/// - `paths`, `tag`, `operation_ids`: where and under what names they are documented;
/// - `path_params`: the documented tenant path parameter, if any;
/// - `security`: the documented schemes; `forbidden`: the 403 description;
/// - `key`: the [`KeySource`]; `tenant`: the [`TenantFrom`] of the request's path
///   parameters ([`RawPath`]);
/// - `errors`: the error type the variant renders, and its documented body.
macro_rules! log_operations {
    (
        paths: ($checkpoint_path:tt, $proof_path:tt, $consistency_path:tt, $export_path:tt $(,)?),
        tag: $tag:tt,
        operation_ids: ($checkpoint_id:tt, $proof_id:tt, $consistency_id:tt, $export_id:tt $(,)?),
        path_params: [$($path_param:tt)?],
        security: [$($security:tt)*],
        forbidden: $forbidden:tt,
        key: $source:expr,
        tenant: |$path:ident| $tenant:expr,
        errors: ($error:ty, $error_body:tt) $(,)?
    ) => {
        /// The log routes of this variant.
        pub(crate) fn log_router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                .routes(utoipa_axum::routes!(get_checkpoint))
                .routes(utoipa_axum::routes!(get_inclusion_proof))
                .routes(utoipa_axum::routes!(get_consistency_proof))
                .routes(utoipa_axum::routes!(export_audit_logs))
        }

        crate::log::export::export_operation! {
            path: $export_path,
            tag: $tag,
            operation_id: $export_id,
            path_params: [$($path_param)?],
            security: [$($security)*],
            forbidden: $forbidden,
            key: $source,
            tenant: |$path| $tenant,
            errors: ($error, $error_body),
        }

        /// The newest checkpoint of the tenant's log
        ///
        /// The tenant's entries are the leaves of a Merkle tree (RFC 9162); this is its
        /// newest signed head, a C2SP tlog-checkpoint signed note: the origin
        /// `<log origin>/<tenant id>`, the number of entries the log holds, the base64
        /// root hash, a blank line and the signature. Open it with the key of
        /// `GET /log-key`. Entries join the log within about a second of being recorded.
        #[utoipa::path(
            get,
            path = $checkpoint_path,
            operation_id = $checkpoint_id,
            tag = $tag,
            $(params($path_param),)?
            responses(
                (status = 200, description = "The signed checkpoint, exactly as signed", body = String,
                    content_type = "text/plain; charset=utf-8", example = json!(crate::log::examples::EXAMPLE_CHECKPOINT)),
                (status = 400, description = "The tenant id is not a UUID", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_tenant()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden, body = $error_body),
                (status = 404, description = "The tenant's log is still empty", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::empty_log()))),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn get_checkpoint(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let tenant = $tenant;
            Ok(crate::log::checkpoint(&state, &headers, $source, tenant, &uri).await?)
        }

        /// The inclusion proof of an entry
        ///
        /// Proves that the entry is a leaf of the tenant's log: its leaf hash is
        /// SHA-256(0x00 || the RFC 8785 canonical JSON of the entry as listed), and the
        /// proof's hashes lead from it to the root of the signed checkpoint that comes
        /// with it (RFC 9162, section 2.1.3). At the newest checkpoint unless `tree_size`
        /// asks for an older size. An entry recorded a moment ago may not have joined
        /// the log yet: 404 that says so; try again in a second.
        #[utoipa::path(
            get,
            path = $proof_path,
            operation_id = $proof_id,
            tag = $tag,
            params(
                $($path_param,)?
                ("id" = uuid::Uuid, Path, description = "The id of the entry"),
                crate::log::ProofQuery,
            ),
            responses(
                (status = 200, description = "The proof, and the checkpoint it leads to", body = crate::log::InclusionBody),
                (status = 400, description = "The id or `tree_size` is invalid, or the log has not reached `tree_size`, or `tree_size` does not hold the entry; the message names the parameter", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_tree_size()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden, body = $error_body),
                (status = 404, description = "The tenant has no such entry, or the entry has not joined the log yet (try again in a second)", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::no_entry()))),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn get_inclusion_proof(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let id = crate::log::path_param(&$path, "id");
            let tenant = $tenant;
            Ok(crate::log::inclusion(&state, &headers, $source, tenant, id, &uri).await?)
        }

        /// The consistency proof between two sizes of the log
        ///
        /// Proves that the tenant's log at `from` entries is a prefix of the log at `to`
        /// (RFC 9162, section 2.1.4): nothing the older checkpoint covered was changed or
        /// removed since. Check it against the roots of the two checkpoints.
        #[utoipa::path(
            get,
            path = $consistency_path,
            operation_id = $consistency_id,
            tag = $tag,
            params($($path_param,)? crate::log::ConsistencyQuery),
            responses(
                (status = 200, description = "The proof", body = crate::log::ConsistencyBody),
                (status = 400, description = "`from` or `to` is missing or invalid, `from` is above `to`, or the log has not reached `to`; the message names the parameter", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_consistency_sizes()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden, body = $error_body),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn get_consistency_proof(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let tenant = $tenant;
            Ok(crate::log::consistency(&state, &headers, $source, tenant, &uri).await?)
        }
    };
}

pub(crate) use log_operations;
