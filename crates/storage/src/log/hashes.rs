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
    fn hashes_split_only_into_whole_hashes() {
        let hashes = [Hash([1; 32]), Hash([2; 32])];
        assert_eq!(split(&join(&hashes)), Some(hashes.to_vec()));
        assert_eq!(split(&[0; 33]), None);
        assert_eq!(split(&[]), None);
    }
}
