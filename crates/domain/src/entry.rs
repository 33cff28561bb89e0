//! An audit log entry as stored ([`AuditLog`]) and as a producer submits it
//! ([`NewAuditLog`]), with the field limits every producer is held to.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{AuditLogType, EntryError, ip, text::excerpt};

/// The limits on submitted fields.
pub mod limits {
    /// Most characters in `meta_http_request_id` and `actor_user_id`.
    pub const ID_CHARS: usize = 255;
    /// Most characters in `actor_email`.
    pub const EMAIL_CHARS: usize = 320;
    /// Most characters in `meta_user_agent`.
    pub const USER_AGENT_CHARS: usize = 1024;
    /// Most characters in `error`.
    pub const ERROR_CHARS: usize = 4096;
    /// Most bytes of `details`, serialised as JSON.
    pub const DETAILS_BYTES: usize = 64 * 1024;
    /// The largest magnitude of an integer in `details`: 2^53 - 1. Beyond it an
    /// integer has no exact IEEE 754 double, and RFC 8785, the canonical JSON of an
    /// entry's leaf in its tenant's log, writes every number as a double.
    pub const MAX_EXACT_INTEGER: i64 = (1 << 53) - 1;
    /// How far in the future `created_at` may lie.
    pub const MAX_FUTURE: time::Duration = time::Duration::minutes(5);
    /// Most entries in one batch.
    pub const MAX_BATCH: usize = 1000;
}

/// The member of `details` that marks an erased entry: `{"auditlog_erasure":
/// {"erased_at": "<RFC 3339>", "removal_id": "<uuid>"}}` stands in for the details of
/// an entry whose personal data was erased (its user id, e-mail address, user agent and
/// error gone, its source address `0.0.0.0`). Submitted details may not use it.
pub const ERASURE_MARKER: &str = "auditlog_erasure";

/// One recorded security event, as stored and as both APIs answer with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuditLog))]
pub struct AuditLog {
    /// The id of the entry.
    pub id: Uuid,
    /// The tenant the entry belongs to.
    pub tenant_id: Uuid,
    /// The type of the event.
    #[serde(rename = "type")]
    pub r#type: AuditLogType,
    /// Why something failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The id of the HTTP request that caused the event.
    pub meta_http_request_id: String,
    /// The address the request came from, in canonical form.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "172.27.0.1"))]
    pub meta_source_ip: IpAddr,
    /// The user agent of the request.
    pub meta_user_agent: String,
    /// The user who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// The e-mail address of the user who acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_email: Option<String>,
    /// Free-form context: login method, credential id, ... An entry whose personal
    /// data was erased has `{"auditlog_erasure": {"erased_at": "<RFC 3339>",
    /// "removal_id": "<uuid>"}}` here (and no user id, e-mail address or error, an
    /// empty user agent, source address `0.0.0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<Map<String, Value>>,
    /// When it happened: RFC 3339, UTC, microseconds.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-09-14T12:15:09.788784Z"))]
    pub created_at: OffsetDateTime,
    /// When it was stored (or, for an erased entry, erased): RFC 3339, UTC,
    /// microseconds.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2022-09-14T12:15:09.790001Z"))]
    pub updated_at: OffsetDateTime,
}

/// An entry as a producer submits it. `id` makes the submission idempotent; the store
/// sets `tenant_id` and `updated_at`, and `created_at` when it is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditLog {
    /// The idempotency key; assigned by the store when absent.
    pub id: Option<Uuid>,
    /// The type of the event.
    pub r#type: AuditLogType,
    /// Why something failed.
    pub error: Option<String>,
    /// The id of the HTTP request that caused the event.
    pub meta_http_request_id: String,
    /// The address the request came from.
    pub meta_source_ip: IpAddr,
    /// The user agent of the request.
    pub meta_user_agent: String,
    /// The user who acted.
    pub actor_user_id: Option<String>,
    /// The e-mail address of the user who acted.
    pub actor_email: Option<String>,
    /// Free-form context.
    pub details: Option<Map<String, Value>>,
    /// When it happened; the time of receipt when absent.
    pub created_at: Option<OffsetDateTime>,
}

impl NewAuditLog {
    /// An entry of `type` with the request's meta and nothing else.
    pub fn new(
        r#type: AuditLogType,
        meta_http_request_id: impl Into<String>,
        meta_source_ip: IpAddr,
        meta_user_agent: impl Into<String>,
    ) -> Self {
        Self {
            id: None,
            r#type,
            error: None,
            meta_http_request_id: meta_http_request_id.into(),
            meta_source_ip,
            meta_user_agent: meta_user_agent.into(),
            actor_user_id: None,
            actor_email: None,
            details: None,
            created_at: None,
        }
    }

    /// Checks every field limit against the clock reading `now`, and brings the entry to
    /// canonical form: the address canonical, `created_at` in UTC and cut to microseconds.
    pub fn validate(mut self, now: OffsetDateTime) -> Result<Self, EntryError> {
        check_text(
            "meta_http_request_id",
            &self.meta_http_request_id,
            limits::ID_CHARS,
        )?;
        check_text(
            "meta_user_agent",
            &self.meta_user_agent,
            limits::USER_AGENT_CHARS,
        )?;
        if let Some(error) = &self.error {
            check_text("error", error, limits::ERROR_CHARS)?;
        }
        if let Some(user) = &self.actor_user_id {
            check_text("actor_user_id", user, limits::ID_CHARS)?;
        }
        if let Some(email) = &self.actor_email {
            check_text("actor_email", email, limits::EMAIL_CHARS)?;
        }
        if let Some(details) = &self.details {
            let rendered = serde_json::to_string(details).unwrap_or_default();
            if rendered.len() > limits::DETAILS_BYTES {
                return Err(EntryError::new(
                    "details",
                    format!("of {} bytes", rendered.len()),
                    format!("must be at most {} bytes serialised", limits::DETAILS_BYTES),
                ));
            }
            if details.contains_key(ERASURE_MARKER) {
                return Err(EntryError::new(
                    "details",
                    ERASURE_MARKER,
                    format!(
                        "must not have the member {ERASURE_MARKER:?}: it marks an entry whose \
                         personal data was erased"
                    ),
                ));
            }
            // A NUL in a string or a name; the six characters `\u0000` as text are not one.
            if holds_nul(details) {
                return Err(EntryError::new(
                    "details",
                    excerpt(&rendered),
                    "must not contain a NUL character",
                ));
            }
            if let Some((pointer, number)) = crate::log::leaf::first_inexact_integer(details) {
                return Err(EntryError::new(
                    "details",
                    number.to_string(),
                    format!(
                        "holds at {pointer} an integer beyond ±{}, which canonical JSON \
                         (RFC 8785) cannot represent exactly; send it as a string",
                        limits::MAX_EXACT_INTEGER
                    ),
                ));
            }
        }
        self.meta_source_ip = ip::canonical(self.meta_source_ip);
        if let Some(at) = self.created_at {
            let at = truncate_to_micros(at.to_offset(time::UtcOffset::UTC));
            if at > now + limits::MAX_FUTURE {
                return Err(EntryError::new(
                    "created_at",
                    format!("\"{}\"", timestamp::format(at)),
                    "must not lie more than 5 minutes in the future",
                ));
            }
            self.created_at = Some(at);
        }
        // Empty optional strings mean "absent", as they do in the query parameters.
        for field in [
            &mut self.error,
            &mut self.actor_user_id,
            &mut self.actor_email,
        ] {
            if field.as_deref() == Some("") {
                *field = None;
            }
        }
        // And so does an empty object of details: the entry is answered without it.
        if self.details.as_ref().is_some_and(Map::is_empty) {
            self.details = None;
        }
        Ok(self)
    }

    /// Whether `stored` holds exactly the content of this submission: every field,
    /// optional ones included, must equal the stored one after canonicalisation, so an
    /// optional field left out of a resend but stored is a difference. Only a
    /// `created_at` that the store assigned (equal to `updated_at`) may be left out: a
    /// retry of a submission without one then matches, and a resend can never learn a
    /// time that another producer chose.
    pub fn same_content_as(&self, stored: &AuditLog) -> bool {
        self.r#type == stored.r#type
            && self.meta_http_request_id == stored.meta_http_request_id
            && ip::canonical(self.meta_source_ip) == stored.meta_source_ip
            && self.meta_user_agent == stored.meta_user_agent
            && self.error == stored.error
            && self.actor_user_id == stored.actor_user_id
            && self.actor_email == stored.actor_email
            && self.details == stored.details
            && match self.created_at {
                Some(at) => truncate_to_micros(at) == stored.created_at,
                None => stored.created_at == stored.updated_at,
            }
    }

    /// Turns the submission into the entry to store, in `tenant_id`, received at `now`.
    /// Call [`NewAuditLog::validate`] first.
    pub fn into_entry(self, tenant_id: Uuid, now: OffsetDateTime) -> AuditLog {
        let now = truncate_to_micros(now.to_offset(time::UtcOffset::UTC));
        AuditLog {
            id: self.id.unwrap_or_else(Uuid::now_v7),
            tenant_id,
            r#type: self.r#type,
            error: self.error,
            meta_http_request_id: self.meta_http_request_id,
            meta_source_ip: ip::canonical(self.meta_source_ip),
            meta_user_agent: self.meta_user_agent,
            actor_user_id: self.actor_user_id,
            actor_email: self.actor_email,
            details: self.details,
            created_at: self.created_at.unwrap_or(now),
            updated_at: now,
        }
    }

    /// Reads a submission from a JSON object, naming the field and value of whatever is
    /// wrong. `tenant_id` (when it equals `tenant_id`) and `updated_at` are accepted and
    /// ignored, so an entry read from the API can be sent back; any other unknown field
    /// is refused.
    pub fn from_json(value: &Value, tenant_id: Uuid) -> Result<Self, EntryError> {
        let Value::Object(object) = value else {
            return Err(EntryError::new(
                "entry",
                excerpt(&value.to_string()),
                "must be a JSON object",
            ));
        };
        Self::from_object(object.clone(), tenant_id)
    }

    /// What [`NewAuditLog::from_json`] does, for an object already taken apart: its
    /// `details` is moved into the submission, not copied.
    pub fn from_object(
        mut object: Map<String, Value>,
        tenant_id: Uuid,
    ) -> Result<Self, EntryError> {
        for (key, value) in &object {
            match key.as_str() {
                "id"
                | "type"
                | "error"
                | "meta_http_request_id"
                | "meta_source_ip"
                | "meta_user_agent"
                | "actor_user_id"
                | "actor_email"
                | "details"
                | "created_at"
                | "updated_at" => {}
                "tenant_id" => {
                    if value.as_str().and_then(|s| s.parse::<Uuid>().ok()) != Some(tenant_id) {
                        return Err(EntryError::new(
                            "tenant_id",
                            excerpt(&value.to_string()),
                            "is set by the server; leave it out or send the tenant of the request",
                        ));
                    }
                }
                other => {
                    return Err(EntryError::new(
                        other,
                        excerpt(&value.to_string()),
                        "is not a field of an entry",
                    ));
                }
            }
        }
        let details = object.remove("details");
        let fields = Fields(&object);
        let id = fields
            .optional_str("id")?
            .map(|s| {
                s.parse::<Uuid>()
                    .map_err(|_| fields.invalid("id", "must be a UUID"))
            })
            .transpose()?;
        let r#type = fields
            .required_str("type")?
            .parse::<AuditLogType>()
            .map_err(|_| {
                fields.invalid(
                    "type",
                    "must be one of the known types (see the AuditLogType enum)",
                )
            })?;
        let meta_source_ip = fields
            .required_str("meta_source_ip")?
            .parse::<IpAddr>()
            .map_err(|_| fields.invalid("meta_source_ip", "must be an IPv4 or IPv6 address"))?;
        let details = match details {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                return Err(EntryError::new(
                    "details",
                    excerpt(&other.to_string()),
                    "must be a JSON object",
                ));
            }
        };
        let created_at = fields
            .optional_str("created_at")?
            .map(|s| {
                timestamp::parse(s).ok_or_else(|| {
                    fields.invalid(
                        "created_at",
                        "must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z",
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            id,
            r#type,
            error: fields.optional_str("error")?.map(str::to_owned),
            meta_http_request_id: fields.required_str("meta_http_request_id")?.to_owned(),
            meta_source_ip,
            meta_user_agent: fields.required_str("meta_user_agent")?.to_owned(),
            actor_user_id: fields.optional_str("actor_user_id")?.map(str::to_owned),
            actor_email: fields.optional_str("actor_email")?.map(str::to_owned),
            details,
            created_at,
        })
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn invalid(&self, field: &str, reason: &str) -> EntryError {
        let value = self
            .0
            .get(field)
            .map(|v| excerpt(&v.to_string()))
            .unwrap_or_default();
        EntryError::new(field, value, reason)
    }

    fn optional_str(&self, field: &str) -> Result<Option<&'a str>, EntryError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(field, "must be a string")),
        }
    }

    fn required_str(&self, field: &str) -> Result<&'a str, EntryError> {
        self.optional_str(field)?
            .ok_or_else(|| EntryError::new(field, "null", "is required"))
    }
}

/// Whether a string or a member name anywhere in `details` holds a NUL character.
fn holds_nul(details: &serde_json::Map<String, Value>) -> bool {
    // An explicit stack: `details` built in code may nest deeper than the call stack.
    let mut pending: Vec<&Value> = Vec::new();
    let mut names = details.keys().any(|name| name.contains('\0'));
    pending.extend(details.values());
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if text.contains('\0') => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => {
                names = names || members.keys().any(|name| name.contains('\0'));
                pending.extend(members.values());
            }
            _ => {}
        }
    }
    names
}

fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), EntryError> {
    if value.contains('\0') {
        return Err(EntryError::new(
            field,
            format!("{:?}", excerpt(value)),
            "must not contain a NUL character",
        ));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(EntryError::new(
            field,
            format!("{:?}", excerpt(value)),
            format!("must be at most {max_chars} characters, not {chars}"),
        ));
    }
    Ok(())
}

/// Cuts a time to whole microseconds, the precision every backend keeps.
pub fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let nanos = at.nanosecond();
    at - Duration::nanoseconds(i64::from(nanos % 1_000))
}

/// RFC 3339 timestamps in UTC with exactly six fractional digits.
pub mod timestamp {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::{
        OffsetDateTime, UtcOffset, format_description::BorrowedFormatItem,
        format_description::well_known::Rfc3339, macros::format_description,
    };

    const FORMAT: &[BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

    /// Formats as `2022-09-14T12:15:09.788784Z`.
    pub fn format(at: OffsetDateTime) -> String {
        at.to_offset(UtcOffset::UTC)
            .format(FORMAT)
            .unwrap_or_else(|_| at.unix_timestamp().to_string())
    }

    /// Parses any RFC 3339 date-time, in any offset, that lies in the years 0000 to
    /// 9999 once in UTC (the times that [`format`] can write back as RFC 3339), and
    /// returns it in UTC.
    pub fn parse(s: &str) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .and_then(|at| at.checked_to_offset(UtcOffset::UTC))
            .filter(|at| (0..=9999).contains(&at.year()))
    }

    /// Microseconds since the Unix epoch: the precision of every time auditlog keeps
    /// ([`super::truncate_to_micros`]), and the position a cursor holds.
    pub fn to_micros(at: OffsetDateTime) -> i64 {
        (at.unix_timestamp_nanos() / 1_000) as i64
    }

    /// The inverse of [`to_micros`]; `None` outside the years that `time` represents.
    pub fn from_micros(micros: i64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
    }

    /// serde: serialise as [`format`].
    pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*at))
    }

    /// serde: deserialise any RFC 3339 date-time.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not an RFC 3339 date-time")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tenant() -> Uuid {
        crate::DEFAULT_TENANT_ID
    }

    fn minimal() -> Value {
        json!({"type": "login_success", "meta_http_request_id": "r1",
               "meta_source_ip": "::ffff:10.0.0.1", "meta_user_agent": "curl"})
    }

    #[test]
    fn reads_a_minimal_entry_and_canonicalises_it() {
        let now = OffsetDateTime::now_utc();
        let entry = NewAuditLog::from_json(&minimal(), tenant())
            .expect("valid")
            .validate(now)
            .expect("valid");
        assert_eq!(entry.meta_source_ip.to_string(), "10.0.0.1");
        let stored = entry.clone().into_entry(tenant(), now);
        assert!(entry.same_content_as(&stored));
        assert_eq!(stored.created_at.nanosecond() % 1000, 0);
    }

    #[test]
    fn a_nul_in_details_is_refused_but_the_text_backslash_u0000_is_not() {
        let validated = |details: Value| {
            let mut v = minimal();
            v["details"] = details;
            NewAuditLog::from_json(&v, tenant())
                .and_then(|entry| entry.validate(OffsetDateTime::now_utc()))
        };
        // The six characters `\u0000`, as a value and as a name, deep down too.
        let literal = r"\u0000";
        let accepted =
            validated(json!({"note": literal, literal: [literal], "a": {"b": [literal]}}))
                .expect("the text \\u0000 is no NUL");
        let stored = accepted.details.expect("details");
        assert_eq!(stored["note"], json!(literal));
        for nul in [
            json!({"note": "a\u{0}b"}),
            json!({"a\u{0}": 1}),
            json!({"a": [{"b": ["\u{0}"]}]}),
            json!({"a": {"b\u{0}": true}}),
        ] {
            let err = validated(nul.clone()).expect_err("a NUL is refused");
            assert_eq!(err.field, "details", "{nul}");
            assert!(err.reason.contains("NUL"), "{nul}: {err:?}");
        }
    }

    #[test]
    fn names_the_wrong_field_and_value() {
        let mut v = minimal();
        v["meta_source_ip"] = json!("10.0.0.300");
        let err = NewAuditLog::from_json(&v, tenant()).expect_err("invalid ip");
        assert_eq!(err.field, "meta_source_ip");
        assert_eq!(err.value, "\"10.0.0.300\"");
        let mut v = minimal();
        v["type"] = json!("login_sucess");
        assert_eq!(
            NewAuditLog::from_json(&v, tenant())
                .expect_err("bad type")
                .field,
            "type"
        );
        let mut v = minimal();
        v["color"] = json!("red");
        assert_eq!(
            NewAuditLog::from_json(&v, tenant())
                .expect_err("unknown")
                .field,
            "color"
        );
        let mut v = minimal();
        v.as_object_mut().expect("object").remove("meta_user_agent");
        assert_eq!(
            NewAuditLog::from_json(&v, tenant())
                .expect_err("missing")
                .field,
            "meta_user_agent"
        );
    }

    #[test]
    fn enforces_limits() {
        let now = OffsetDateTime::now_utc();
        let mut v = minimal();
        v["actor_email"] = json!("a".repeat(321));
        let e = NewAuditLog::from_json(&v, tenant()).expect("parses");
        assert_eq!(e.validate(now).expect_err("too long").field, "actor_email");
        let mut v = minimal();
        v["error"] = json!("bad\u{0}byte");
        let e = NewAuditLog::from_json(&v, tenant()).expect("parses");
        assert_eq!(e.validate(now).expect_err("nul").field, "error");
        let mut v = minimal();
        v["created_at"] = json!(timestamp::format(now + Duration::minutes(6)));
        let e = NewAuditLog::from_json(&v, tenant()).expect("parses");
        assert_eq!(e.validate(now).expect_err("future").field, "created_at");
    }

    #[test]
    fn refuses_integers_in_details_that_canonical_json_would_round() {
        let now = OffsetDateTime::now_utc();
        let with_details = |details: Value| {
            let mut v = minimal();
            v["details"] = details;
            NewAuditLog::from_json(&v, tenant())
                .expect("parses")
                .validate(now)
        };
        let max = limits::MAX_EXACT_INTEGER;
        for fine in [
            json!({"n": max, "m": -max, "f": 1.5e300, "g": 9007199254740992.0}),
            json!({"a": [0, -1, {"b": 42}]}),
        ] {
            with_details(fine).expect("exact numbers are accepted");
        }
        for (details, pointer) in [
            (json!({"n": max + 1}), "/n"),
            (json!({"n": -max - 1}), "/n"),
            (json!({"a": [1, {"x/y": u64::MAX}]}), "/a/1/x~1y"),
            (
                json!({"ok": 1, "deep": {"id": 12345678901234567_i64}}),
                "/deep/id",
            ),
        ] {
            let err = with_details(details).expect_err("inexact integer");
            assert_eq!(err.field, "details");
            assert!(err.reason.contains(pointer), "{pointer} in {}", err.reason);
        }
    }

    #[test]
    fn timestamps_have_six_digits() {
        let at = timestamp::parse("2022-09-14T14:15:09.7887841+02:00").expect("rfc3339");
        assert_eq!(
            timestamp::format(truncate_to_micros(at)),
            "2022-09-14T12:15:09.788784Z"
        );
        let micros = timestamp::to_micros(truncate_to_micros(at));
        assert_eq!(timestamp::from_micros(micros), Some(truncate_to_micros(at)));
    }
}
