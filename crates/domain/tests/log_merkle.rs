//! The log's tree against the RFC 6962 known answers and against ct-merkle, an
//! independent implementation, on random trees.

use auditlog_domain::log::{
    Hash, MemoryTree, ProofError, RangeError, TreeError, leaf_hash, node_hash, verify_consistency,
    verify_inclusion,
};
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash, mem_backed_tree::MemoryBackedTree};
use proptest::prelude::*;
use sha2_011::Sha256;

// transparency-dev/merkle testonly/constants.go and reference_test.go, as copied by
// ct-merkle's known_answer tests; indexes 0-based.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const H01: &str = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125";
const H23: &str = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e";
const H45: &str = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a";
const H67: &str = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0";
const H03: &str = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7";
const H47: &str = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4";
const L0: &str = LEAF_HASHES[0];
const L1: &str = LEAF_HASHES[1];
const L4: &str = LEAF_HASHES[4];
const L6: &str = LEAF_HASHES[6];

/// (index, size, proof)
const INCLUSION: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (0, 2, &[L1]),
    (1, 2, &[L0]),
    (2, 3, &[H01]),
    (1, 5, &[L0, H23, L4]),
    (0, 8, &[L1, H23, H47]),
    (5, 8, &[L4, H67, H03]),
];

/// (old size, new size, proof)
const CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (1, 8, &[L1, H23, H47]),
    (2, 5, &[H23, L4]),
    (6, 8, &[H45, H67, H03]),
    (6, 7, &[H45, L6, H03]),
];

fn h(hex: &str) -> Hash {
    Hash(hex::decode(hex).expect("hex").try_into().expect("32 bytes"))
}

fn hashes(hexes: &[&str]) -> Vec<Hash> {
    hexes.iter().map(|hex| h(hex)).collect()
}

fn known_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in LEAVES {
        tree.push(leaf_hash(&hex::decode(leaf).expect("hex")))
            .expect("push");
    }
    tree
}

#[test]
fn rfc6962_leaf_hashes_and_roots() {
    let mut tree = MemoryTree::new();
    assert_eq!(tree.root().expect("root"), h(ROOTS[0]));
    assert_eq!(Hash::EMPTY_ROOT, h(ROOTS[0]));
    for (i, leaf) in LEAVES.iter().enumerate() {
        let leaf = leaf_hash(&hex::decode(leaf).expect("hex"));
        assert_eq!(leaf, h(LEAF_HASHES[i]), "leaf hash {i}");
        assert_eq!(tree.push(leaf).expect("push"), i as u64);
        assert_eq!(
            tree.root().expect("root"),
            h(ROOTS[i + 1]),
            "root of {}",
            i + 1
        );
    }
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64).expect("root"), h(root));
    }
    assert_eq!(node_hash(h(L0), h(L1)), h(H01));
    assert_eq!(node_hash(h(H01), h(H23)), h(H03));
}

#[test]
fn rfc6962_inclusion_proofs() {
    let tree = known_tree();
    for &(index, size, want) in INCLUSION {
        let proof = tree.inclusion_proof(index, size).expect("proof");
        assert_eq!(proof, hashes(want), "inclusion of {index} in {size}");
        let (leaf, root) = (h(LEAF_HASHES[index as usize]), h(ROOTS[size as usize]));
        verify_inclusion(index, size, leaf, root, &proof).expect("verifies");
    }
}

#[test]
fn rfc6962_consistency_proofs() {
    let tree = known_tree();
    for &(old, new, want) in CONSISTENCY {
        let proof = tree.consistency_proof(old, new).expect("proof");
        assert_eq!(proof, hashes(want), "consistency of {old} with {new}");
        let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        verify_consistency(old, new, old_root, new_root, &proof).expect("verifies");
    }
}

#[test]
fn every_tree_extends_the_empty_one() {
    let tree = known_tree();
    for size in 0..=8 {
        assert_eq!(tree.consistency_proof(0, size), Ok(vec![]));
        let root = h(ROOTS[size as usize]);
        verify_consistency(0, size, Hash::EMPTY_ROOT, root, &[]).expect("from empty");
    }
    let some = h(ROOTS[3]);
    assert_eq!(
        verify_consistency(0, 3, some, h(ROOTS[3]), &[]),
        Err(ProofError::Invalid),
        "the empty tree has the empty root"
    );
    assert_eq!(
        verify_consistency(0, 0, Hash::EMPTY_ROOT, some, &[]),
        Err(ProofError::Invalid)
    );
    assert_eq!(
        verify_consistency(0, 3, Hash::EMPTY_ROOT, some, &[some]),
        Err(ProofError::Invalid),
        "no hashes prove anything from the empty tree"
    );
}

#[test]
fn refuses_indexes_and_sizes_outside_the_tree() {
    let tree = known_tree();
    let (leaf, root) = (h(LEAF_HASHES[0]), h(ROOTS[8]));
    assert_eq!(
        verify_inclusion(8, 8, leaf, root, &[]),
        Err(ProofError::Range(RangeError::IndexOutOfRange {
            index: 8,
            size: 8
        }))
    );
    assert_eq!(
        verify_inclusion(0, 0, leaf, Hash::EMPTY_ROOT, &[]),
        Err(ProofError::Range(RangeError::IndexOutOfRange {
            index: 0,
            size: 0
        }))
    );
    assert_eq!(
        verify_consistency(5, 4, root, root, &[]),
        Err(ProofError::Range(RangeError::SizesOutOfOrder {
            old_size: 5,
            new_size: 4
        }))
    );
    assert_eq!(
        tree.inclusion_proof(3, 3),
        Err(TreeError::Range(RangeError::IndexOutOfRange {
            index: 3,
            size: 3
        }))
    );
    assert_eq!(
        tree.inclusion_proof(0, 9),
        Err(TreeError::SizeBeyondTree { asked: 9, size: 8 })
    );
    assert_eq!(
        tree.root_at(9),
        Err(TreeError::SizeBeyondTree { asked: 9, size: 8 })
    );
    assert_eq!(
        tree.consistency_proof(3, 2),
        Err(TreeError::Range(RangeError::SizesOutOfOrder {
            old_size: 3,
            new_size: 2
        }))
    );
    // Proofs for huge trees are refused, not panicked on.
    assert_eq!(
        verify_inclusion(u64::MAX - 1, u64::MAX, leaf, root, &[root; 64]),
        Err(ProofError::Invalid)
    );
    assert_eq!(
        verify_consistency(1, u64::MAX, leaf, root, &[root; 3]),
        Err(ProofError::Invalid)
    );
}

#[test]
fn tampered_proofs_are_rejected() {
    let tree = known_tree();
    let (leaf, root) = (h(LEAF_HASHES[5]), h(ROOTS[8]));
    let proof = tree.inclusion_proof(5, 8).expect("proof");
    verify_inclusion(5, 8, leaf, root, &proof).expect("verifies");
    let rejected = |index, size, leaf, root, proof: &[Hash]| {
        assert_eq!(
            verify_inclusion(index, size, leaf, root, proof),
            Err(ProofError::Invalid)
        );
    };
    rejected(4, 8, leaf, root, &proof);
    rejected(5, 7, leaf, h(ROOTS[7]), &proof);
    rejected(5, 8, h(LEAF_HASHES[4]), root, &proof);
    rejected(5, 8, leaf, h(ROOTS[7]), &proof);
    rejected(5, 8, leaf, root, &proof[..2]);
    rejected(5, 8, leaf, root, &[proof.as_slice(), &[root]].concat());
    let mut flipped = proof.clone();
    flipped[1].0[31] ^= 1;
    rejected(5, 8, leaf, root, &flipped);

    let proof = tree.consistency_proof(6, 8).expect("proof");
    let (old, new) = (h(ROOTS[6]), h(ROOTS[8]));
    assert_eq!(verify_consistency(6, 8, old, new, &proof), Ok(()));
    assert_eq!(
        verify_consistency(6, 8, h(ROOTS[5]), new, &proof),
        Err(ProofError::Invalid)
    );
    assert_eq!(
        verify_consistency(6, 8, old, h(ROOTS[7]), &proof),
        Err(ProofError::Invalid)
    );
    assert_eq!(
        verify_consistency(5, 8, old, new, &proof),
        Err(ProofError::Invalid)
    );
    assert_eq!(
        verify_consistency(6, 6, old, new, &[]),
        Err(ProofError::Invalid)
    );
}

type Digest = ct_merkle::digest::Output<Sha256>;

fn to_ct(hash: &Hash) -> Digest {
    Digest::from(hash.0)
}

fn from_ct(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|chunk| Hash(chunk.try_into().expect("32 bytes")))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Roots at every size, and inclusion and consistency proofs at the final size, are
    /// byte for byte those of ct-merkle, and each side accepts the other's proofs.
    #[test]
    fn matches_ct_merkle(
        leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..80),
        picks in prop::collection::vec(any::<u64>(), 8),
    ) {
        let mut tree = MemoryTree::new();
        let mut ct = MemoryBackedTree::<Sha256, Vec<u8>>::new();
        let mut roots = vec![tree.root().expect("root")];
        prop_assert_eq!(ct.root().as_bytes().to_vec(), roots[0].0.to_vec());
        for leaf in &leaves {
            tree.push(leaf_hash(leaf)).expect("push");
            ct.push(leaf.clone());
            let root = tree.root().expect("root");
            prop_assert_eq!(ct.root().as_bytes().to_vec(), root.0.to_vec());
            roots.push(root);
        }
        let size = leaves.len() as u64;
        let ct_root = ct.root();
        for pick in &picks {
            let index = pick % size;
            let proof = tree.inclusion_proof(index, size).expect("proof");
            let ct_proof = ct.prove_inclusion(index as usize);
            prop_assert_eq!(&from_ct(ct_proof.as_bytes()), &proof);
            let leaf = leaf_hash(&leaves[index as usize]);
            prop_assert_eq!(verify_inclusion(index, size, leaf, roots[size as usize], &proof), Ok(()));
            let ours = InclusionProof::<Sha256>::from_digests(proof.iter().map(to_ct).collect::<Vec<_>>().iter());
            prop_assert!(ct_root.verify_inclusion(&leaves[index as usize], index, &ours).is_ok());

            let old = 1 + pick % size;
            let proof = tree.consistency_proof(old, size).expect("proof");
            let ct_proof = ct.prove_consistency((size - old) as usize);
            prop_assert_eq!(&from_ct(ct_proof.as_bytes()), &proof);
            let old_root = roots[old as usize];
            prop_assert_eq!(verify_consistency(old, size, old_root, roots[size as usize], &proof), Ok(()));
            let ours = ConsistencyProof::<Sha256>::from_digests(proof.iter().map(to_ct).collect::<Vec<_>>().iter());
            let ct_old = RootHash::<Sha256>::new(to_ct(&old_root), old);
            prop_assert!(ct_root.verify_consistency(&ct_old, &ours).is_ok());
        }
    }

    /// Every earlier size answers as a tree of that size built on its own would.
    #[test]
    fn earlier_sizes_answer_as_their_own_trees(count in 1u64..64, picks in prop::collection::vec(any::<u64>(), 4)) {
        let leaves: Vec<Hash> = (0..count).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut full = MemoryTree::new();
        for leaf in &leaves {
            full.push(*leaf).expect("push");
        }
        for pick in picks {
            let size = 1 + pick % count;
            let mut small = MemoryTree::new();
            for leaf in &leaves[..size as usize] {
                small.push(*leaf).expect("push");
            }
            prop_assert_eq!(full.root_at(size), small.root());
            let index = (pick >> 8) % size;
            prop_assert_eq!(full.inclusion_proof(index, size), small.inclusion_proof(index, size));
            let old = 1 + (pick >> 16) % size;
            prop_assert_eq!(full.consistency_proof(old, size), small.consistency_proof(old, size));
        }
    }
}
