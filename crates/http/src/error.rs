//! The two error shapes: the passkey server's `{title, details, status}` and the admin
//! API's `{code, message}`. Handlers build an [`ApiError`]; each variant turns it into
//! its own body. A 5xx body says nothing internal; the detail goes to the log.

use auditlog_domain::{EntryError, FilterError, LogError, StoreError};
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer, independent of the variant that will render it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// What went wrong, for people; names the parameter, field and value refused.
    pub(crate) details: String,
    /// The authentication scheme to name in `WWW-Authenticate` on a 401.
    pub(crate) challenge: Option<&'static str>,
    /// What the request log says of it: never a value the client sent.
    pub(crate) rejection: Rejection,
}

/// Why a request was refused, as its log line gives it: the kind of error and the
/// parameter or field it concerns, never the value (values may be personal data or
/// secrets). The answer carries it as an extension for the request log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// A fixed name such as `invalid_parameter`, `invalid_key` or `missing_scope`.
    pub(crate) kind: &'static str,
    /// The query parameter, path parameter or entry field refused, when there is one.
    pub(crate) parameter: Option<String>,
}

impl Rejection {
    /// The kind that a status alone tells.
    fn of(status: StatusCode) -> Self {
        let kind = match status.as_u16() {
            400 => "invalid_request",
            401 => "unauthenticated",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "timeout",
            409 => "conflict",
            413 => "body_too_large",
            503 => "unavailable",
            500..=599 => "internal",
            _ => "error",
        };
        Self {
            kind,
            parameter: None,
        }
    }
}

/// An entry field's name as the log may show it: one of an entry's fields, else none
/// (an unknown field's name is the client's text).
fn entry_field(field: &str) -> Option<String> {
    (auditlog_domain::log::LEAF_MEMBERS.contains(&field) || field == "updated_at")
        .then(|| field.to_owned())
}

impl ApiError {
    /// An error with this status and message.
    pub(crate) fn new(status: StatusCode, details: impl Into<String>) -> Self {
        Self {
            status,
            details: details.into(),
            challenge: None,
            rejection: Rejection::of(status),
        }
    }

    /// The same error, logged as of this kind.
    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.rejection.kind = kind;
        self
    }

    /// The same error, logged as concerning this parameter (a name this service
    /// reads, never one only the client knows).
    pub(crate) fn parameter(mut self, parameter: &str) -> Self {
        self.rejection.parameter = Some(parameter.to_owned());
        self
    }

    /// 400 for entry `index` of a submission.
    pub(crate) fn invalid_entry(index: usize, err: &EntryError) -> Self {
        let mut error = Self::bad_request(format!("entry {index}: {err}")).kind("invalid_entry");
        error.rejection.parameter = entry_field(&err.field);
        error
    }

    /// 400.
    pub(crate) fn bad_request(details: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, details)
    }

    /// 401, naming the scheme the client should use.
    pub(crate) fn unauthorized(details: impl Into<String>, challenge: &'static str) -> Self {
        Self {
            challenge: Some(challenge),
            ..Self::new(StatusCode::UNAUTHORIZED, details)
        }
    }

    /// 403.
    pub(crate) fn forbidden(details: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, details)
    }

    /// 413 for a body over `limit` bytes.
    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {limit} bytes"),
        )
    }

    /// 500, saying nothing internal: the caller logs what happened.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the server log has the details",
        )
    }

    /// 503, for a database that does not answer; the caller logs why.
    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable; try again later",
        )
    }

    /// 503 for a request that reads many entries while as many as the limit allows
    /// are in progress.
    pub(crate) fn busy(limit: usize) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{limit} requests that read many entries are in progress, as many as the server \
                 takes at once; try again in a second"
            ),
        )
        .kind("busy")
    }

    /// 404 for a path that names nothing here.
    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("no resource at path '{path}'"),
        )
    }

    /// 405 for a method a path does not serve.
    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed on path '{path}'"),
        )
    }

    /// The short title of the status, as the passkey shape carries it.
    pub(crate) fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    fn response_with<B: Serialize>(&self, body: B) -> Response {
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(self.rejection.clone());
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<FilterError> for ApiError {
    /// A filter names only parameters it reads, so the name may be logged.
    fn from(err: FilterError) -> Self {
        Self::bad_request(err.to_string())
            .kind("invalid_parameter")
            .parameter(&err.parameter)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidEntry { index, source } => Self::invalid_entry(index, &source),
            StoreError::Conflict { .. } => Self::new(StatusCode::CONFLICT, err.to_string()),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, "database unavailable");
                Self::unavailable()
            }
            StoreError::Backend(_) => {
                tracing::error!(error = %err, "storage error");
                Self::internal()
            }
        }
    }
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> Self {
        match err {
            LogError::EntryNotFound | LogError::NotYetInLog => {
                Self::new(StatusCode::NOT_FOUND, err.to_string())
            }
            LogError::SizeNotReached { parameter, .. } => Self::bad_request(err.to_string())
                .kind("invalid_parameter")
                .parameter(parameter),
            LogError::SizeBelowLeaf { .. } => Self::bad_request(err.to_string())
                .kind("invalid_parameter")
                .parameter("tree_size"),
            LogError::Store(err) => err.into(),
        }
    }
}

/// The passkey server's error body.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PasskeyErrorBody {
    /// The reason phrase of the status.
    pub(crate) title: String,
    /// What went wrong, naming the parameter or field and the value.
    pub(crate) details: String,
    /// The HTTP status.
    pub(crate) status: u16,
}

/// The admin API's error body.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminErrorBody {
    /// The HTTP status.
    pub(crate) code: u16,
    /// What went wrong, naming the parameter or field and the value.
    pub(crate) message: String,
}

/// An error rendered in the passkey server's shape.
#[derive(Debug)]
pub(crate) struct PasskeyError(pub ApiError);

/// An error rendered in the admin API's shape.
#[derive(Debug)]
pub(crate) struct AdminError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PasskeyError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl<E: Into<ApiError>> From<E> for AdminError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl From<&ApiError> for PasskeyErrorBody {
    fn from(err: &ApiError) -> Self {
        Self {
            title: err.title().to_owned(),
            details: err.details.clone(),
            status: err.status.as_u16(),
        }
    }
}

impl From<&ApiError> for AdminErrorBody {
    fn from(err: &ApiError) -> Self {
        Self {
            code: err.status.as_u16(),
            message: err.details.clone(),
        }
    }
}

impl IntoResponse for PasskeyError {
    fn into_response(self) -> Response {
        self.0.response_with(PasskeyErrorBody::from(&self.0))
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        self.0.response_with(AdminErrorBody::from(&self.0))
    }
}

/// Renders `err` in the shape of the API that owns `path`: the admin shape under
/// `/admin`, the passkey shape everywhere else.
pub(crate) fn for_path(path: &str, err: ApiError) -> Response {
    if path == "/admin" || path.starts_with("/admin/") {
        AdminError(err).into_response()
    } else {
        PasskeyError(err).into_response()
    }
}
