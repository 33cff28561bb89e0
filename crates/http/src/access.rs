//! Who read the log: every read of a tenant's entries (a list, one entry, an export, a
//! proof, a checkpoint, and this access log itself) leaves a record in the access log,
//! apart from the entries; a key with the `access_log` scope reads its tenant's records
//! at `GET /{tenant_id}/access_logs` or `GET /admin/access_logs`
//! ([`access_log_operation`]).
//!
//! Handlers hand their records to [`AccessLog`], a bounded queue that one writer empties
//! in batches gathered over up to [`LINGER`] ([`AccessLog::start`]), so that a read
//! costs a queue push and not a database round trip. When the queue is full a read waits for room rather than go
//! unrecorded; records the database refuses (after retries) are counted per tenant and
//! written as a `reads_not_recorded` record once it takes writes again. At shutdown
//! the writer writes what is queued ([`AccessLogWriter::finish`]).

use std::{collections::HashMap, sync::Arc, time::Duration};

use auditlog_domain::{AccessLogStore, AccessOperation, AccessQuery, AccessRecord, FilterError};
use axum::{
    Json,
    http::{HeaderMap, HeaderValue, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{
    AppState,
    error::ApiError,
    headers::{X_NEXT_CURSOR, X_REQUEST_ID},
    query,
};

/// How many records may wait for the writer; past it a read waits for room.
pub const QUEUE_CAPACITY: usize = 10_000;

/// The most records the writer writes in one batch.
const BATCH: usize = 1_000;

/// How long the writer gathers records after the first of a batch: a read's record is
/// written within this, and a busy server writes a few batches a second, not a row a
/// read.
pub const LINGER: Duration = Duration::from_millis(200);

/// How long the writer waits before each retry of a batch the database refused.
const RETRY_AFTER: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// The longest path and the most parameter bytes a record keeps; a longer one is cut
/// (a request's URI is bounded anyway; this bounds what one read adds to the table).
const MAX_PATH: usize = 2_048;
const MAX_PARAMETERS: usize = 16_384;

/// The access log's queue, and where its records are read from.
#[derive(Clone)]
pub struct AccessLog {
    store: Arc<dyn AccessLogStore>,
    queue: mpsc::Sender<AccessRecord>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("queued", &(QUEUE_CAPACITY - self.queue.capacity()))
            .finish_non_exhaustive()
    }
}

/// The task that writes the access log's records; [`AccessLogWriter::finish`] writes
/// what is queued and ends it.
#[derive(Debug)]
pub struct AccessLogWriter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl AccessLog {
    /// The queue of records for `store`, and the writer task that empties it (spawned on
    /// the current runtime).
    pub fn start(store: Arc<dyn AccessLogStore>) -> (Self, AccessLogWriter) {
        let (queue, records) = mpsc::channel(QUEUE_CAPACITY);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(write(Arc::clone(&store), records, stopped));
        (Self { store, queue }, AccessLogWriter { stop, task })
    }

    /// Queues `record`, waiting for room when the queue is full.
    pub(crate) async fn note(&self, record: AccessRecord) {
        if self.queue.send(record).await.is_err() {
            tracing::warn!("a read was not recorded in the access log: it is shutting down");
        }
    }

    /// Queues `record` from where nothing can wait (a body dropped mid-stream): at once
    /// when there is room, else from a task of its own.
    pub(crate) fn note_soon(&self, record: AccessRecord) {
        if let Err(mpsc::error::TrySendError::Full(record)) = self.queue.try_send(record) {
            let log = self.clone();
            tokio::spawn(async move { log.note(record).await });
        }
    }
}

impl AccessLogWriter {
    /// Closes the queue, writes every record still in it, and waits for the writer,
    /// at most `within`.
    pub async fn finish(self, within: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(within, self.task).await.is_err() {
            tracing::warn!(
                within_secs = within.as_secs_f64(),
                "the access log's writer did not finish in time; records still queued are lost"
            );
        }
    }
}

/// The writer: takes what is queued, up to [`BATCH`] at a time, and writes it.
async fn write(
    store: Arc<dyn AccessLogStore>,
    mut records: mpsc::Receiver<AccessRecord>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut lost: HashMap<Uuid, u64> = HashMap::new();
    let mut stopping = false;
    let mut detached = false;
    loop {
        let first = if stopping {
            records.recv().await
        } else {
            tokio::select! {
                record = records.recv() => record,
                asked = &mut stopped, if !detached => {
                    if asked.is_err() {
                        // The handle was dropped without `finish`: keep writing until
                        // every sender is gone.
                        detached = true;
                        continue;
                    }
                    stopping = true;
                    // Sends fail from now on; what is queued is still received.
                    records.close();
                    continue;
                }
            }
        };
        let Some(first) = first else {
            break;
        };
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        // At shutdown, what is queued is written at once.
        let gather_until =
            tokio::time::Instant::now() + if stopping { Duration::ZERO } else { LINGER };
        while batch.len() < BATCH {
            match records.try_recv() {
                Ok(record) => batch.push(record),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(gather_until, records.recv()).await {
                        Ok(Some(record)) => batch.push(record),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        write_batch(store.as_ref(), batch, &mut lost, !stopping).await;
    }
    if !lost.is_empty() {
        tracing::error!(
            reads = lost.values().sum::<u64>(),
            "reads went unrecorded in the access log: the database refused their records"
        );
    }
}

/// Writes `batch`, retrying when `retry`; first the count of reads lost before, once
/// the database takes writes again. What it cannot write is counted in `lost`.
async fn write_batch(
    store: &dyn AccessLogStore,
    mut batch: Vec<AccessRecord>,
    lost: &mut HashMap<Uuid, u64>,
    retry: bool,
) {
    let earlier: Vec<AccessRecord> = lost
        .iter()
        .map(|(&tenant_id, &reads)| AccessRecord {
            returned: reads,
            ..AccessRecord::now(tenant_id, None, AccessOperation::ReadsNotRecorded)
        })
        .collect();
    let had_lost = !earlier.is_empty();
    batch.splice(0..0, earlier);
    let waits = if retry { &RETRY_AFTER[..] } else { &[] };
    let mut attempt = 0;
    loop {
        match store.record_access(&batch).await {
            Ok(()) => {
                if had_lost {
                    lost.clear();
                }
                return;
            }
            Err(error) => {
                let Some(wait) = waits.get(attempt) else {
                    tracing::error!(
                        %error,
                        records = batch.len(),
                        "the access log's records could not be written; they are counted as reads_not_recorded"
                    );
                    lost.clear();
                    for record in &batch {
                        let reads =
                            if record.operation == AccessOperation::ReadsNotRecorded.as_str() {
                                record.returned
                            } else {
                                1
                            };
                        *lost.entry(record.tenant_id).or_default() += reads;
                    }
                    return;
                };
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "writing the access log failed; retrying");
                tokio::time::sleep(*wait).await;
                attempt += 1;
            }
        }
    }
}

/// Who reads: the tenant and the key that authenticated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader {
    pub(crate) tenant_id: Uuid,
    pub(crate) key_id: Uuid,
}

/// Records that `reader` read `operation` at the request's path and query, and that
/// the answer held `returned` entries.
pub(crate) async fn record(
    state: &AppState,
    reader: Reader,
    operation: AccessOperation,
    headers: &HeaderMap,
    uri: &Uri,
    returned: u64,
) {
    state
        .access
        .note(record_of(reader, operation, headers, uri, returned))
        .await;
}

/// The record of a read, made now.
pub(crate) fn record_of(
    reader: Reader,
    operation: AccessOperation,
    headers: &HeaderMap,
    uri: &Uri,
    returned: u64,
) -> AccessRecord {
    AccessRecord {
        path: cut(uri.path(), MAX_PATH),
        parameters: parameters_of(uri.query()),
        returned,
        request_id: headers
            .get(X_REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .map(|id| cut(id, 255)),
        ..AccessRecord::now(reader.tenant_id, Some(reader.key_id), operation)
    }
}

/// The parameters some read takes: the filters and pages of lists and exports, the
/// export's format, the tree sizes of proofs, and the access log's own. Others are
/// ignored by every read, and are not recorded: they are the client's text, which
/// might hold anything (a key pasted into the URL, say).
fn read_by_some_operation(name: &str) -> bool {
    auditlog_domain::AuditLogFilter::reads_parameter(name)
        || auditlog_domain::filter::PAGE_PARAMETERS.contains(&name)
        || matches!(
            name,
            "format" | "tree_size" | "from" | "to" | "key_id" | "operation"
        )
}

/// The query's parameters as sent that some read takes ([`read_by_some_operation`]),
/// decoded (bytes that are not UTF-8 replaced), empty values left out; a repeated name
/// holds an array. At most [`MAX_PARAMETERS`] bytes of names and values; past it the
/// rest is left out and `…` names how many were.
pub(crate) fn parameters_of(raw: Option<&str>) -> Map<String, Value> {
    let mut parameters = Map::new();
    let mut budget = MAX_PARAMETERS;
    let mut left_out = 0u64;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if value.is_empty() || !read_by_some_operation(&name) {
            continue;
        }
        let size = name.len() + value.len();
        if size > budget {
            left_out += 1;
            continue;
        }
        budget -= size;
        auditlog_domain::access::add_parameter(&mut parameters, &name, value.into_owned());
    }
    if left_out > 0 {
        parameters.insert("…".to_owned(), Value::from(left_out));
    }
    parameters
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Records on a page of the access log when `per_page` is absent.
pub(crate) const DEFAULT_PER_PAGE: u64 = 100;
/// The most records on a page.
pub(crate) const MAX_PER_PAGE: u64 = 1_000;

/// The page of the tenant's access log that the query asks for, newest first, with
/// `X-Next-Cursor` when the page is full; the read is recorded too.
pub(crate) async fn list(
    state: &AppState,
    reader: Reader,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Response, ApiError> {
    let query = parse_query(uri.query())?;
    let records = state
        .access
        .store
        .access_log(reader.tenant_id, &query)
        .await?;
    record(
        state,
        reader,
        AccessOperation::ListAccessLogs,
        headers,
        uri,
        records.len() as u64,
    )
    .await;
    let next = (records.len() as u64 == query.limit)
        .then(|| records.last().map(|record| record.id))
        .flatten();
    let mut response = Json(&records).into_response();
    if let Some(next) = next
        && let Ok(value) = HeaderValue::from_str(&next.to_string())
    {
        response.headers_mut().insert(X_NEXT_CURSOR, value);
    }
    Ok(response)
}

/// The query of a page of the access log: `per_page`, `cursor`, `key_id` and
/// `operation`, each at most once; others are ignored, as in a list of entries.
pub(crate) fn parse_query(raw: Option<&str>) -> Result<AccessQuery, ApiError> {
    const NAMES: [&str; 4] = ["per_page", "cursor", "key_id", "operation"];
    let mut query = AccessQuery {
        limit: DEFAULT_PER_PAGE,
        ..AccessQuery::default()
    };
    let mut given: [Option<String>; 4] = Default::default();
    for (name, value) in query::decoded_pairs(raw, |name| NAMES.contains(&name))? {
        if value.is_empty() {
            continue;
        }
        let slot = NAMES.iter().position(|n| *n == name).unwrap_or_default();
        if let Some(first) = &given[slot] {
            return Err(query::given_twice(&name, &value, first).into());
        }
        let invalid = |reason: String| FilterError {
            parameter: name.clone(),
            value: auditlog_domain::text::excerpt(&value),
            reason,
        };
        match name.as_str() {
            "per_page" => {
                query.limit = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                    .ok_or_else(|| {
                        invalid(format!("must be an integer from 1 to {MAX_PER_PAGE}"))
                    })?;
            }
            "cursor" => {
                query.before = Some(Uuid::try_parse(&value).map_err(|_| {
                    invalid("must be the X-Next-Cursor of the previous page".to_owned())
                })?);
            }
            "key_id" => {
                query.key_id = Some(
                    Uuid::try_parse(&value)
                        .map_err(|_| invalid("must be the UUID of an API key".to_owned()))?,
                );
            }
            _ => {
                query.operation = Some(AccessOperation::parse(&value).ok_or_else(|| {
                    let names: Vec<&str> =
                        AccessOperation::ALL.iter().map(|op| op.as_str()).collect();
                    invalid(format!("must be one of: {}", names.join(", ")))
                })?);
            }
        }
        given[slot] = Some(value);
    }
    Ok(query)
}

/// The query of a page of the access log, as the document describes it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handler parses the raw query.
pub(crate) struct AccessQueryDoc {
    /// Records on a page, newest first.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    per_page: Option<u64>,
    /// The page after the record this cursor names: the previous answer's
    /// `X-Next-Cursor`.
    cursor: Option<Uuid>,
    /// Only the reads of this API key.
    key_id: Option<Uuid>,
    /// Only reads of this operation: `list_audit_logs`, `get_audit_log`,
    /// `export_audit_logs`, `get_checkpoint`, `get_inclusion_proof`,
    /// `get_consistency_proof`, `list_access_logs` or `reads_not_recorded`.
    operation: Option<String>,
}

/// Declares a variant's `list_access_logs` operation and its `access_router()`.
macro_rules! access_log_operation {
    (
        path: $path:tt,
        operation_id: $operation_id:tt,
        path_params: [$($path_param:tt)?],
        security: [$($security:tt)*],
        forbidden: $forbidden:tt,
        key: $source:expr,
        tenant: |$raw_path:ident| $tenant:expr,
        errors: ($error:ty, $error_body:tt) $(,)?
    ) => {
        /// The access log's route of this variant.
        pub(crate) fn access_router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                .routes(utoipa_axum::routes!(list_access_logs))
        }

        /// List who read the tenant's log
        ///
        /// One record for every read of the tenant's log (a list, one entry, an export,
        /// a proof, a checkpoint, and these pages themselves), newest first: when, the
        /// key, the operation, the path, the query's parameters as sent and how many
        /// entries the answer held. Reads are recorded within moments of their answer.
        /// Page by `cursor`: send each answer's `X-Next-Cursor` until an answer has none.
        /// Needs the `access_log` scope.
        #[utoipa::path(
            get,
            path = $path,
            operation_id = $operation_id,
            tag = "access log",
            params($($path_param,)? crate::access::AccessQueryDoc),
            responses(
                (status = 200, description = "A page of records, newest first", body = Vec<auditlog_domain::AccessRecord>, headers(
                    ("X-Next-Cursor" = String, description = "When more records may follow: the `cursor` of the next page"),
                )),
                (status = 400, description = "A parameter is invalid; the message names it and its value", body = $error_body,
                    example = json!($error_body::from(&crate::docs::errors::bad_access_query()))),
                (status = 401, description = "The API key is missing, wrong, expired or revoked", body = $error_body),
                (status = 403, description = $forbidden, body = $error_body),
                (status = 500, description = "Internal error", body = $error_body),
                (status = 503, description = "The database is unavailable", body = $error_body),
            ),
            security($($security)*),
        )]
        async fn list_access_logs(
            axum::extract::State(state): axum::extract::State<crate::AppState>,
            $raw_path: crate::log::RawPath,
            headers: axum::http::HeaderMap,
            uri: axum::http::Uri,
        ) -> Result<axum::response::Response, $error> {
            let tenant = $tenant;
            let reader = crate::audit_logs::reader_for(
                &state,
                &headers,
                $source,
                tenant,
                auditlog_domain::Scope::AccessLog,
            )
            .await?;
            Ok(crate::access::list(&state, reader, &headers, &uri).await?)
        }
    };
}

pub(crate) use access_log_operation;

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use auditlog_domain::StoreError;

    use super::*;

    /// A store that refuses the first `failures` writes, then keeps what it is given.
    #[derive(Default)]
    struct Flaky {
        failures: Mutex<usize>,
        written: Mutex<Vec<AccessRecord>>,
    }

    #[async_trait]
    impl AccessLogStore for Flaky {
        async fn record_access(&self, records: &[AccessRecord]) -> Result<(), StoreError> {
            let mut failures = self.failures.lock().expect("a lock");
            if *failures > 0 {
                *failures -= 1;
                return Err(StoreError::Unavailable("the database is down".into()));
            }
            self.written
                .lock()
                .expect("a lock")
                .extend_from_slice(records);
            Ok(())
        }

        async fn access_log(
            &self,
            _tenant_id: Uuid,
            _query: &AccessQuery,
        ) -> Result<Vec<AccessRecord>, StoreError> {
            Ok(Vec::new())
        }
    }

    fn read(tenant_id: Uuid) -> AccessRecord {
        AccessRecord::now(
            tenant_id,
            Some(Uuid::new_v4()),
            AccessOperation::ListAuditLogs,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn reads_the_database_refused_are_counted_and_written_once_it_takes_them() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let store = Arc::new(Flaky {
            // The first batch and its three retries.
            failures: Mutex::new(1 + RETRY_AFTER.len()),
            ..Flaky::default()
        });
        let (log, writer) = AccessLog::start(store.clone());
        for tenant in [a, a, b] {
            log.note(read(tenant)).await;
        }
        // Past every retry of that batch.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(store.written.lock().expect("a lock").is_empty());
        let later = read(a);
        log.note(later.clone()).await;
        writer.finish(Duration::from_secs(60)).await;
        let written = store.written.lock().expect("a lock").clone();
        let lost: HashMap<Uuid, u64> = written
            .iter()
            .filter(|r| r.operation == "reads_not_recorded")
            .map(|r| (r.tenant_id, r.returned))
            .collect();
        assert_eq!(lost, HashMap::from([(a, 2), (b, 1)]), "{written:#?}");
        assert!(
            written
                .iter()
                .all(|r| r.operation != "reads_not_recorded" || r.key_id.is_none())
        );
        assert!(
            written.contains(&later),
            "the read after the outage is kept"
        );
        assert_eq!(written.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_writer_handle_does_not_stop_the_recording() {
        let store = Arc::new(Flaky::default());
        let (log, writer) = AccessLog::start(store.clone());
        drop(writer);
        let record = read(Uuid::new_v4());
        log.note(record.clone()).await;
        tokio::time::sleep(LINGER * 2).await;
        assert_eq!(*store.written.lock().expect("a lock"), vec![record]);
    }

    #[tokio::test]
    async fn finishing_writes_every_queued_record_and_refuses_later_ones() {
        let store = Arc::new(Flaky::default());
        let (log, writer) = AccessLog::start(store.clone());
        let tenant = Uuid::new_v4();
        let records: Vec<AccessRecord> = (0..2_500).map(|_| read(tenant)).collect();
        for record in &records {
            log.note(record.clone()).await;
        }
        writer.finish(Duration::from_secs(10)).await;
        assert_eq!(
            *store.written.lock().expect("a lock"),
            records,
            "all, in order"
        );
        log.note(read(tenant)).await;
        assert_eq!(store.written.lock().expect("a lock").len(), records.len());
    }

    #[test]
    fn parameters_keep_what_was_sent_and_repeat_as_arrays() {
        let parameters = parameters_of(Some(
            "type=login_success&type=login_failure&q=&actor_email=a%40b.c&per_page=5&apiKey=alk_secret",
        ));
        assert_eq!(
            Value::Object(parameters),
            serde_json::json!({
                "type": ["login_success", "login_failure"],
                "actor_email": "a@b.c",
                "per_page": "5",
            })
        );
        assert!(parameters_of(None).is_empty());
    }

    #[test]
    fn parameters_are_bounded_and_say_how_many_were_left_out() {
        let long = "x".repeat(10_000);
        let raw = format!("q={long}&actor_email={long}&per_page=1");
        let parameters = parameters_of(Some(&raw));
        assert_eq!(parameters["q"], Value::String(long));
        assert!(!parameters.contains_key("actor_email"));
        assert_eq!(parameters["per_page"], "1");
        assert_eq!(parameters["…"], 1);
    }

    #[test]
    fn the_query_names_what_is_wrong() {
        for (raw, parameter) in [
            ("per_page=0", "per_page"),
            ("per_page=1001", "per_page"),
            ("cursor=abc", "cursor"),
            ("key_id=1", "key_id"),
            ("operation=delete", "operation"),
            ("per_page=1&per_page=2", "per_page"),
        ] {
            let err = parse_query(Some(raw)).expect_err(raw);
            assert_eq!(err.rejection.parameter.as_deref(), Some(parameter), "{raw}");
            assert_eq!(err.status.as_u16(), 400, "{raw}");
        }
        let query = parse_query(Some("per_page=7&operation=get_audit_log&unknown=1&key_id="))
            .expect("valid");
        assert_eq!(query.limit, 7);
        assert_eq!(query.operation, Some(AccessOperation::GetAuditLog));
        assert_eq!(query.key_id, None);
    }
}
