//! Log lines on standard error: `key=value` text, coloured only on a terminal (and
//! never with `NO_COLOR`), or one JSON object a line in which every field keeps its
//! type, so that a list such as a request's `params` is a JSON array, not a string.

use std::{fmt, io::IsTerminal};

use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

use crate::settings::LogFormat;

/// Starts logging in `format`; `RUST_LOG` filters (`info` by default).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.event_format(JsonLines).init(),
        LogFormat::Text => builder.compact().with_ansi(colour()).init(),
    }
}

/// Colour only for a person at a terminal who has not asked for none
/// (<https://no-color.org>).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One JSON object a line: `timestamp`, `level`, the event's fields (its message as
/// `message`), `target`.
#[derive(Debug)]
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let metadata = event.metadata();
        let mut line = Line(vec![
            ("timestamp", Value::String(now)),
            ("level", Value::String(metadata.level().as_str().to_owned())),
        ]);
        event.record(&mut JsonFields(&mut line));
        line.0
            .push(("target", Value::String(metadata.target().to_owned())));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// A log line's members in the order they were written: time, level and message
/// first, where a reader looks.
struct Line(Vec<(&'static str, Value)>);

impl serde::Serialize for Line {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// Writes each field with its type. A value given by `Display` or `Debug` whose text
/// is a JSON array or object (as `params = %json!(names)` is) is written as that array
/// or object; any other is a string.
struct JsonFields<'a>(&'a mut Line);

impl JsonFields<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        self.0.0.push((field.name(), value));
    }
}

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.insert(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::String(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let parsed = (field.name() != "message" && text.starts_with(['[', '{']))
            .then(|| serde_json::from_str::<Value>(&text).ok())
            .flatten();
        let value = match parsed {
            Some(structured @ (Value::Array(_) | Value::Object(_))) => structured,
            _ => Value::String(text),
        };
        self.insert(field, value);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The lines that `JsonLines` writes for the events `emit` makes.
    fn lines(emit: impl FnOnce()) -> Vec<Value> {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let buffer = buffer.clone();
            move || Buffer(buffer.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or(Value::String(line.to_owned())))
            .collect()
    }

    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_keep_their_types_and_lists_are_arrays() {
        let params = serde_json::json!(["page", "per_page"]);
        let lines = lines(|| {
            tracing::info!(params = %params, status = 400_u16, latency_ms = 1.5, ok = false,
                path = "/admin/audit_logs", note = %"[not json", "request");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["params"], serde_json::json!(["page", "per_page"]));
        assert_eq!(line["status"], 400);
        assert_eq!(line["latency_ms"], 1.5);
        assert_eq!(line["ok"], false);
        assert_eq!(line["path"], "/admin/audit_logs");
        assert_eq!(line["note"], "[not json");
        assert_eq!(line["message"], "request");
        assert_eq!(line["level"], "INFO");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
