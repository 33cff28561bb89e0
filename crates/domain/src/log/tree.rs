//! A log tree held in memory: for the offline verifier, which rebuilds a tenant's
//! tree from an export, and as the model the stored trees are tested against.

use tlog_tiles::HashReader;

use super::{Hash, RangeError};

/// Why the tree cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// A size beyond the leaves the tree holds.
    #[error("the tree holds {size} leaves, not {asked}")]
    SizeBeyondTree {
        /// The size asked for.
        asked: u64,
        /// The tree's size.
        size: u64,
    },
    /// The index or sizes are impossible.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The stored hashes do not fit together; a defect, not an input error.
    #[error("the tree's hashes are inconsistent: {0}")]
    Internal(String),
}

/// An append-only RFC 9162 tree in memory. It keeps the stored hashes of tlog (every
/// leaf hash and every complete subtree, about two per leaf, in the order a database
/// would append them), so it answers for every earlier size too.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    stored: Vec<tlog_tiles::Hash>,
    size: u64,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf with hash `leaf` and returns its index.
    pub fn push(&mut self, leaf: Hash) -> Result<u64, TreeError> {
        let index = self.size;
        let hashes = tlog_tiles::stored_hashes_for_record_hash(index, leaf.into(), &Reader(self))
            .map_err(internal)?;
        self.stored.extend(hashes);
        self.size += 1;
        Ok(index)
    }

    /// The root of the current tree.
    pub fn root(&self) -> Result<Hash, TreeError> {
        self.root_at(self.size)
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        self.check_size(size)?;
        tlog_tiles::tree_hash(size, &Reader(self))
            .map(Hash::from)
            .map_err(internal)
    }

    /// The proof that the leaf at `index` is in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(size)?;
        RangeError::check_index(index, size)?;
        tlog_tiles::prove_record(size, index, &Reader(self))
            .map(|proof| proof.into_iter().map(Hash::from).collect())
            .map_err(internal)
    }

    /// The proof that the tree of the first `old_size` leaves is a prefix of the tree of
    /// the first `new_size`. From the empty tree it is empty.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check_size(new_size)?;
        RangeError::check_sizes(old_size, new_size)?;
        if old_size == 0 {
            return Ok(Vec::new());
        }
        tlog_tiles::prove_tree(new_size, old_size, &Reader(self))
            .map(|proof| proof.into_iter().map(Hash::from).collect())
            .map_err(internal)
    }

    fn check_size(&self, asked: u64) -> Result<(), TreeError> {
        if asked > self.size {
            return Err(TreeError::SizeBeyondTree {
                asked,
                size: self.size,
            });
        }
        Ok(())
    }
}

fn internal(error: tlog_tiles::Error) -> TreeError {
    TreeError::Internal(error.to_string())
}

/// tlog's view of the stored hashes.
struct Reader<'a>(&'a MemoryTree);

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.0.stored.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}
