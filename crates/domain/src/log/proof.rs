//! Checking inclusion and consistency proofs (RFC 9162, sections 2.1.3 and 2.1.4).

use super::Hash;

/// A leaf index or a pair of tree sizes that no tree can have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("a tree of {old_size} leaves cannot grow into one of {new_size}")]
    SizesOutOfOrder {
        /// The older tree's size.
        old_size: u64,
        /// The newer tree's size.
        new_size: u64,
    },
}

impl RangeError {
    /// Refuses a leaf index not below the tree size.
    pub(crate) fn check_index(index: u64, size: u64) -> Result<(), Self> {
        if index < size {
            Ok(())
        } else {
            Err(Self::IndexOutOfRange { index, size })
        }
    }

    /// Refuses an old size above the new one.
    pub(crate) fn check_sizes(old_size: u64, new_size: u64) -> Result<(), Self> {
        if old_size <= new_size {
            Ok(())
        } else {
            Err(Self::SizesOutOfOrder { old_size, new_size })
        }
    }
}

/// Why a proof was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or sizes are impossible.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The proof does not lead from its inputs to the root: one of them is not what
    /// the log holds, or the proof is not the log's.
    #[error("the proof does not verify")]
    Invalid,
}

/// Checks that the leaf with hash `leaf` is at `index` in the tree of `size` leaves
/// with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: Hash,
    root: Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    RangeError::check_index(index, size)?;
    let proof: Vec<tlog_tiles::Hash> = proof.iter().copied().map(Into::into).collect();
    tlog_tiles::check_record(&proof, size, root.into(), index, leaf.into())
        .map_err(|_| ProofError::Invalid)
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the
/// tree of `new_size` leaves with root `new_root`. Every tree extends the empty one:
/// from size 0 the proof is empty and `old_root` is [`Hash::EMPTY_ROOT`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: Hash,
    new_root: Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    RangeError::check_sizes(old_size, new_size)?;
    if old_size == 0 {
        let new_root_fits = new_size > 0 || new_root == Hash::EMPTY_ROOT;
        return if proof.is_empty() && old_root == Hash::EMPTY_ROOT && new_root_fits {
            Ok(())
        } else {
            Err(ProofError::Invalid)
        };
    }
    let proof: Vec<tlog_tiles::Hash> = proof.iter().copied().map(Into::into).collect();
    tlog_tiles::check_tree(&proof, new_size, new_root.into(), old_size, old_root.into())
        .map_err(|_| ProofError::Invalid)
}

/// The RFC 9162 hash of an inner node: SHA-256(0x01 || left || right).
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    tlog_tiles::node_hash(left.into(), right.into()).into()
}
