//! A tenant's stored hashes (tlog's layout: every leaf hash and every complete subtree,
//! about two per leaf), read from the leaf rows that wrote them. tlog's functions ask
//! for the hashes they need all at once and synchronously: [`StoredHashes::run`] runs
//! one, fetches what it missed, and runs it again.

use std::{cell::RefCell, collections::HashMap};

use auditlog_domain::StoreError;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use tlog_tiles::{Hash, HashReader};
use uuid::Uuid;

use crate::{error::db_error, schema::leaf};

/// Leaf rows per `SELECT ... IN (...)`.
const SELECT_LEAVES: usize = 1000;
/// Fetches at most per [`StoredHashes::run`]: tlog's functions ask once for all they need.
const MAX_FETCHES: usize = 4;

/// The leaf that wrote stored hash `index`, and the hash's place among its hashes.
/// Hash `i` of level `level` covers leaves `i << level` to `((i + 1) << level) - 1`, and
/// the last of those writes it, after its own leaf hash and the levels below.
pub(crate) fn writer_of(index: u64) -> (u64, usize) {
    let (level, i) = tlog_tiles::split_stored_hash_index(index);
    (((i + 1) << level) - 1, usize::from(level))
}

/// The stored hashes of one tenant that are known so far.
#[derive(Debug)]
pub(crate) struct StoredHashes {
    tenant_id: Uuid,
    known: HashMap<u64, Hash>,
}

/// A reader of the known hashes that notes the ones it lacks.
#[derive(Debug)]
pub(crate) struct Known<'a> {
    known: &'a HashMap<u64, Hash>,
    missing: RefCell<Vec<u64>>,
}

impl HashReader for Known<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let found: Vec<Option<Hash>> = indexes.iter().map(|i| self.known.get(i).copied()).collect();
        if found.iter().all(Option::is_some) {
            return Ok(found.into_iter().flatten().collect());
        }
        let mut missing = self.missing.borrow_mut();
        for (index, hash) in indexes.iter().zip(&found) {
            if hash.is_none() {
                missing.push(*index);
            }
        }
        Err(tlog_tiles::Error::IndexesNotInTree)
    }
}

impl StoredHashes {
    /// None known yet.
    pub(crate) fn new(tenant_id: Uuid) -> Self {
        Self {
            tenant_id,
            known: HashMap::new(),
        }
    }

    /// Knows `hashes` as the stored hashes that leaf `n` wrote.
    pub(crate) fn learn(&mut self, n: u64, hashes: &[Hash]) {
        let first = tlog_tiles::stored_hash_index(0, n);
        for (k, hash) in (first..).zip(hashes) {
            self.known.insert(k, *hash);
        }
    }

    /// Knows `edge` (a head's right edge, see [`edge_indexes`]) as the hashes of the
    /// tree of `size` leaves; an edge of the wrong length is ignored, and the hashes
    /// are read from the leaves instead.
    pub(crate) fn learn_edge(&mut self, size: u64, edge: Option<&[u8]>) {
        let Some(hashes) = edge.and_then(split_or_empty) else {
            return;
        };
        let indexes: Vec<u64> = edge_indexes(size).collect();
        if indexes.len() == hashes.len() {
            self.known.extend(indexes.into_iter().zip(hashes));
        }
    }

    /// The right edge of the tree of `size` leaves, as a head keeps it, when every hash
    /// of it is known.
    pub(crate) fn edge(&self, size: u64) -> Option<Vec<u8>> {
        let hashes: Option<Vec<Hash>> = edge_indexes(size)
            .map(|index| self.known.get(&index).copied())
            .collect();
        hashes.map(|hashes| join(&hashes))
    }

    /// Runs `f` over the stored hashes, fetching from `conn` those it needs that are not
    /// known yet.
    pub(crate) async fn run<C: ConnectionTrait, T>(
        &mut self,
        conn: &C,
        f: impl Fn(&Known<'_>) -> Result<T, tlog_tiles::Error>,
    ) -> Result<T, StoreError> {
        for _ in 0..MAX_FETCHES {
            let reader = Known {
                known: &self.known,
                missing: RefCell::new(Vec::new()),
            };
            let result = f(&reader);
            let missing = reader.missing.into_inner();
            match result {
                Ok(value) => return Ok(value),
                Err(_) if !missing.is_empty() => self.fetch(conn, &missing).await?,
                Err(err) => return Err(defect(err)),
            }
        }
        Err(StoreError::Backend(
            "the log's stored hashes are incomplete".to_owned(),
        ))
    }

    /// Reads the leaf rows that wrote `indexes`.
    async fn fetch<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        indexes: &[u64],
    ) -> Result<(), StoreError> {
        let mut writers: Vec<i64> = indexes
            .iter()
            .map(|&index| i64::try_from(writer_of(index).0).unwrap_or(i64::MAX))
            .collect();
        writers.sort_unstable();
        writers.dedup();
        for chunk in writers.chunks(SELECT_LEAVES) {
            let rows: Vec<(i64, Vec<u8>)> = leaf::Entity::find()
                .select_only()
                .column(leaf::Column::LeafIndex)
                .column(leaf::Column::Hashes)
                .filter(leaf::Column::TenantId.eq(self.tenant_id))
                .filter(leaf::Column::LeafIndex.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(conn)
                .await
                .map_err(db_error)?;
            for (n, hashes) in rows {
                let hashes = split(&hashes).ok_or_else(|| {
                    StoreError::Backend(format!(
                        "leaf {n} of tenant {}: its stored hashes cannot be read",
                        self.tenant_id
                    ))
                })?;
                self.learn(u64::try_from(n).unwrap_or_default(), &hashes);
            }
        }
        Ok(())
    }
}

/// The right edge of a tree rebuilt leaf by leaf: all that appending a leaf and
/// computing the root read (see [`edge_indexes`]), so a tree of any size is rebuilt in
/// constant memory.
#[derive(Debug, Default)]
pub(crate) struct Edge {
    size: u64,
    /// The hashes of [`edge_indexes`]`(size)`, in its order.
    hashes: Vec<Hash>,
}

/// A reader of an [`Edge`]'s hashes.
struct EdgeReader<'a> {
    indexes: Vec<u64>,
    hashes: &'a [Hash],
}

impl HashReader for EdgeReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|index| {
                self.indexes
                    .iter()
                    .position(|i| i == index)
                    .and_then(|at| self.hashes.get(at).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Edge {
    /// The tree's size so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    fn reader(&self) -> EdgeReader<'_> {
        EdgeReader {
            indexes: edge_indexes(self.size).collect(),
            hashes: &self.hashes,
        }
    }

    /// Appends the leaf of hash `leaf` and returns the stored hashes that appending it
    /// writes: the leaf hash, then each subtree it completes, from the lowest.
    pub(crate) fn append(&mut self, leaf: Hash) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let reader = self.reader();
        let stored = tlog_tiles::stored_hashes_for_record_hash(self.size, leaf, &reader)?;
        let first = tlog_tiles::stored_hash_index(0, self.size);
        let next = edge_indexes(self.size + 1)
            .map(|index| match index.checked_sub(first) {
                Some(k) => usize::try_from(k)
                    .ok()
                    .and_then(|k| stored.get(k).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree),
                None => reader.read_hashes(&[index]).map(|found| found[0]),
            })
            .collect::<Result<Vec<Hash>, _>>()?;
        self.hashes = next;
        self.size += 1;
        Ok(stored)
    }

    /// The root of the tree so far.
    pub(crate) fn root(&self) -> Result<Hash, tlog_tiles::Error> {
        tlog_tiles::tree_hash(self.size, &self.reader())
    }
}

/// The stored hash indexes of the maximal complete subtrees of a tree of `size`
/// leaves, from the largest: one for each bit set in `size`. Appending a leaf and
/// computing the root read no other hashes.
pub(crate) fn edge_indexes(size: u64) -> impl Iterator<Item = u64> {
    (0..u64::BITS as u8)
        .rev()
        .filter(move |&level| size >> level & 1 == 1)
        .map(move |level| tlog_tiles::stored_hash_index(level, (size >> level) - 1))
}

/// A head's edge, 32 bytes a hash; the empty edge of the empty tree is no hash.
fn split_or_empty(bytes: &[u8]) -> Option<Vec<Hash>> {
    if bytes.is_empty() {
        Some(Vec::new())
    } else {
        split(bytes)
    }
}

/// A leaf row's hashes, 32 bytes each; `None` when the bytes are no such list.
pub(crate) fn split(bytes: &[u8]) -> Option<Vec<Hash>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(32) {
        return None;
    }
    bytes
        .chunks(32)
        .map(|chunk| chunk.try_into().ok().map(Hash))
        .collect()
}

/// A leaf row's hashes as bytes.
pub(crate) fn join(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|hash| hash.0).collect()
}

/// tlog refused what it was asked although every hash was there: the stored tree does
/// not fit together.
fn defect(err: tlog_tiles::Error) -> StoreError {
    StoreError::Backend(format!("the log's stored tree is inconsistent: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stored_hash_is_written_by_the_last_leaf_it_covers() {
        for n in 0..300u64 {
            let first = tlog_tiles::stored_hash_index(0, n);
            let count = tlog_tiles::stored_hash_count(n + 1) - tlog_tiles::stored_hash_count(n);
            for k in 0..count {
                assert_eq!(writer_of(first + k), (n, k as usize), "leaf {n}, hash {k}");
            }
        }
    }

    #[test]
    fn the_edge_is_what_appending_and_the_root_read() {
        // A reader that records what tlog asks for, and answers with made-up hashes.
        struct Asked(RefCell<Vec<u64>>);
        impl HashReader for Asked {
            fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
                self.0.borrow_mut().extend_from_slice(indexes);
                Ok(indexes.iter().map(|_| Hash([7; 32])).collect())
            }
        }
        for size in 1..600u64 {
            let edge: Vec<u64> = edge_indexes(size).collect();
            assert_eq!(edge.len(), size.count_ones() as usize);
            let asked = Asked(RefCell::new(Vec::new()));
            tlog_tiles::tree_hash(size, &asked).expect("root");
            let mut root_reads = asked.0.take();
            root_reads.sort_unstable();
            let mut sorted = edge.clone();
            sorted.sort_unstable();
            assert_eq!(root_reads, sorted, "root of {size}");
            tlog_tiles::stored_hashes_for_record_hash(size, Hash([1; 32]), &asked).expect("append");
            for index in asked.0.take() {
                assert!(edge.contains(&index), "appending to {size} reads {index}");
            }
        }
    }

    #[test]
    fn an_edge_appends_and_roots_as_the_whole_tree_does() {
        let mut edge = Edge::default();
        let mut all = StoredHashes::new(Uuid::nil());
        for n in 0..700u64 {
            let leaf = tlog_tiles::record_hash(&n.to_be_bytes());
            let whole = {
                let reader = Known {
                    known: &all.known,
                    missing: RefCell::new(Vec::new()),
                };
                tlog_tiles::stored_hashes_for_record_hash(n, leaf, &reader).expect("append")
            };
            assert_eq!(edge.append(leaf).expect("edge append"), whole, "leaf {n}");
            all.learn(n, &whole);
            let reader = Known {
                known: &all.known,
                missing: RefCell::new(Vec::new()),
            };
            let root = tlog_tiles::tree_hash(n + 1, &reader).expect("root");
            assert_eq!(edge.root().expect("edge root"), root, "size {}", n + 1);
            assert_eq!(edge.size(), n + 1);
        }
    }

    #[test]
    fn hashes_split_only_into_whole_hashes() {
        let hashes = [Hash([1; 32]), Hash([2; 32])];
        assert_eq!(split(&join(&hashes)), Some(hashes.to_vec()));
        assert_eq!(split(&[0; 33]), None);
        assert_eq!(split(&[]), None);
    }
}
