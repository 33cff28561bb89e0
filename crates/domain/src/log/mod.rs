//! Each tenant's transparency log: the entries of a tenant are the leaves of an RFC
//! 9162 (RFC 6962) Merkle tree, and its heads are published as C2SP tlog-checkpoint
//! signed notes. This module is the part without storage: the leaf of an entry, the
//! hashes, the log key, checkpoints, proofs and an in-memory tree.
//!
//! - **Leaf** ([`leaf_bytes`]): each stored entry is one leaf, at a dense 0-based index
//!   in its tenant's log. Its bytes are the RFC 8785 (JCS) canonical JSON of the entry
//!   with exactly the [`LEAF_MEMBERS`], holding the values the API serves. JCS writes
//!   numbers as IEEE 754 doubles, so entry validation refuses integers in `details`
//!   beyond ±(2^53 − 1) ([`crate::limits::MAX_EXACT_INTEGER`]); a float is a double
//!   already and is written exactly (serde_json's `float_roundtrip`, which the
//!   canonicaliser and storage turn on, reads it back as it was written). `-0` and `0`
//!   are the same number to JCS.
//! - **Hashes** ([`struct@Hash`]): leaf hash SHA-256(0x00 || bytes), node hash
//!   SHA-256(0x01 || left || right), the tree of RFC 9162 section 2.1; in text, standard
//!   base64, as in checkpoints and in the API's proofs.
//! - **Checkpoints** ([`Checkpoint`]): `<origin>\n<size>\n<base64 root>\n`, signed with
//!   Ed25519 as a C2SP signed note. The origin of a tenant's log is
//!   `<log origin>/<tenant id>` ([`tenant_origin`]); the log origin defaults to
//!   [`DEFAULT_LOG_ORIGIN`].
//! - **Key** ([`LogKey`]): one key, named after the log origin, signs every tenant's
//!   checkpoints; its verifier key ([`VerifierKey`]) is published as
//!   `<name>+<hex key id>+<base64 of 0x01 || public key>`.
//! - **Proofs** ([`verify_inclusion`], [`verify_consistency`]) and [`MemoryTree`], which
//!   builds them.
//!
//! The hashing, proofs, note format and canonical JSON are those of the `tlog_tiles`,
//! `signed_note` and `serde_json_canonicalizer` crates; this module holds auditlog's
//! choices on top of them.

mod checkpoint;
mod hash;
mod key;
pub(crate) mod leaf;
mod proof;
mod removal;
mod tree;

pub use checkpoint::{Checkpoint, CheckpointError, DEFAULT_LOG_ORIGIN, tenant_origin};
pub use hash::{Hash, MalformedHash};
pub use key::{KeyError, LogKey, VerifierKey};
pub use leaf::{LEAF_MEMBERS, LeafError, leaf_bytes, leaf_hash};
pub use proof::{ProofError, RangeError, node_hash, verify_consistency, verify_inclusion};
pub use removal::{LeafRanges, Removal, RemovalError, RemovalReason};
pub use tree::{MemoryTree, TreeError};
