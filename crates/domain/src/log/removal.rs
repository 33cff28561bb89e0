//! Removals: the signed record of entries taken out of a tenant's log on purpose
//! (retention), or of their personal data (erasure), so that a verifier tells either
//! from tampering.
//!
//! A removal names the leaves whose entries it removed, why, under which rule and when,
//! and is signed by the log key as a signed note under the tenant's origin, as
//! checkpoints are. The leaves themselves (their hashes) stay in the tree, so every
//! proof still verifies; only the entries' content is gone. Someone who can write to
//! the database but does not hold the signing key can neither make a removal nor
//! extend one to other leaves: the leaves are in the signed text.
//!
//! The note text, one value a line (never a checkpoint: its second line is no number):
//!
//! ```text
//! auditlog removal
//! <origin>
//! <removal id>
//! <removed at, RFC 3339, UTC>
//! <reason: retention or erasure>
//! <rule, for people (never personal data)>
//! <leaf ranges: 0-99,105,200-300>
//! erased <base64 leaf hash>,<base64 leaf hash>,...     (erasure only)
//! ```
//!
//! An erasure keeps its entries in place with their personal data removed; their leaf
//! hashes (in the tree) are those of the entries as written, and the last line gives,
//! for each leaf in order, the leaf hash of the entry as erased, so that a change after
//! the erasure still shows.

use std::{fmt, str::FromStr};

use signed_note::Note;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use super::{
    Hash, KeyError, LogKey, VerifierKey,
    key::{NoteCheck, SignNoteError},
};

/// The first line of every removal's text.
const HEADER: &str = "auditlog removal";

/// Why entries were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemovalReason {
    /// They were older than the tenant's retention.
    Retention,
    /// One person's personal data was erased from them.
    Erasure,
}

impl RemovalReason {
    /// The reason as the note and the database write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalReason::Retention => "retention",
            RemovalReason::Erasure => "erasure",
        }
    }
}

impl fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RemovalReason {
    type Err = RemovalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "retention" => Ok(RemovalReason::Retention),
            "erasure" => Ok(RemovalReason::Erasure),
            _ => Err(RemovalError::Malformed("unknown reason")),
        }
    }
}

/// Leaf indexes as ascending, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafRanges(Vec<(u64, u64)>);

impl LeafRanges {
    /// The ranges of `indexes`, in any order, repeats ignored.
    pub fn of(indexes: impl IntoIterator<Item = u64>) -> Self {
        let mut indexes: Vec<u64> = indexes.into_iter().collect();
        indexes.sort_unstable();
        indexes.dedup();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for index in indexes {
            match ranges.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(index) => *end = index,
                _ => ranges.push((index, index)),
            }
        }
        Self(ranges)
    }

    /// Every leaf of any of `sets`.
    pub fn union<'a>(sets: impl IntoIterator<Item = &'a LeafRanges>) -> Self {
        let mut all: Vec<(u64, u64)> = sets
            .into_iter()
            .flat_map(|set| set.0.iter().copied())
            .collect();
        all.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(all.len());
        for (start, end) in all {
            match merged.last_mut() {
                Some((_, last)) if start <= last.saturating_add(1) => *last = (*last).max(end),
                _ => merged.push((start, end)),
            }
        }
        Self(merged)
    }

    /// How many leaves.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|(start, end)| end - start + 1).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `index` is one of them.
    pub fn contains(&self, index: u64) -> bool {
        let at = self.0.partition_point(|(_, end)| *end < index);
        self.0.get(at).is_some_and(|(start, _)| *start <= index)
    }

    /// Every leaf index, ascending.
    pub fn indexes(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().flat_map(|&(start, end)| start..=end)
    }
}

impl fmt::Display for LeafRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (start, end)) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for LeafRanges {
    type Err = RemovalError;

    /// Only the form [`LeafRanges`] writes: ascending, disjoint, not adjacent.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RemovalError::Malformed("the leaf ranges are malformed");
        let number = |n: &str| {
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse::<u64>().ok())
                .flatten()
                .ok_or_else(bad)
        };
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for part in s.split(',') {
            let (start, end) = match part.split_once('-') {
                Some((start, end)) => (number(start)?, number(end)?),
                None => (number(part)?, number(part)?),
            };
            let follows = ranges
                .last()
                .is_none_or(|(_, last)| last.checked_add(1).is_some_and(|next| next < start));
            if start > end || !follows {
                return Err(bad());
            }
            ranges.push((start, end));
        }
        Ok(Self(ranges))
    }
}

/// Why a removal was not made or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemovalError {
    /// The origin cannot name a signed-note key.
    #[error("invalid origin: {0}")]
    InvalidOrigin(KeyError),
    /// The note or its text is not a removal.
    #[error("malformed removal: {0}")]
    Malformed(&'static str),
    /// The removal is of another log.
    #[error("the removal is of the log '{found}', not of '{expected}'")]
    WrongOrigin {
        /// The origin asked for.
        expected: String,
        /// The origin the removal carries.
        found: String,
    },
    /// No signature of the note is by the verifier key.
    #[error("the removal has no signature by the key {name}+{id:08x}")]
    NotSigned {
        /// The name the key was looked for under.
        name: String,
        /// Its key id.
        id: u32,
    },
    /// A signature by the verifier key does not verify: the note was altered or forged.
    #[error("the signature by the key {name}+{id:08x} does not verify")]
    BadSignature {
        /// The key's name.
        name: String,
        /// Its key id.
        id: u32,
    },
    /// Signing failed.
    #[error("could not sign the removal: {0}")]
    Signing(String),
}

/// Entries removed from a tenant's log on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The tenant's log origin.
    pub origin: String,
    /// The removal's id.
    pub id: Uuid,
    /// When it was made (to the microsecond).
    pub at: OffsetDateTime,
    /// Why.
    pub reason: RemovalReason,
    /// The rule that chose the entries, for people: one line of printable text.
    pub rule: String,
    /// The leaves whose entries were removed (or erased).
    pub leaves: LeafRanges,
    /// For an erasure: the leaf hash of each entry as erased, in the order of its leaves.
    pub erased: Vec<Hash>,
}

impl Removal {
    /// The note text (see the module's documentation).
    pub fn text(&self) -> Result<String, RemovalError> {
        if !signed_note::is_key_name_valid(&self.origin) {
            return Err(RemovalError::InvalidOrigin(KeyError::InvalidName(
                crate::text::excerpt(&self.origin),
            )));
        }
        if self.rule.is_empty() || self.rule.chars().any(char::is_control) {
            return Err(RemovalError::Malformed(
                "the rule must be one line of printable text",
            ));
        }
        if self.leaves.is_empty() {
            return Err(RemovalError::Malformed(
                "a removal removes at least one leaf",
            ));
        }
        let at = self
            .at
            .to_offset(time::UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(|_| RemovalError::Malformed("the time cannot be written"))?;
        let erased = match self.reason {
            RemovalReason::Retention if self.erased.is_empty() => String::new(),
            RemovalReason::Erasure if self.erased.len() as u64 == self.leaves.count() => {
                let hashes: Vec<String> = self.erased.iter().map(Hash::to_base64).collect();
                format!("erased {}\n", hashes.join(","))
            }
            _ => {
                return Err(RemovalError::Malformed(
                    "an erasure gives one erased leaf hash a leaf, a retention none",
                ));
            }
        };
        Ok(format!(
            "{HEADER}\n{}\n{}\n{at}\n{}\n{}\n{}\n{erased}",
            self.origin, self.id, self.reason, self.rule, self.leaves
        ))
    }

    /// The signed note of the removal, signed by `key` under the removal's origin.
    pub fn sign(&self, key: &LogKey) -> Result<String, RemovalError> {
        key.sign_note(&self.origin, &self.text()?)
            .map_err(|err| match err {
                SignNoteError::InvalidName(err) => RemovalError::InvalidOrigin(err),
                SignNoteError::Signing(err) => RemovalError::Signing(err),
            })
    }

    /// Opens the signed removal `note` of the log `origin`: well formed, of `origin`,
    /// and signed by `key` under the name `origin` (only its public key counts).
    pub fn open(note: &str, key: &VerifierKey, origin: &str) -> Result<Self, RemovalError> {
        let note = Note::from_bytes(note.as_bytes())
            .map_err(|_| RemovalError::Malformed("not a signed note"))?;
        let removal = Self::parse(note.text())?;
        if removal.origin != origin {
            return Err(RemovalError::WrongOrigin {
                expected: origin.to_owned(),
                found: crate::text::excerpt(&removal.origin),
            });
        }
        key.check_note(&note, origin).map_err(|check| match check {
            NoteCheck::InvalidName(err) => RemovalError::InvalidOrigin(err),
            NoteCheck::NotSigned { name, id } => RemovalError::NotSigned { name, id },
            NoteCheck::BadSignature { name, id } => RemovalError::BadSignature { name, id },
            NoteCheck::Malformed => RemovalError::Malformed("the signatures are malformed"),
        })?;
        Ok(removal)
    }

    /// The removal a note's text states, exactly as [`Removal::text`] writes it.
    fn parse(text: &[u8]) -> Result<Self, RemovalError> {
        let text = std::str::from_utf8(text)
            .map_err(|_| RemovalError::Malformed("the text is not UTF-8"))?;
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or(RemovalError::Malformed("the text does not end a line"))?
            .split('\n')
            .collect();
        let (fields, erased) = match lines.split_last() {
            Some((last, fields)) if last.starts_with("erased ") => (fields, Some(*last)),
            _ => (&lines[..], None),
        };
        let [header, origin, id, at, reason, rule, leaves] = fields[..] else {
            return Err(RemovalError::Malformed(
                "a removal has seven lines, an erasure eight",
            ));
        };
        let erased = erased
            .map(|line| {
                line["erased ".len()..]
                    .split(',')
                    .map(|hash| {
                        Hash::from_base64(hash).map_err(|_| {
                            RemovalError::Malformed("an erased leaf hash is malformed")
                        })
                    })
                    .collect::<Result<Vec<Hash>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        if header != HEADER {
            return Err(RemovalError::Malformed("the text is not a removal"));
        }
        let removal = Self {
            origin: origin.to_owned(),
            id: id
                .parse()
                .map_err(|_| RemovalError::Malformed("the id is not a UUID"))?,
            at: OffsetDateTime::parse(at, &Rfc3339)
                .map_err(|_| RemovalError::Malformed("the time is not RFC 3339"))?,
            reason: reason.parse()?,
            rule: rule.to_owned(),
            leaves: leaves.parse()?,
            erased,
        };
        if removal.text()? != text {
            return Err(RemovalError::Malformed("the text is not in its one form"));
        }
        Ok(removal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Checkpoint, Hash};

    fn removal(leaves: &[u64]) -> Removal {
        Removal {
            origin: "auditlog/00000000-0000-0000-0000-000000000001".to_owned(),
            id: Uuid::from_u128(7),
            at: OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time"),
            reason: RemovalReason::Retention,
            rule: "retention 30 days: created before 2023-10-15T22:13:20Z".to_owned(),
            leaves: LeafRanges::of(leaves.iter().copied()),
            erased: Vec::new(),
        }
    }

    #[test]
    fn leaf_ranges_round_trip_and_answer_membership() {
        let ranges = LeafRanges::of([9, 3, 4, 5, 7, 3, 0]);
        assert_eq!(ranges.to_string(), "0,3-5,7,9");
        assert_eq!(ranges.count(), 6);
        assert_eq!(ranges.to_string().parse::<LeafRanges>(), Ok(ranges.clone()));
        for (index, inside) in [
            (0, true),
            (1, false),
            (4, true),
            (6, false),
            (9, true),
            (10, false),
        ] {
            assert_eq!(ranges.contains(index), inside, "{index}");
        }
        let union = LeafRanges::union([&LeafRanges::of([1, 2, 8]), &ranges, &LeafRanges::of([6])]);
        assert_eq!(union.to_string(), "0-9");
        assert_eq!(
            LeafRanges::union([&LeafRanges::of([20]), &ranges]).to_string(),
            "0,3-5,7,9,20"
        );
        for bad in [
            "", "1,,2", "3-1", "1-2,2-4", "1,2", "5,3", "-1", "1-", "a", "1 ",
        ] {
            assert!(bad.parse::<LeafRanges>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_signed_removal_opens_with_the_verifier_key_only() {
        let key = LogKey::generate("auditlog").expect("key");
        let removal = removal(&[0, 1, 2, 10]);
        let note = removal.sign(&key).expect("sign");
        assert_eq!(
            Removal::open(&note, &key.verifier_key(), &removal.origin),
            Ok(removal.clone())
        );
        // Another key's signature, a leaf added to the text, another tenant's origin.
        let other = LogKey::generate("auditlog").expect("key");
        assert!(matches!(
            Removal::open(
                &removal.sign(&other).expect("sign"),
                &key.verifier_key(),
                &removal.origin
            ),
            Err(RemovalError::NotSigned { .. })
        ));
        let widened = note.replace("0-2,10\n", "0-2,10-11\n");
        assert_ne!(widened, note);
        assert!(matches!(
            Removal::open(&widened, &key.verifier_key(), &removal.origin),
            Err(RemovalError::BadSignature { .. })
        ));
        assert!(matches!(
            Removal::open(&note, &key.verifier_key(), "auditlog/other"),
            Err(RemovalError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn an_erasure_signs_the_erased_leaf_hash_of_each_leaf() {
        let key = LogKey::generate("auditlog").expect("key");
        let mut erasure = removal(&[2, 5, 6]);
        erasure.reason = RemovalReason::Erasure;
        erasure.rule = "erasure of one person's entries".to_owned();
        erasure.erased = vec![Hash([1; 32]), Hash([2; 32]), Hash([3; 32])];
        let note = erasure.sign(&key).expect("sign");
        let opened = Removal::open(&note, &key.verifier_key(), &erasure.origin).expect("opens");
        assert_eq!(opened, erasure);
        assert_eq!(opened.leaves.indexes().position(|i| i == 5), Some(1));
        assert!(!opened.leaves.contains(4));
        assert_eq!(opened.leaves.indexes().collect::<Vec<_>>(), [2, 5, 6]);
        // Another erased content under the same signature does not open.
        let other = note.replacen(&Hash([2; 32]).to_base64(), &Hash([9; 32]).to_base64(), 1);
        assert!(matches!(
            Removal::open(&other, &key.verifier_key(), &erasure.origin),
            Err(RemovalError::BadSignature { .. })
        ));
        // One hash a leaf, and none for a retention.
        erasure.erased.pop();
        assert!(erasure.sign(&key).is_err());
        let mut retention = removal(&[1]);
        retention.erased = vec![Hash([1; 32])];
        assert!(retention.sign(&key).is_err());
    }

    #[test]
    fn removals_and_checkpoints_are_never_taken_for_each_other() {
        let key = LogKey::generate("auditlog").expect("key");
        let removal = removal(&[3]);
        let note = removal.sign(&key).expect("sign");
        assert!(Checkpoint::open(&note, &key.verifier_key(), &removal.origin).is_err());
        let checkpoint = Checkpoint::new(&removal.origin, 4, Hash([7; 32]))
            .and_then(|c| c.sign(&key))
            .expect("checkpoint");
        assert!(matches!(
            Removal::open(&checkpoint, &key.verifier_key(), &removal.origin),
            Err(RemovalError::Malformed(_))
        ));
    }
}
