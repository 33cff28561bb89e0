//! What the OpenAPI document says that the handlers' types do not: the query
//! parameters, the submitted entry, the security schemes and the document's frame.

use auditlog_domain::{
    AuditLog, AuditLogType,
    filter::{DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE},
    limits,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::export_format::ExportFormat;
use utoipa::{
    IntoParams, Modify, Number, OpenApi, ToSchema,
    openapi::{
        self, RefOr, Server,
        path::ParameterIn,
        schema::Schema,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

/// The pagination parameters of both list endpoints, as the document describes them;
/// the bounds of `page` and `per_page` are the filter's own, set by [`finish`].
///
/// `page` has no `default` in the document although an absent page is page 1: Swagger
/// UI fills a parameter's default into its form and generated clients send it on every
/// call, and a client that pages by `cursor` must be able to leave `page` out. The
/// server also takes `page=1` with a cursor as the page after it, for clients built
/// from a document that did give the default.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handlers validate the raw query.
pub(crate) struct PageQuery {
    /// The page, from 1; page 1 when absent. Past the last page the answer is empty.
    /// Leave it out when paging by `cursor` (1, the page after the cursor, is the only
    /// page a cursor takes).
    #[param(minimum = 1)]
    page: Option<u64>,
    /// Entries on a page.
    #[param(minimum = 1, default = json!(DEFAULT_PER_PAGE))]
    per_page: Option<u64>,
    /// Keyset mode: the page that follows the entry this opaque cursor points at. Every
    /// full page answers with `X-Next-Cursor`, the cursor to send next; a keyset page's
    /// `rel="next"` link carries it too. Any depth costs what the first page costs.
    cursor: Option<String>,
}

/// The filters of both list endpoints and both exports, as the document describes them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handlers validate the raw query.
pub(crate) struct FilterQuery {
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

// The longest texts are the domain's `limits`, set by `entry_schema`.
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
    error: Option<String>,
    /// The id of the HTTP request that caused the event.
    meta_http_request_id: String,
    /// The IPv4 or IPv6 address the request came from.
    #[schema(example = "172.27.0.1")]
    meta_source_ip: String,
    /// The user agent of the request.
    meta_user_agent: String,
    /// The user who acted.
    actor_user_id: Option<String>,
    /// The e-mail address of the user who acted.
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

/// The most characters of each text field of a submitted entry.
const TEXT_LIMITS: [(&str, usize); 5] = [
    ("error", limits::ERROR_CHARS),
    ("meta_http_request_id", limits::ID_CHARS),
    ("meta_user_agent", limits::USER_AGENT_CHARS),
    ("actor_user_id", limits::ID_CHARS),
    ("actor_email", limits::EMAIL_CHARS),
];

/// The schema of a submitted entry, with the domain's [`TEXT_LIMITS`] as `maxLength`.
fn entry_schema() -> RefOr<Schema> {
    let mut schema = <NewAuditLogBody as utoipa::PartialSchema>::schema();
    if let RefOr::T(Schema::Object(entry)) = &mut schema {
        for (field, limit) in TEXT_LIMITS {
            if let Some(RefOr::T(Schema::Object(property))) = entry.properties.get_mut(field) {
                property.max_length = Some(limit);
            }
        }
    }
    schema
}

/// One entry or an array of 1 to [`limits::MAX_BATCH`].
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
                    .max_items(Some(limits::MAX_BATCH)),
            )
            .description(Some(format!(
                "One entry, or an array of 1 to {} entries",
                limits::MAX_BATCH
            )))
            .into()
    }
}

impl ToSchema for CreateBody {
    fn schemas(schemas: &mut Vec<(String, openapi::RefOr<openapi::schema::Schema>)>) {
        schemas.push(("NewAuditLogBody".to_owned(), entry_schema()));
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

/// The largest value of each bounded query parameter, as the filter enforces it.
const PARAMETER_MAXIMA: [(&str, u64); 2] = [("page", MAX_PAGE), ("per_page", MAX_PER_PAGE)];

/// The values of each query parameter that takes one of a few names.
const PARAMETER_VALUES: [(&str, &[&str]); 1] = [("format", &ExportFormat::NAMES)];

/// Completes the document once the routers have added their paths: the bounds of the
/// query parameters ([`PARAMETER_MAXIMA`]) and the values of the named ones
/// ([`PARAMETER_VALUES`]), and an empty query value counts as absent (`q=`), which is
/// OpenAPI's `allowEmptyValue`; utoipa's `Parameter` leaves that field out, so it
/// travels as an extension field.
pub(crate) fn finish(openapi: &mut openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Query {
                    if let Some((_, maximum)) = PARAMETER_MAXIMA
                        .iter()
                        .find(|(name, _)| *name == parameter.name)
                        && let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
                    {
                        schema.maximum = usize::try_from(*maximum).ok().map(Number::UInt);
                    }
                    if let Some((_, values)) = PARAMETER_VALUES
                        .iter()
                        .find(|(name, _)| *name == parameter.name)
                        && let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
                    {
                        schema.enum_values = Some(values.iter().map(|&v| v.into()).collect());
                    }
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
filtered exactly, and recorded idempotently. Each tenant's entries are the leaves of a Merkle tree (RFC 9162) \
whose signed checkpoints, inclusion proofs and consistency proofs let a client check that its log was never \
rewritten.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(AuditLog, AuditLogType)),
    tags(
        (name = "passkey server", description = "`/{tenant_id}/audit_logs`: the passkey server's API, and the tenant's log; errors as `{title, details, status}`"),
        (name = "admin", description = "`/admin/audit_logs`: Hanko's admin API, and the key's tenant's log; errors as `{code, message}`"),
        (name = "transparency log", description = "The key that signs every tenant's checkpoints"),
        (name = "service", description = "Health and readiness"),
    ),
)]
#[derive(Debug)]
pub(crate) struct ApiDoc;

#[cfg(test)]
mod tests {
    use auditlog_domain::AuditLogFilter;
    use axum::http::header;
    use serde_json::Value;

    use super::*;
    use crate::headers::{CORS_EXPOSED, X_NEXT_CURSOR, X_TOTAL_COUNT};

    const LISTS: [&str; 2] = ["/{tenant_id}/audit_logs", "/admin/audit_logs"];

    fn document() -> Value {
        serde_json::to_value(crate::openapi_document()).expect("the document serialises")
    }

    #[test]
    fn the_entry_schema_holds_the_domains_limits() {
        let doc = document();
        let entry = &doc["components"]["schemas"]["NewAuditLogBody"];
        for (field, limit) in [
            ("error", limits::ERROR_CHARS),
            ("meta_http_request_id", limits::ID_CHARS),
            ("meta_user_agent", limits::USER_AGENT_CHARS),
            ("actor_user_id", limits::ID_CHARS),
            ("actor_email", limits::EMAIL_CHARS),
        ] {
            assert_eq!(entry["properties"][field]["maxLength"], limit, "{field}");
        }
        let details = entry["properties"]["details"]["description"].as_str();
        let kib = format!("at most {} KiB", limits::DETAILS_BYTES / 1024);
        assert!(details.is_some_and(|d| d.contains(&kib)), "{details:?}");
        let created_at = entry["properties"]["created_at"]["description"].as_str();
        let future = format!("at most {} minutes", limits::MAX_FUTURE.whole_minutes());
        assert!(
            created_at.is_some_and(|d| d.contains(&future)),
            "{created_at:?}"
        );

        let batch = &doc["components"]["schemas"]["CreateBody"];
        assert_eq!(batch["oneOf"][1]["maxItems"], limits::MAX_BATCH);
        let in_words = format!("1 to {}", limits::MAX_BATCH);
        for path in LISTS {
            let create = &doc["paths"][path]["post"];
            for text in [
                &create["description"],
                &create["requestBody"]["description"],
            ] {
                assert!(
                    text.as_str().is_some_and(|t| t.contains(&in_words)),
                    "{path}: {text}"
                );
            }
        }
    }

    #[test]
    fn the_list_parameters_are_the_filters_with_its_bounds() {
        let doc = document();
        // Every parameter a filter keeps in its links, and the pagination ones.
        let all = AuditLogFilter::from_query_pairs([
            ("start_time", "2024-01-01T00:00:00Z"),
            ("end_time", "2024-01-02T00:00:00Z"),
            ("type", "login_success"),
            ("actor_user_id", "alice"),
            ("actor_email", "alice@example.com"),
            ("meta_source_ip", "10.0.0.0/8"),
            ("q", "x"),
        ])
        .expect("a valid filter");
        let mut read: Vec<&str> = all.query_pairs().iter().map(|(name, _)| *name).collect();
        read.extend(["page", "per_page", "cursor"]);
        read.sort_unstable();
        for path in LISTS {
            let parameters = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let query: Vec<&Value> = parameters.iter().filter(|p| p["in"] == "query").collect();
            let mut names: Vec<&str> = query.iter().filter_map(|p| p["name"].as_str()).collect();
            names.sort_unstable();
            assert_eq!(names, read, "{path}");
            assert!(
                names
                    .iter()
                    .all(|name| AuditLogFilter::reads_parameter(name))
            );
            let schema = |name: &str| {
                query
                    .iter()
                    .find(|p| p["name"] == name)
                    .map(|p| p["schema"].clone())
                    .unwrap_or_default()
            };
            assert_eq!(schema("page")["maximum"], MAX_PAGE, "{path}");
            assert_eq!(schema("per_page")["maximum"], MAX_PER_PAGE, "{path}");
            assert_eq!(schema("per_page")["default"], DEFAULT_PER_PAGE, "{path}");
            // A client that fills in defaults must be able to page by cursor alone.
            assert_eq!(schema("page").get("default"), None, "{path}");
        }
    }

    #[test]
    fn the_documented_list_headers_are_the_ones_sent_and_exposed() {
        let doc = document();
        let sent = [header::LINK, X_NEXT_CURSOR, X_TOTAL_COUNT];
        for path in LISTS {
            let headers = doc["paths"][path]["get"]["responses"]["200"]["headers"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut documented: Vec<String> = headers
                .keys()
                .map(|name| name.to_ascii_lowercase())
                .collect();
            documented.sort_unstable();
            assert_eq!(
                documented,
                sent.each_ref().map(|name| name.to_string()),
                "{path}"
            );
        }
        for name in sent {
            assert!(
                CORS_EXPOSED.contains(&name),
                "{name} is exposed to browsers"
            );
        }
    }
}
