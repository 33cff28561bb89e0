//! What the OpenAPI document says that the handlers' types do not: the query
//! parameters, the bodies of recording ([`body`]), the error examples ([`errors`]), the
//! security schemes and the document's frame.

mod body;
pub(crate) mod errors;

use auditlog_domain::{
    AuditLog, AuditLogType, DEFAULT_TENANT_ID, Scope,
    filter::{DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE},
};
use serde::Deserialize;
use serde_json::json;
use utoipa::{
    IntoParams, Modify, Number, OpenApi,
    openapi::{
        self, RefOr, Server,
        path::{ParameterBuilder, ParameterIn},
        schema::Schema,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

pub(crate) use body::{CreateBody, CreatedBody, example_batch, example_entry};

use crate::export_format::ExportFormat;

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

/// What a person needs to know about keys before "Authorize": one key, two ways to send
/// it, and either way works on every operation.
const ONE_KEY: &str = "One API key serves both schemes and both variants: send it in the \
`apiKey` header or as `Authorization: Bearer <key>` (in Swagger UI, paste it into either box). \
A key belongs to one tenant and holds one or more of the scopes `read`, `write` and \
`access_log`.";

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "apiKey".to_owned(),
                format!(
                    "`apiKey: <key>`, the passkey server's header; the admin variant takes it \
                     too. {ONE_KEY}"
                ),
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(format!(
                        "`Authorization: Bearer <key>`, the admin API's header; the \
                         passkey-server variant takes it too. {ONE_KEY}"
                    )))
                    .build(),
            ),
        );
        // Relative, so that the served document equals the committed one and
        // "Try it out" works wherever the service runs.
        openapi.servers = Some(vec![Server::new("/")]);
        if let Some(description) = &mut openapi.info.description {
            for paragraph in [ONE_KEY, EMPTY_VALUES] {
                description.push_str("\n\n");
                description.push_str(paragraph);
            }
        }
    }
}

/// How the service reads empty query values, said once for every parameter.
const EMPTY_VALUES: &str = "An empty query value (`q=`, `actor_email=`) counts as absent.";

/// The largest value of each bounded query parameter, as the filter enforces it.
const PARAMETER_MAXIMA: [(&str, u64); 2] = [("page", MAX_PAGE), ("per_page", MAX_PER_PAGE)];

/// The values of each query parameter that takes one of a few names.
const PARAMETER_VALUES: [(&str, &[&str]); 1] = [("format", &ExportFormat::NAMES)];

/// Completes the document once the routers have added their paths: the bounds of the
/// query parameters ([`PARAMETER_MAXIMA`]) and the values of the named ones
/// ([`PARAMETER_VALUES`]), the default tenant as the example of `tenant_id`, and the
/// error examples that every operation shares ([`errors::fill_in`]).
///
/// Empty query values count as absent, which OpenAPI would say with `allowEmptyValue`
/// on every parameter; the document says it once in its description instead: the
/// field is deprecated in OpenAPI 3.1, and Swagger UI turns it into a "Send empty
/// value" checkbox on every parameter.
pub(crate) fn finish(openapi: &mut openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let read = if path.ends_with("/access_logs") {
            Scope::AccessLog
        } else {
            Scope::Read
        };
        for (operation, scope) in [(&mut item.get, read), (&mut item.post, Scope::Write)] {
            let Some(operation) = operation else {
                continue;
            };
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Path && parameter.name == "tenant_id" {
                    *parameter = ParameterBuilder::from(parameter.clone())
                        .example(Some(json!(DEFAULT_TENANT_ID)))
                        .build();
                }
                if parameter.parameter_in != ParameterIn::Query {
                    continue;
                }
                let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema else {
                    continue;
                };
                if let Some((_, maximum)) = PARAMETER_MAXIMA
                    .iter()
                    .find(|(name, _)| *name == parameter.name)
                {
                    schema.maximum = usize::try_from(*maximum).ok().map(Number::UInt);
                }
                if let Some((_, values)) = PARAMETER_VALUES
                    .iter()
                    .find(|(name, _)| *name == parameter.name)
                {
                    schema.enum_values = Some(values.iter().map(|&v| v.into()).collect());
                }
            }
            errors::fill_in(operation, scope);
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
        (name = "access log", description = "Who read each tenant's log: every list, entry, export, proof and checkpoint read, with its key, parameters and count; read with the `access_log` scope"),
        (name = "transparency log", description = "The key that signs every tenant's checkpoints"),
        (name = "service", description = "Health and readiness"),
    ),
)]
#[derive(Debug)]
pub(crate) struct ApiDoc;

#[cfg(test)]
mod tests;
