//! The search terms of rows: each distinct address, folded user id and folded e-mail
//! address.

use std::collections::BTreeMap;

use crate::schema::entry;

/// The address field.
pub(crate) const IP: i16 = 0;
/// The folded user id field.
pub(crate) const USER: i16 = 1;
/// The folded e-mail field.
pub(crate) const EMAIL: i16 = 2;

/// A search term of some rows: its field, its value and (addresses only) the
/// address's sort key, empty otherwise.
pub(crate) type RowTerm = (i16, String, Vec<u8>);

/// The distinct search terms of `rows`, in field and byte order.
pub(crate) fn of_rows<'a>(rows: impl IntoIterator<Item = &'a entry::Model>) -> Vec<RowTerm> {
    let mut terms: BTreeMap<(i16, &str), &[u8]> = BTreeMap::new();
    for row in rows {
        terms.insert((IP, &row.meta_source_ip), &row.ip_key);
        if let Some(user) = &row.actor_user_id_ci {
            terms.insert((USER, user), &[]);
        }
        if let Some(email) = &row.actor_email_ci {
            terms.insert((EMAIL, email), &[]);
        }
    }
    terms
        .into_iter()
        .map(|((field, value), key)| (field, value.to_owned(), key.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn row_terms_are_distinct_in_field_and_byte_order() {
        let row = |ip: &str, key: u8, user: Option<&str>, email: Option<&str>| entry::Model {
            id: Uuid::new_v4(),
            meta_source_ip: ip.into(),
            ip_key: vec![key; 16],
            actor_user_id: user.map(str::to_uppercase),
            actor_user_id_ci: user.map(str::to_owned),
            actor_email: None,
            actor_email_ci: email.map(str::to_owned),
            ..entry::tests::row(false)
        };
        let rows = [
            row("10.0.0.2", 2, Some("bob"), None),
            row("10.0.0.1", 1, Some("Zed"), Some("a@x")),
            row("10.0.0.2", 2, Some("bob"), Some("a@x")),
        ];
        assert_eq!(
            of_rows(&rows),
            vec![
                (IP, "10.0.0.1".to_owned(), vec![1; 16]),
                (IP, "10.0.0.2".to_owned(), vec![2; 16]),
                (USER, "Zed".to_owned(), Vec::new()),
                (USER, "bob".to_owned(), Vec::new()),
                (EMAIL, "a@x".to_owned(), Vec::new()),
            ]
        );
    }
}
