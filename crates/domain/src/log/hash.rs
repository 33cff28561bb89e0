//! The 32-byte SHA-256 hashes of the tree: leaf hashes, node hashes and roots.

use std::{fmt, str::FromStr};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A SHA-256 hash of the tree (a leaf, an inner node or a root). Its text form, in
/// checkpoints and in the API, is standard base64 with padding (RFC 4648, section 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

/// A text that is not the base64 of 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a base64 SHA-256 hash (44 characters of standard base64)")]
pub struct MalformedHash(String);

impl Hash {
    /// The root of the empty tree: SHA-256 of nothing (RFC 9162, section 2.1.1).
    pub const EMPTY_ROOT: Hash = Hash(tlog_tiles::EMPTY_HASH.0);

    /// The standard base64 text of the hash, as checkpoints and the API carry it.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Reads the standard base64 text of a hash.
    pub fn from_base64(text: &str) -> Result<Self, MalformedHash> {
        let bytes = BASE64
            .decode(text)
            .map_err(|_| MalformedHash(crate::text::excerpt(text)))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| MalformedHash(crate::text::excerpt(text)))?;
        Ok(Hash(bytes))
    }
}

impl From<tlog_tiles::Hash> for Hash {
    fn from(hash: tlog_tiles::Hash) -> Self {
        Hash(hash.0)
    }
}

impl From<Hash> for tlog_tiles::Hash {
    fn from(hash: Hash) -> Self {
        tlog_tiles::Hash(hash.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl FromStr for Hash {
    type Err = MalformedHash;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Hash::from_base64(text)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Hash::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_refuses_other_lengths() {
        let text = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert_eq!(Hash::EMPTY_ROOT.to_base64(), text);
        assert_eq!(text.parse::<Hash>(), Ok(Hash::EMPTY_ROOT));
        assert_eq!(
            serde_json::to_string(&[Hash::EMPTY_ROOT]).expect("serialises"),
            format!("[\"{text}\"]")
        );
        assert!(Hash::from_base64("AAAA").is_err());
        assert!(Hash::from_base64(&text.replace('=', "")).is_err());
        assert!(serde_json::from_str::<Hash>("\"not base64!\"").is_err());
    }
}
