//! Entries in PostgreSQL's binary `COPY` format, for bulk loads: each value as its
//! length and its binary representation, with no parsing on the server's side
//! (<https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>).

use crate::{columns, entity::audit_log};

/// The statement that reads [`entries`]' output. `FREEZE`: the rows are written as
/// already visible to everyone (the table was emptied in the same transaction), so
/// nothing needs to visit them again after the load.
pub(crate) const COPY_ENTRIES: &str = concat!(
    "COPY audit_logs (",
    columns::entry_columns!(),
    ") FROM STDIN (FORMAT binary, FREEZE)"
);

/// Fields per row of [`COPY_ENTRIES`].
const FIELDS: i16 = columns::ENTRY_FIELDS as i16;

/// The start of a `COPY` stream in binary format: the signature, the flags (no OIDs)
/// and the length of the header extension (none).
pub(crate) fn header() -> Vec<u8> {
    let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out
}

/// The end of a `COPY` stream in binary format.
pub(crate) const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// `rows` as tuples of a `COPY` stream in binary format (which may be sent in pieces
/// of any size between [`header`] and [`TRAILER`]).
pub(crate) fn entries(rows: &[audit_log::Model]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 512);
    for r in rows {
        out.extend_from_slice(&FIELDS.to_be_bytes());
        field(&mut out, Some(r.tenant_id.as_bytes()));
        field(&mut out, Some(r.id.as_bytes()));
        field(&mut out, Some(r.r#type.as_bytes()));
        field(&mut out, r.error.as_deref().map(str::as_bytes));
        field(&mut out, Some(r.meta_http_request_id.as_bytes()));
        field(&mut out, Some(r.meta_source_ip.as_bytes()));
        field(&mut out, Some(&r.ip_key));
        field(&mut out, Some(r.meta_user_agent.as_bytes()));
        field(&mut out, r.actor_user_id.as_deref().map(str::as_bytes));
        field(&mut out, r.actor_user_id_ci.as_deref().map(str::as_bytes));
        field(&mut out, r.actor_email.as_deref().map(str::as_bytes));
        field(&mut out, r.actor_email_ci.as_deref().map(str::as_bytes));
        field(&mut out, r.details.as_deref().map(str::as_bytes));
        field(&mut out, Some(&r.created_at.to_be_bytes()));
        field(&mut out, Some(&r.updated_at.to_be_bytes()));
    }
    out
}

/// One field: its length in bytes (-1 for NULL), then the bytes. uuid is its 16 bytes,
/// text its UTF-8, bytea the bytes themselves and int8 8 bytes in network order.
fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(bytes) => {
            // Validation caps every field far below 2 GiB.
            let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn encodes_header_lengths_nulls_and_trailer() {
        let row = audit_log::Model {
            tenant_id: Uuid::from_u128(1),
            id: Uuid::from_u128(2),
            r#type: "login_success".into(),
            error: None,
            meta_http_request_id: "r".into(),
            meta_source_ip: "10.0.0.1".into(),
            ip_key: vec![7; 16],
            meta_user_agent: "ua".into(),
            actor_user_id: None,
            actor_user_id_ci: None,
            actor_email: None,
            actor_email_ci: None,
            details: None,
            created_at: 1,
            updated_at: -2,
        };
        let mut out = header();
        out.extend(entries(std::slice::from_ref(&row)));
        out.extend(TRAILER);
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
