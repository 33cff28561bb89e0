//! A JSON array answer written as the client reads it: each item is serialised when the
//! body gets that far and dropped right after, so that a page of large entries is held
//! once (as items), not three times (items, a growing buffer, its copy). An answer
//! that fits in its first chunk goes out whole, with its `Content-Length`, as before.

use std::io;

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
    let wrote = fill(&mut first, &mut items, false).map_err(|err| {
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
            match fill(&mut chunk, &mut items, wrote) {
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

/// Serialises items into `chunk`, comma-separated, until it holds [`CHUNK`] bytes or
/// `items` ends; `wrote` says whether an item was written before. Returns whether one
/// has been written now.
fn fill<T: Serialize>(
    chunk: &mut Vec<u8>,
    items: &mut impl Iterator<Item = T>,
    mut wrote: bool,
) -> io::Result<bool> {
    while chunk.len() < CHUNK {
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
