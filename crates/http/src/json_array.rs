//! A JSON array answer written as the client reads it: each item is serialised when the
//! body gets that far and dropped right after, so that a page of large entries is held
//! once (as items), not three times (items, a growing buffer, its copy). An answer
//! that fits in its first chunk goes out whole, with its `Content-Length`, as before.
//! A large page is not held at all ([`sliced`]): its entries are read from the store a
//! slice at a time as the answer is written.

use std::{io, sync::Arc};

use auditlog_domain::AuditLogStore;
use uuid::Uuid;

use axum::{
    body::Body,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::error::ApiError;

/// Bytes a chunk of the body holds, at least (one item more may pass it).
const CHUNK: usize = 64 * 1024;

/// `items` as a JSON array answer.
pub(crate) fn answer<T: Serialize + Send + 'static>(items: Vec<T>) -> Result<Response, ApiError> {
    let mut items = items.into_iter();
    let mut first = Vec::with_capacity(1024);
    first.push(b'[');
    let wrote = fill(&mut first, &mut items, false, CHUNK).map_err(|err| {
        tracing::error!(error = %err, "an answer could not be serialised");
        ApiError::internal()
    })?;
    let mut response = if items.len() == 0 {
        first.push(b']');
        first.into_response()
    } else {
        let rest = futures::stream::unfold(Some((items, wrote)), |state| async move {
            let (mut items, wrote) = state?;
            if items.len() == 0 {
                return Some((Ok(b"]".to_vec()), None));
            }
            let mut chunk = Vec::with_capacity(CHUNK + 1024);
            match fill(&mut chunk, &mut items, wrote, CHUNK) {
                Ok(wrote) => Some((Ok(chunk), Some((items, wrote)))),
                // The status is sent: the answer ends unfinished, never as a shorter array.
                Err(err) => Some((Err(err), None)),
            }
        });
        let head = futures::stream::once(async move { Ok::<_, io::Error>(first) });
        Body::from_stream(futures::StreamExt::chain(head, rest)).into_response()
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The most entries a large page reads from the store at a time.
pub(crate) const SLICE: usize = 100;

/// The entries `ids` of `tenant_id` as a JSON array answer, read [`SLICE`] at a time as
/// the client reads the answer. An id whose entry is gone by then is left out. A store
/// error once the answer has begun ends it unfinished (logged), never as a shorter
/// array.
pub(crate) fn sliced(store: Arc<dyn AuditLogStore>, tenant_id: Uuid, ids: Vec<Uuid>) -> Response {
    struct State {
        store: Arc<dyn AuditLogStore>,
        tenant_id: Uuid,
        ids: std::vec::IntoIter<Uuid>,
        wrote: bool,
    }
    let state = State {
        store,
        tenant_id,
        ids: ids.into_iter(),
        wrote: false,
    };
    let chunks = futures::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        let slice: Vec<Uuid> = state.ids.by_ref().take(SLICE).collect();
        if slice.is_empty() {
            return Some((Ok(b"]".to_vec()), None));
        }
        let entries = match state.store.get_many(state.tenant_id, &slice).await {
            Ok(entries) => entries,
            Err(err) => {
                tracing::error!(error = %err, tenant_id = %state.tenant_id, "a list failed after its answer began; it ends unfinished");
                return Some((Err(io::Error::other(err.to_string())), None));
            }
        };
        // The slice's entries, all of them, in one chunk.
        let mut chunk = Vec::with_capacity(CHUNK + 1024);
        match fill(
            &mut chunk,
            &mut entries.into_iter(),
            state.wrote,
            usize::MAX,
        ) {
            Ok(wrote) => state.wrote = wrote,
            Err(err) => return Some((Err(err), None)),
        }
        Some((Ok(chunk), Some(state)))
    });
    let head = futures::stream::once(async { Ok::<_, io::Error>(b"[".to_vec()) });
    let mut response = Body::from_stream(futures::StreamExt::chain(head, chunks)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Serialises items into `chunk`, comma-separated, until it holds `up_to` bytes or
/// `items` ends; `wrote` says whether an item was written before. Returns whether one
/// has been written now.
fn fill<T: Serialize>(
    chunk: &mut Vec<u8>,
    items: &mut impl Iterator<Item = T>,
    mut wrote: bool,
    up_to: usize,
) -> io::Result<bool> {
    while chunk.len() < up_to {
        let Some(item) = items.next() else {
            break;
        };
        if wrote {
            chunk.push(b',');
        }
        serde_json::to_writer(&mut *chunk, &item).map_err(io::Error::other)?;
        wrote = true;
    }
    Ok(wrote)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The body's exact length as the server will send it (`Content-Length`), and the
    /// body.
    async fn body_of(items: Vec<Value>) -> (Option<u64>, Vec<u8>) {
        use axum::body::HttpBody;
        let response = answer(items).expect("an answer");
        let length = response.body().size_hint().exact();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        (length, body.to_vec())
    }

    /// A store of `count` entries whose reads by id fail from the `fail_from`th on.
    struct Entries {
        entries: Vec<auditlog_domain::AuditLog>,
        calls: std::sync::atomic::AtomicUsize,
        fail_from: usize,
    }

    #[async_trait::async_trait]
    impl AuditLogStore for Entries {
        async fn append(
            &self,
            _: Uuid,
            _: Vec<auditlog_domain::NewAuditLog>,
        ) -> Result<Vec<auditlog_domain::AuditLog>, auditlog_domain::StoreError> {
            unreachable!("not written to")
        }

        async fn list(
            &self,
            _: Uuid,
            _: &auditlog_domain::AuditLogFilter,
        ) -> Result<auditlog_domain::Page<auditlog_domain::AuditLog>, auditlog_domain::StoreError>
        {
            unreachable!("read by id")
        }

        async fn get(
            &self,
            _: Uuid,
            id: Uuid,
        ) -> Result<Option<auditlog_domain::AuditLog>, auditlog_domain::StoreError> {
            let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if call >= self.fail_from {
                return Err(auditlog_domain::StoreError::Unavailable("gone".into()));
            }
            Ok(self.entries.iter().find(|e| e.id == id).cloned())
        }

        async fn ping(&self) -> Result<(), auditlog_domain::StoreError> {
            Ok(())
        }
    }

    fn entries(count: usize, fail_from: usize) -> Arc<Entries> {
        let entries = (0..count)
            .map(|i| {
                auditlog_domain::NewAuditLog::new(
                    auditlog_domain::AuditLogType::LoginSuccess,
                    format!("r{i}"),
                    "192.0.2.1".parse().expect("an address"),
                    "ua",
                )
                .into_entry(Uuid::nil(), time::OffsetDateTime::now_utc())
            })
            .collect();
        Arc::new(Entries {
            entries,
            calls: Default::default(),
            fail_from,
        })
    }

    #[tokio::test]
    async fn a_sliced_answer_holds_every_entry_in_order_or_ends_unfinished() {
        let store = entries(250, usize::MAX);
        let mut ids: Vec<Uuid> = store.entries.iter().map(|e| e.id).collect();
        ids.reverse();
        // An id with no entry (gone since the page was read) is left out.
        ids.insert(10, Uuid::new_v4());
        let response = sliced(store.clone(), Uuid::nil(), ids.clone());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        let read: Vec<auditlog_domain::AuditLog> = serde_json::from_slice(&body).expect("JSON");
        let mut expected = store.entries.clone();
        expected.reverse();
        assert_eq!(read, expected);

        // The store fails in the second slice: the body errs, and is never a shorter
        // array that parses.
        let failing = entries(250, SLICE + 5);
        let response = sliced(failing, Uuid::nil(), ids);
        let result = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        assert!(result.is_err(), "an unfinished answer, not a short one");
    }

    #[tokio::test]
    async fn small_and_large_arrays_read_back_as_the_items() {
        for items in [
            vec![],
            vec![json!({"a": 1})],
            (0..3).map(|i| json!({"i": i})).collect(),
            // Several chunks: items of 10 KB, and one larger than a chunk.
            (0..40)
                .map(|i| json!({"i": i, "pad": "x".repeat(if i == 7 { 100_000 } else { 10_000 })}))
                .collect(),
        ] {
            let (_, body) = body_of(items.clone()).await;
            let read: Vec<Value> = serde_json::from_slice(&body).expect("a JSON array");
            assert_eq!(read, items);
        }
        // A small answer is sent whole, with its length, as a plain JSON answer was.
        let (length, body) = body_of(vec![json!({"a": 1})]).await;
        assert_eq!(length, Some(body.len() as u64));
        let (length, _) = body_of(
            (0..40)
                .map(|i| json!({"pad": "x".repeat(i * 1_000)}))
                .collect(),
        )
        .await;
        assert_eq!(length, None, "a large one is streamed");
    }
}
