//! The verifiable export, as both variants serve it (`GET .../audit_logs/export`): the
//! tenant's log in log order as NDJSON or CSV, streamed a page at a time by an
//! [`ExportReader`] (the reader `auditlog export` uses), so that the server holds one
//! page whatever the size of the log. [`export_operation`] declares a variant's handler
//! and its documentation; [`super::log_operations`] invokes it.

use std::sync::Arc;

use auditlog_domain::{AccessOperation, AccessRecord, Scope};
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Uri, header},
    response::{IntoResponse, Response},
};
use futures::Stream;
use utoipa::IntoParams;

use crate::{
    AppState,
    access::AccessLog,
    audit_logs::{TenantFrom, reader_for},
    auth::KeySource,
    error::ApiError,
    export_format::ExportFormat,
    export_reader::{ExportError, ExportReader},
    headers::X_TREE_SIZE,
    query,
};

/// Leaves read a page: what one export holds in memory at a time, and one query of
/// entries (the store reads a thousand ids a query).
const LEAVES_PER_PAGE: u64 = 1_000;

/// The export of the tenant's log that the query asks for, streamed.
pub(crate) async fn export(
    state: &AppState,
    headers: &HeaderMap,
    source: KeySource,
    tenant: TenantFrom<'_>,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let caller = reader_for(state, headers, source, tenant, Scope::Read).await?;
    let tenant_id = caller.tenant_id;
    let (format, filter) = query::parse_export(uri.query())?;
    let reader = ExportReader::open(
        Arc::clone(&state.log),
        tenant_id,
        filter,
        format,
        LEAVES_PER_PAGE,
    )
    .await?;
    let tree_size = reader.tree_size();
    let filtered = if reader.is_whole() { "" } else { "-filtered" };
    let file_name = format!(
        "auditlog-{tenant_id}-{tree_size}{filtered}.{}",
        format.name()
    );
    // The read is recorded when the answer ends (or the client leaves), with the
    // entries it held by then.
    let export = Recorded {
        reader,
        record: Some((
            state.access.clone(),
            crate::access::record_of(caller, AccessOperation::ExportAuditLogs, headers, uri, 0),
        )),
    };
    let mut response = Body::from_stream(chunks(export)).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    out.insert(X_TREE_SIZE, HeaderValue::from(tree_size));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The reader's chunks as a body stream, empty ones left out. An error after the answer
/// began cannot change its status: it is logged and handed to the server, which ends
/// the answer unfinished (HTTP/1.1 closes the connection before the last chunk,
/// HTTP/2 resets the stream), so that no client takes the beginning of an export for
/// all of it, whatever its format.
fn chunks(export: Recorded) -> impl Stream<Item = Result<Vec<u8>, ExportError>> + Send {
    futures::stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        let reader = &mut export.reader;
        loop {
            match reader.next_chunk().await {
                Ok(Some(chunk)) if chunk.is_empty() => {}
                Ok(Some(chunk)) => return Some((Ok(chunk), Some(export))),
                Ok(None) => return None,
                Err(err) => {
                    tracing::error!(
                        error = %err,
                        tenant_id = %reader.tenant_id(),
                        leaves_read = reader.leaves_read(),
                        tree_size = reader.tree_size(),
                        "an export failed after its answer began; it ends unfinished"
                    );
                    return Some((Err(err), None));
                }
            }
        }
    })
}

/// An export's reader, and the record of its read, which it hands to the access log
/// when it is dropped: at the answer's end, or when the client leaves before it.
struct Recorded {
    reader: ExportReader,
    record: Option<(AccessLog, AccessRecord)>,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some((log, mut record)) = self.record.take() {
            record.returned = self.reader.entries_written();
            log.note_soon(record);
        }
    }
}

/// The format parameter of an export, as the document describes it.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handler parses the raw query.
pub(crate) struct FormatQuery {
    /// `ndjson`: one entry a line, as the list serves it, and for the whole log a last
    /// line with the checkpoint; `csv`: a header, then a row an entry with its
    /// `leaf_index`. Its values are [`ExportFormat::NAMES`], set by
    /// [`crate::docs::finish`].
    #[param(default = json!(ExportFormat::Ndjson.name()))]
    format: Option<String>,
}

/// Declares a variant's export operation, `export_audit_logs`, with its description and
/// response table; [`super::log_operations`] passes on what the variant names (see
/// there) and adds the operation to the variant's `log_router()`.
macro_rules! export_operation {
    (
        path: $path:tt,
        tag: $tag:tt,
        operation_id: $operation_id:tt,
        path_params: [$($path_param:tt)?],
        security: [$($security:tt)*],
        forbidden: $forbidden:tt,
        key: $source:expr,
        tenant: |$raw_path:ident| $tenant:expr,
        errors: ($error:ty, $error_body:tt) $(,)?
    ) => {
        /// Export the tenant's log
        ///
        /// Every entry of the tenant's log that matches the filters (those of the list,
        /// without pagination), in log order (the order the log took them in), up to the
        /// newest checkpoint when the request arrived, whose size `X-Tree-Size` gives.
        /// The answer is streamed a page at a time, whatever the size of the log.
        ///
        /// NDJSON (`format=ndjson`, the default) has one entry a line, as the list serves
        /// it. Without filters it is the whole log, and its last line is
        /// `{"checkpoint": "<signed note>"}`: the checkpoint the entries reproduce. To
        /// check it, open the checkpoint with the key of `GET /log-key`, hash each entry
        /// as a leaf, and compare the root of the tree they make with the checkpoint's
        /// (`auditlog verify --entries FILE --key KEY` does all of it offline). Each entry
        /// of a filtered export can be proven with `.../{id}/proof?tree_size=` and the
        /// `X-Tree-Size`. CSV has a header, then one row an entry with its `leaf_index`.
        ///
        /// An error after the answer has begun ends it unfinished (the connection closes
        /// before the last chunk), so that the beginning of an export is never taken for
        /// all of it; a whole NDJSON export also lacks its checkpoint line then.
        #[utoipa::path(
            get,
            path = $path,
            operation_id = $operation_id,
            tag = $tag,
            params($($path_param,)? crate::docs::FilterQuery, crate::log::export::FormatQuery),
            responses(
                (status = 200, description = "The export, streamed in log order", headers(
                    ("X-Tree-Size" = u64, description = "The size of the log the export covers: the newest checkpoint's when the request arrived"),
                    ("Content-Disposition" = String, description = "`attachment` with a file name of the tenant, the tree size and the format"),
                ), content(
                    (String = "application/x-ndjson", examples(
                        ("whole log" = (summary = "A log of five entries, exported whole (no filter): the entries, then the checkpoint", value = json!(crate::log::examples::EXAMPLE_NDJSON))),
                    )),
                    (String = "text/csv; charset=utf-8", examples(
                        ("failures" = (summary = "The failures of the same log: format=csv&type=password_login_failed,login_failure", value = json!(crate::log::examples::EXAMPLE_CSV))),
                    )),
                )),
                (status = 400, description = "A parameter is invalid, or is one of pagination (`page`, `per_page`, `cursor`); the message names it and its value", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_export_query()))),
                (status = 401, description = "The API key is missing, wrong or revoked", body = $error_body),
                (status = 403, description = $forbidden, body = $error_body),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn export_audit_logs(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $raw_path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let tenant = $tenant;
            Ok(crate::log::export::export(&state, &headers, $source, tenant, &uri).await?)
        }
    };
}

pub(crate) use export_operation;

#[cfg(test)]
mod tests {
    use super::*;

    use auditlog_domain::{
        ApiKeySecret, DEFAULT_TENANT_ID, KeyStore, NewApiKey, filter::PAGE_PARAMETERS, log::LogKey,
    };
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::{
        HttpConfig, build_router, headers::CORS_EXPOSED, log::examples::EXAMPLE_CSV_QUERY,
        memory_log::MemoryLog,
    };

    /// `GET /admin/audit_logs/export` with a read key of the default tenant, whose log is
    /// `log`; keys are kept in an SQLite store in `dir`.
    async fn export_from(log: MemoryLog, dir: &tempfile::TempDir) -> Response {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display());
        let store = Arc::new(
            auditlog_storage::SeaOrmStore::connect(&url, Default::default())
                .await
                .expect("the store opens"),
        );
        store
            .ensure_tenant(DEFAULT_TENANT_ID, "test")
            .await
            .expect("a tenant");
        let secret = ApiKeySecret::generate();
        store
            .register_key(NewApiKey {
                tenant_id: DEFAULT_TENANT_ID,
                name: "test".into(),
                scopes: "read".parse().expect("scopes"),
                secret: secret.clone(),
                expires_at: None,
            })
            .await
            .expect("a key");
        let (access, _writer) = AccessLog::start(store.clone());
        let state = AppState {
            logs: store.clone(),
            keys: store,
            log: Arc::new(log),
            access,
            verifier_key: LogKey::generate("test").expect("a key").verifier_key(),
            config: Arc::new(HttpConfig::default()),
        };
        let request = Request::get("/admin/audit_logs/export")
            .header(header::AUTHORIZATION, format!("Bearer {}", secret.expose()))
            .body(Body::empty())
            .expect("a request");
        build_router(state)
            .oneshot(request)
            .await
            .expect("an answer")
    }

    #[tokio::test]
    async fn an_export_is_streamed_whole_with_its_size_and_file_name() {
        let dir = tempfile::tempdir().expect("a directory");
        let response = export_from(MemoryLog::new(5), &dir).await;
        assert_eq!(response.status(), StatusCode::OK);
        let header = |name| response.headers()[name].to_str().expect("text").to_owned();
        assert_eq!(header(header::CONTENT_TYPE), "application/x-ndjson");
        assert_eq!(header(X_TREE_SIZE), "5");
        assert_eq!(
            header(header::CONTENT_DISPOSITION),
            format!("attachment; filename=\"auditlog-{DEFAULT_TENANT_ID}-5.ndjson\"")
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the whole body");
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(text.ends_with("signature\\n\"}\n"), "{text}");
    }

    #[tokio::test]
    async fn an_export_that_fails_after_it_began_ends_unfinished() {
        let dir = tempfile::tempdir().expect("a directory");
        let mut log = MemoryLog::new(5);
        log.fail_at = Some(0);
        let response = export_from(log, &dir).await;
        // The status was decided before the first page was read.
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        assert!(body.is_err(), "the body ends in an error, not as a whole");
    }

    const EXPORTS: [&str; 2] = ["/{tenant_id}/audit_logs/export", "/admin/audit_logs/export"];

    /// The sorted names of the query parameters of `GET path`.
    fn query_parameters(doc: &serde_json::Value, path: &str) -> Vec<String> {
        let mut names: Vec<String> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn an_exports_parameters_are_the_lists_filters_and_the_format() {
        let doc = serde_json::to_value(crate::openapi_document()).expect("serialises");
        let lists = ["/{tenant_id}/audit_logs", "/admin/audit_logs"];
        for (list, export) in lists.into_iter().zip(EXPORTS) {
            let mut expected: Vec<String> = query_parameters(&doc, list)
                .into_iter()
                .filter(|name| !PAGE_PARAMETERS.contains(&name.as_str()))
                .chain(["format".to_owned()])
                .collect();
            expected.sort_unstable();
            assert_eq!(query_parameters(&doc, export), expected, "{export}");
            let format = doc["paths"][export]["get"]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "format")
                .map(|p| p["schema"].clone())
                .unwrap_or_default();
            assert_eq!(format["enum"], serde_json::json!(ExportFormat::NAMES));
            assert_eq!(format["default"], ExportFormat::Ndjson.name());
        }
    }

    #[test]
    fn the_documented_export_headers_are_the_ones_sent_and_exposed() {
        let doc = serde_json::to_value(crate::openapi_document()).expect("serialises");
        let sent = [header::CONTENT_DISPOSITION, X_TREE_SIZE];
        for path in EXPORTS {
            let mut documented: Vec<String> =
                doc["paths"][path]["get"]["responses"]["200"]["headers"]
                    .as_object()
                    .into_iter()
                    .flat_map(|headers| headers.keys())
                    .map(|name| name.to_ascii_lowercase())
                    .collect();
            documented.sort_unstable();
            assert_eq!(documented, sent.each_ref().map(|name| name.to_string()));
        }
        for name in sent {
            assert!(CORS_EXPOSED.contains(&name), "{name} is exposed");
        }
    }

    #[test]
    fn the_csv_example_names_its_query() {
        let doc = serde_json::to_value(crate::openapi_document()).expect("serialises");
        for path in EXPORTS {
            let content = &doc["paths"][path]["get"]["responses"]["200"]["content"];
            let summary =
                content[ExportFormat::Csv.content_type()]["examples"]["failures"]["summary"]
                    .as_str()
                    .unwrap_or_default();
            assert!(summary.ends_with(EXAMPLE_CSV_QUERY), "{path}: {summary}");
            let whole = &content[ExportFormat::Ndjson.content_type()]["examples"]["whole log"];
            assert!(whole["value"].is_string(), "{path}: {content}");
        }
    }
}
