//! Text rules shared by every backend, so that all of them answer the same.

/// Folds ASCII letters to lower case and leaves every other character as it is: the
/// meaning of "case-insensitive" throughout auditlog, identical on every backend.
pub fn fold_case(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Shortens a value for an error message so that a huge input does not make a huge
/// answer; the cut is marked.
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_only_ascii() {
        assert_eq!(fold_case("AbC-ÄÖ@Example.COM"), "abc-ÄÖ@example.com");
    }
}
