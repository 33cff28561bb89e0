//! The header names of the API that axum does not name: what the list and export
//! answers carry, the passkey server's key header and the request id, and which of
//! them CORS lets a browser send and read.

use axum::http::{HeaderName, header};

/// The number of entries that match, ignoring pagination.
pub(crate) const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// The cursor of the next page in keyset mode.
pub(crate) const X_NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// The size of the tenant's log that an export covers: its newest checkpoint's.
pub(crate) const X_TREE_SIZE: HeaderName = HeaderName::from_static("x-tree-size");

/// The request id: taken from the request when sent, else made, and echoed back.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The passkey server's key header (`apiKey`; header names are case-insensitive).
pub(crate) const API_KEY: HeaderName = HeaderName::from_static("apikey");

/// The request headers a browser may send cross-origin.
pub(crate) const CORS_ALLOWED: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    API_KEY,
    X_REQUEST_ID,
];

/// Every response header a client reads, exposed to cross-origin browser scripts: a
/// keyset client needs `X-Next-Cursor` as much as a page client needs `Link`, and an
/// export's reader needs `X-Tree-Size` and the file name.
pub(crate) const CORS_EXPOSED: [HeaderName; 6] = [
    header::LINK,
    X_TOTAL_COUNT,
    X_NEXT_CURSOR,
    X_TREE_SIZE,
    header::CONTENT_DISPOSITION,
    X_REQUEST_ID,
];
