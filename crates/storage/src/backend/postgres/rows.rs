//! Entries' rows as PostgreSQL takes many at once: as one array a column for an
//! `INSERT ... SELECT FROM UNNEST` ([`arrays`], [`INSERT_ARRAYS`]), and as tuples of
//! a binary `COPY` ([`copy_tuples`]). Both follow [`entry::columns`]: the column list,
//! each column's type and whether it may be NULL come from the entity.

use std::sync::LazyLock;

use auditlog_domain::StoreError;
use sea_orm::{
    ColumnTrait, Value,
    sea_query::{ArrayType, ColumnType},
};

use crate::schema::entry;

/// How a column travels in an array: its PostgreSQL type and the array's element type.
/// `None` for a type that no column of the entries has (a unit test keeps it so).
fn array_type(column: entry::Column) -> Option<(&'static str, ArrayType)> {
    match column.def().get_column_type() {
        ColumnType::Uuid => Some(("uuid", ArrayType::Uuid)),
        ColumnType::String(_) | ColumnType::Text => Some(("text", ArrayType::String)),
        ColumnType::Binary(_) | ColumnType::VarBinary(_) | ColumnType::Blob => {
            Some(("bytea", ArrayType::Bytes))
        }
        ColumnType::BigInteger => Some(("int8", ArrayType::BigInt)),
        _ => None,
    }
}

/// Whether a column may hold NULL.
fn nullable(column: entry::Column) -> bool {
    column.def().is_null()
}

/// `INSERT INTO audit_logs` of the rows of [`arrays`], `$1` to `$n`, one a column.
/// Arrays cannot carry NULL here: a NULL text travels as `""` and `NULLIF` turns it
/// back. Validation turns an empty optional field into an absent one, and details are
/// never empty JSON, so `""` stands for nothing else.
pub(super) static INSERT_ARRAYS: LazyLock<String> = LazyLock::new(|| {
    let (mut selected, mut arrays, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (i, column) in entry::columns().enumerate() {
        let name = format!("c{i}");
        let sql_type = array_type(column).map_or("unknown", |(sql_type, _)| sql_type);
        selected.push(if nullable(column) {
            format!("NULLIF({name}, '')")
        } else {
            name.clone()
        });
        arrays.push(format!("${}::{sql_type}[]", i + 1));
        names.push(name);
    }
    format!(
        "INSERT INTO audit_logs ({}) SELECT {} FROM UNNEST({}) AS x ({})",
        *entry::COLUMN_LIST,
        selected.join(", "),
        arrays.join(", "),
        names.join(", ")
    )
});

/// The rows as the arrays of [`INSERT_ARRAYS`].
pub(super) fn arrays(rows: &[entry::Model]) -> Vec<Value> {
    let mut columns: Vec<Vec<Value>> = entry::columns()
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    for row in rows {
        for (column, value) in columns.iter_mut().zip(entry::values(row)) {
            column.push(match value {
                Value::String(None) => Value::String(Some(String::new())),
                value => value,
            });
        }
    }
    entry::columns()
        .zip(columns)
        .map(|(column, values)| {
            let element = array_type(column).map_or(ArrayType::String, |(_, element)| element);
            Value::Array(element, Some(Box::new(values)))
        })
        .collect()
}

/// The statement that reads [`copy_tuples`]' output. `FREEZE`: the rows are written as
/// already visible to everyone (the table was emptied in the same transaction), so
/// nothing needs to visit them again after the load.
pub(super) static COPY_ENTRIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "COPY audit_logs ({}) FROM STDIN (FORMAT binary, FREEZE)",
        *entry::COLUMN_LIST
    )
});

/// The start of a `COPY` stream in binary format: the signature, the flags (no OIDs)
/// and the length of the header extension (none)
/// (<https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>).
pub(super) fn copy_header() -> Vec<u8> {
    let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out
}

/// The end of a `COPY` stream in binary format.
pub(super) const COPY_TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// `rows` as tuples of a `COPY` stream in binary format (which may be sent in pieces
/// of any size between [`copy_header`] and [`COPY_TRAILER`]): each value as its length
/// and its binary representation, with no parsing on the server's side.
pub(super) fn copy_tuples(rows: &[entry::Model]) -> Result<Vec<u8>, StoreError> {
    let fields = i16::try_from(*entry::COLUMN_COUNT).unwrap_or(i16::MAX);
    let mut out = Vec::with_capacity(rows.len() * 512);
    for row in rows {
        out.extend_from_slice(&fields.to_be_bytes());
        for value in entry::values(row) {
            copy_field(&mut out, &value)?;
        }
    }
    Ok(out)
}

/// One field: its length in bytes (-1 for NULL), then the bytes. uuid is its 16 bytes,
/// text its UTF-8, bytea the bytes themselves and int8 8 bytes in network order.
fn copy_field(out: &mut Vec<u8>, value: &Value) -> Result<(), StoreError> {
    let int8;
    let bytes: Option<&[u8]> = match value {
        Value::Uuid(uuid) => uuid.as_ref().map(|uuid| uuid.as_bytes().as_slice()),
        Value::String(text) => text.as_deref().map(str::as_bytes),
        Value::Bytes(bytes) => bytes.as_deref(),
        Value::BigInt(number) => match number {
            Some(number) => {
                int8 = number.to_be_bytes();
                Some(&int8)
            }
            None => None,
        },
        _ => {
            return Err(StoreError::Backend(
                "a column of the entries has a type that COPY is not taught".to_owned(),
            ));
        }
    };
    match bytes {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(bytes) => {
            // Validation caps every field far below 2 GiB.
            let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::schema::entry::tests::row;

    #[test]
    fn every_column_travels_in_an_array_and_only_texts_may_be_null() {
        for column in entry::columns() {
            let (sql_type, _) = array_type(column).unwrap_or(("none", ArrayType::Bool));
            assert_ne!(sql_type, "none", "{column:?} has no array type");
            assert!(!nullable(column) || sql_type == "text", "{column:?}");
        }
        let n = *entry::COLUMN_COUNT;
        assert!(
            INSERT_ARRAYS.contains(&format!("${n}::int8[]")),
            "{}",
            *INSERT_ARRAYS
        );
        assert!(
            INSERT_ARRAYS.contains("NULLIF(c3, '')"),
            "{}",
            *INSERT_ARRAYS
        );
        let arrays = arrays(&[row(false), row(true)]);
        assert_eq!(arrays.len(), n);
        assert_eq!(
            arrays[3],
            Value::Array(
                ArrayType::String,
                Some(Box::new(vec![
                    Value::String(Some(String::new())),
                    Value::String(Some("bad".into()))
                ]))
            )
        );
    }

    #[test]
    fn copy_encodes_header_lengths_nulls_and_trailer() {
        let mut out = copy_header();
        out.extend(copy_tuples(&[row(false)]).expect("encodable"));
        out.extend(COPY_TRAILER);
        assert_eq!(&out[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&out[11..19], &[0; 8]);
        assert_eq!(&out[19..21], &15i16.to_be_bytes());
        // The tenant: length 16, then its bytes.
        assert_eq!(&out[21..25], &16i32.to_be_bytes());
        assert_eq!(&out[25..41], Uuid::from_u128(1).as_bytes());
        assert!(out.ends_with(&[
            0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff
        ]));
        // Fifteen lengths; the six NULLs (error, the two users, the two e-mail
        // addresses, details) carry no bytes.
        let fields: usize = 16 + 16 + 13 + 1 + 8 + 16 + 2 + 8 + 8;
        assert_eq!(out.len(), 11 + 8 + 2 + 15 * 4 + fields + 2);
    }
}
