//! What the OpenAPI document says that the handlers' types do not: the query
//! parameters, the submitted entry, the security schemes and the document's frame.

use auditlog_domain::{AuditLog, AuditLogType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{
    IntoParams, Modify, OpenApi, ToSchema,
    openapi::{
        self, Server,
        path::ParameterIn,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

/// The query parameters of both list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handlers validate the raw query.
pub(crate) struct ListQuery {
    /// The page, from 1. Past the last page the answer is empty.
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_u64, default = 1)]
    page: Option<u64>,
    /// Entries on a page.
    #[param(minimum = 1, maximum = 1000, default = 20)]
    per_page: Option<u64>,
    /// Keyset mode: continue after the entry this opaque cursor points at. Every full
    /// page answers with `X-Next-Cursor`; a keyset page's `rel="next"` link carries the
    /// next cursor. Any depth costs what the first page costs. Excludes `page`.
    cursor: Option<String>,
    /// Entries with `created_at` at or after this RFC 3339 time (encode `+` as `%2B`).
    #[param(format = DateTime)]
    start_time: Option<String>,
    /// Entries with `created_at` before this RFC 3339 time; not before `start_time`.
    #[param(format = DateTime)]
    end_time: Option<String>,
    /// Entries of any of these types: repeat the parameter and/or separate types with
    /// commas.
    #[param(rename = "type", style = Form, explode = true)]
    r#type: Option<Vec<AuditLogType>>,
    /// Entries of exactly this actor.
    actor_user_id: Option<String>,
    /// Entries of this e-mail address, compared case-insensitively (ASCII letters).
    actor_email: Option<String>,
    /// Entries from this IP address, or from any address of a CIDR block such as
    /// `10.1.0.0/16` or `2001:db8::/32`.
    meta_source_ip: Option<String>,
    /// Entries where this text is a case-insensitive substring of the source IP, the
    /// actor's user id or the actor's e-mail address; `%` and `_` are literal.
    q: Option<String>,
}

/// An entry as a producer submits it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read by the OpenAPI derive only; bodies are read field by field.
pub(crate) struct NewAuditLogBody {
    /// The idempotency key; assigned by the server when absent.
    id: Option<uuid::Uuid>,
    /// The type of the event.
    #[serde(rename = "type")]
    r#type: AuditLogType,
    /// Why something failed.
    #[schema(max_length = 4096)]
    error: Option<String>,
    /// The id of the HTTP request that caused the event.
    #[schema(max_length = 255)]
    meta_http_request_id: String,
    /// The IPv4 or IPv6 address the request came from.
    #[schema(example = "172.27.0.1")]
    meta_source_ip: String,
    /// The user agent of the request.
    #[schema(max_length = 1024)]
    meta_user_agent: String,
    /// The user who acted.
    #[schema(max_length = 255)]
    actor_user_id: Option<String>,
    /// The e-mail address of the user who acted.
    #[schema(max_length = 320)]
    actor_email: Option<String>,
    /// Free-form context, at most 64 KiB serialised.
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    /// When it happened (RFC 3339), at most 5 minutes in the future; the time of
    /// receipt when absent.
    #[schema(format = DateTime)]
    created_at: Option<String>,
    /// Set by the server; accepted only when it is the tenant of the request.
    tenant_id: Option<uuid::Uuid>,
    /// Set by the server; ignored.
    #[schema(format = DateTime)]
    updated_at: Option<String>,
}

/// One entry or an array of 1 to 1000.
#[derive(Debug)]
pub(crate) struct CreateBody;

impl utoipa::PartialSchema for CreateBody {
    fn schema() -> openapi::RefOr<openapi::schema::Schema> {
        use openapi::schema::{ArrayBuilder, OneOfBuilder, Ref};
        let entry = Ref::from_schema_name("NewAuditLogBody");
        OneOfBuilder::new()
            .item(entry.clone())
            .item(
                ArrayBuilder::new()
                    .items(entry)
                    .min_items(Some(1))
                    .max_items(Some(1000)),
            )
            .description(Some("One entry, or an array of 1 to 1000 entries"))
            .into()
    }
}

impl ToSchema for CreateBody {
    fn schemas(schemas: &mut Vec<(String, openapi::RefOr<openapi::schema::Schema>)>) {
        schemas.push((
            "NewAuditLogBody".to_owned(),
            <NewAuditLogBody as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// The stored entries: an object when one was sent, an array when an array was sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Read by the OpenAPI derive only.
pub(crate) enum CreatedBody {
    /// The stored entry.
    One(Box<AuditLog>),
    /// The stored entries, in the order sent.
    Many(Vec<AuditLog>),
}

/// An example entry for the document.
pub(crate) fn example_entry() -> Value {
    json!({
        "id": "0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c11",
        "type": "password_login_failed",
        "error": "password incorrect",
        "meta_http_request_id": "0a2xsrhlhiQv49FIpq8KV8uQVq6ky9Bw",
        "meta_source_ip": "203.0.113.7",
        "meta_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "actor_user_id": "c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c",
        "actor_email": "jsmith@example.com",
        "details": {"login_method": "password"}
    })
}

/// An example batch for the document.
pub(crate) fn example_batch() -> Value {
    json!([
        example_entry(),
        {
            "id": "0190f1c4-6f2a-7cc1-9b1e-3a6f0e2d4c12",
            "type": "passcode_login_final_succeeded",
            "meta_http_request_id": "Yq1cKZ5t9x0b7wH2",
            "meta_source_ip": "2001:db8::7",
            "meta_user_agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15",
            "actor_user_id": "c339547d-e17d-4ba7-8a1d-b3d5a4d17c1c",
            "actor_email": "jsmith@example.com",
            "created_at": "2024-05-01T12:00:00.000001Z"
        }
    ])
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "apiKey",
                "An API key of the tenant in the path (passkey-server variant).",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <API key>`; both variants."))
                    .build(),
            ),
        );
        // Relative, so that the served document equals the committed one and
        // "Try it out" works wherever the service runs.
        openapi.servers = Some(vec![Server::new("/")]);
    }
}

/// Completes the document once the routers have added their paths: an empty query
/// value counts as absent (`q=`), which is OpenAPI's `allowEmptyValue`; utoipa's
/// `Parameter` leaves that field out, so it travels as an extension field.
pub(crate) fn finish(openapi: &mut openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Query {
                    parameter
                        .extensions
                        .get_or_insert_with(Default::default)
                        .insert("allowEmptyValue".to_owned(), serde_json::Value::Bool(true));
                }
            }
        }
    }
}

/// The frame of the document; the routers add the paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "auditlog",
        description = "A security audit log with the two APIs that Hanko's users know: the passkey-server \
variant `/{tenant_id}/audit_logs` and the admin variant `/admin/audit_logs`. Entries are listed newest first, \
filtered exactly, and recorded idempotently.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(AuditLog, AuditLogType)),
    tags(
        (name = "passkey server", description = "`/{tenant_id}/audit_logs`: the passkey server's API; errors as `{title, details, status}`"),
        (name = "admin", description = "`/admin/audit_logs`: Hanko's admin API; errors as `{code, message}`"),
        (name = "service", description = "Health and readiness"),
    ),
)]
#[derive(Debug)]
pub(crate) struct ApiDoc;
