//! The formats of verifiable exports, shared by `GET .../export` and `auditlog export`:
//! NDJSON (each entry as the API serves it, one a line, in log order, and for a whole
//! log a last line `{"checkpoint": "<signed note>"}`, after a line
//! `{"removal": "<signed note>"}` a removal, and a line `{"removed_leaf": ...}` in place
//! of each entry removed on purpose) and CSV (a header, then a row an
//! entry with its leaf index).

use std::str::FromStr;

use auditlog_domain::{
    AuditLog,
    log::{Hash, LEAF_MEMBERS},
};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON entry a line.
    Ndjson,
    /// Comma-separated values (RFC 4180) with a header row.
    Csv,
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown export format {:?}: use {}",
                    auditlog_domain::text::excerpt(s),
                    Self::NAMES.join(" or ")
                )
            })
    }
}

impl ExportFormat {
    /// Every format.
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Ndjson, ExportFormat::Csv];

    /// The name of every format, as `format` takes it.
    pub const NAMES: [&str; 2] = [ExportFormat::Ndjson.name(), ExportFormat::Csv.name()];

    /// The name of the format, as `format` takes it; also the file name extension.
    pub const fn name(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        }
    }

    /// The media type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// What comes before the entries.
    pub fn header(self) -> Vec<u8> {
        match self {
            ExportFormat::Ndjson => Vec::new(),
            ExportFormat::Csv => {
                let mut names = vec!["leaf_index"];
                names.extend(LEAF_MEMBERS);
                csv_row(&names)
            }
        }
    }

    /// One entry, the leaf at `leaf_index`.
    pub fn entry(self, leaf_index: u64, entry: &AuditLog) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            ExportFormat::Ndjson => {
                let mut line = serde_json::to_vec(entry)?;
                line.push(b'\n');
                Ok(line)
            }
            ExportFormat::Csv => {
                let value = serde_json::to_value(entry)?;
                let mut cells = vec![leaf_index.to_string()];
                for member in LEAF_MEMBERS {
                    cells.push(match value.get(member) {
                        None | Some(serde_json::Value::Null) => String::new(),
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    });
                }
                Ok(csv_row(&cells))
            }
        }
    }

    /// A leaf whose entry was removed on purpose, in a whole export: for NDJSON the
    /// line `{"removed_leaf": {"leaf_index": N, "leaf_hash": "<base64>"}}`, so that the
    /// tree can still be rebuilt; CSV, a table of entries, leaves it out.
    pub fn removed(self, leaf_index: u64, leaf_hash: Hash) -> Vec<u8> {
        match self {
            ExportFormat::Ndjson => json_line(&serde_json::json!({
                "removed_leaf": { "leaf_index": leaf_index, "leaf_hash": leaf_hash.to_base64() }
            })),
            ExportFormat::Csv => Vec::new(),
        }
    }

    /// Before an erased entry, in a whole export: for NDJSON the line
    /// `{"erased_leaf": {"leaf_index": N, "leaf_hash": "<base64>"}}` with the leaf hash
    /// of the entry as it was written; CSV leaves it out.
    pub fn erased(self, leaf_index: u64, leaf_hash: Hash) -> Vec<u8> {
        match self {
            ExportFormat::Ndjson => json_line(&serde_json::json!({
                "erased_leaf": { "leaf_index": leaf_index, "leaf_hash": leaf_hash.to_base64() }
            })),
            ExportFormat::Csv => Vec::new(),
        }
    }

    /// A removal's signed note, in a whole NDJSON export: `{"removal": "<signed note>"}`,
    /// before the checkpoint line.
    pub fn removal(self, note: &str) -> Vec<u8> {
        match self {
            ExportFormat::Ndjson => json_line(&serde_json::json!({ "removal": note })),
            ExportFormat::Csv => Vec::new(),
        }
    }

    /// What ends the export: for NDJSON, the checkpoint that covers a whole log.
    pub fn trailer(self, checkpoint: Option<&str>) -> Vec<u8> {
        match (self, checkpoint) {
            (ExportFormat::Ndjson, Some(note)) => {
                json_line(&serde_json::json!({ "checkpoint": note }))
            }
            _ => Vec::new(),
        }
    }
}

/// `value` as one line of JSON.
fn json_line(value: &serde_json::Value) -> Vec<u8> {
    let mut line = value.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// One CSV row, quoted by the csv crate as RFC 4180 asks.
fn csv_row<T: AsRef<[u8]>>(cells: &[T]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(
            csv_row(&["a", "b,c", "d\"e"]),
            b"a,\"b,c\",\"d\"\"e\"\r\n".to_vec()
        );
        let header = String::from_utf8(ExportFormat::Csv.header()).expect("utf-8");
        assert!(
            header.starts_with("leaf_index,id,tenant_id,type,"),
            "{header}"
        );
    }

    #[test]
    fn formats_are_named_and_refused_by_name() {
        assert_eq!("csv".parse(), Ok(ExportFormat::Csv));
        for format in ExportFormat::ALL {
            assert_eq!(format.name().parse(), Ok(format));
        }
        let refused = "xml".parse::<ExportFormat>().expect_err("unknown");
        assert!(refused.contains("ndjson or csv"), "{refused}");
    }
}
