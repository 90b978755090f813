//! The Merkle tree hash of RFC 9162 section 2.1, with inclusion and consistency
//! proofs (sections 2.1.3 and 2.1.4) and their verification.
//!
//! Leaves hash as `SHA-256(0x00 || entry)` and nodes as `SHA-256(0x01 || left ||
//! right)`, so a leaf can never be passed off as a node. A tree of `n` leaves splits
//! at the largest power of two below `n`.

use aws_lc_rs::digest;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of an empty tree: SHA-256 of nothing.
#[must_use]
pub fn empty_root() -> Hash {
    sha256(&[&[]])
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    context
        .finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

/// `SHA-256(0x00 || entry)`.
#[must_use]
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0], entry])
}

/// `SHA-256(0x01 || left || right)`.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[1], left, right])
}

/// The largest power of two strictly less than `n` (n > 1).
fn split(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (n - 1).ilog2()
}

/// The root of the tree over `leaves` (leaf hashes).
#[must_use]
pub fn root(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::default();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// The tree's right edge: the roots of its perfect subtrees, largest first. Lets a
/// verifier compute the root of a log of any size in O(log n) memory, one leaf at a
/// time.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Frontier {
    size: u64,
    /// (height, hash) of each perfect subtree, left to right, heights decreasing.
    subtrees: Vec<(u32, Hash)>,
}

impl Frontier {
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = (0_u32, leaf);
        while let Some(&(height, hash)) = self.subtrees.last() {
            if height != carry.0 {
                break;
            }
            self.subtrees.pop();
            carry = (height + 1, node_hash(&hash, &carry.1));
        }
        self.subtrees.push(carry);
        self.size += 1;
    }

    /// How many leaves have been pushed.
    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree so far.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut subtrees = self.subtrees.iter().rev();
        let Some(&(_, mut hash)) = subtrees.next() else {
            return empty_root();
        };
        for (_, left) in subtrees {
            hash = node_hash(left, &hash);
        }
        hash
    }
}

/// The audit path of leaf `index` in the tree over `leaves` (RFC 9162 2.1.3.1).
#[must_use]
pub fn inclusion_proof(index: u64, leaves: &[Hash]) -> Vec<Hash> {
    fn path(m: u64, leaves: &[Hash], out: &mut Vec<Hash>) {
        let n = leaves.len() as u64;
        if n <= 1 {
            return;
        }
        let k = split(n);
        let k_usize = usize::try_from(k).expect("fits");
        if m < k {
            path(m, &leaves[..k_usize], out);
            out.push(root(&leaves[k_usize..]));
        } else {
            path(m - k, &leaves[k_usize..], out);
            out.push(root(&leaves[..k_usize]));
        }
    }
    let mut out = Vec::new();
    if index < leaves.len() as u64 {
        path(index, leaves, &mut out);
    }
    out
}

/// Checks that `leaf` is at `index` of a tree of `size` leaves with root `root`
/// (RFC 9162 2.1.3.2).
#[must_use]
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// The proof that the tree of the first `old_size` leaves is a prefix of the tree
/// over all `leaves` (RFC 9162 2.1.4.1).
#[must_use]
pub fn consistency_proof(old_size: u64, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: u64, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
        let n = leaves.len() as u64;
        if m == n {
            if !complete {
                out.push(root(leaves));
            }
            return;
        }
        let k = split(n);
        let k_usize = usize::try_from(k).expect("fits");
        if m <= k {
            subproof(m, &leaves[..k_usize], complete, out);
            out.push(root(&leaves[k_usize..]));
        } else {
            subproof(m - k, &leaves[k_usize..], false, out);
            out.push(root(&leaves[..k_usize]));
        }
    }
    let mut out = Vec::new();
    let n = leaves.len() as u64;
    if old_size > 0 && old_size < n {
        subproof(old_size, leaves, true, &mut out);
    }
    out
}

/// Checks that a tree of `old_size` leaves with root `old_root` is a prefix of a
/// tree of `new_size` leaves with root `new_root` (RFC 9162 2.1.4.2).
#[must_use]
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size || old_size == 0 {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let mut proof = proof.to_vec();
    if old_size.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let Some((&first, rest)) = proof.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (first, first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *old_root && s_r == *new_root && s_n == 0
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // test sizes are tiny
mod tests {
    use super::*;

    fn hex(hash: &Hash) -> String {
        crate::entry::hex(hash)
    }

    /// The leaves of the Certificate Transparency reference test data.
    fn reference_leaves() -> Vec<Hash> {
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        inputs.iter().map(|i| leaf_hash(i)).collect()
    }

    #[test]
    fn roots_match_the_reference_vectors() {
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = reference_leaves();
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(hex(&root(&leaves[..=n])), *want, "size {}", n + 1);
        }
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_and_fails_when_altered() {
        let leaves: Vec<Hash> = (0..40_u8).map(|i| leaf_hash(&[i])).collect();
        for n in 1..=leaves.len() {
            let tree = &leaves[..n];
            let r = root(tree);
            for i in 0..n as u64 {
                let proof = inclusion_proof(i, tree);
                assert!(proof.len() <= 64 - (n as u64).leading_zeros() as usize);
                assert!(
                    verify_inclusion(&tree[i as usize], i, n as u64, &proof, &r),
                    "{i} of {n}"
                );
                let other = usize::from(i == 0);
                if n > 1 {
                    assert!(
                        !verify_inclusion(&tree[other], i, n as u64, &proof, &r),
                        "wrong leaf {i} of {n}"
                    );
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&tree[i as usize], i, n as u64, &bad, &r));
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_prefix_fails() {
        let leaves: Vec<Hash> = (0..33_u8).map(|i| leaf_hash(&[i])).collect();
        for n in 1..=leaves.len() {
            for m in 1..=n {
                let proof = consistency_proof(m as u64, &leaves[..n]);
                let (old, new) = (root(&leaves[..m]), root(&leaves[..n]));
                assert!(
                    verify_consistency(m as u64, n as u64, &old, &new, &proof),
                    "{m} -> {n}"
                );
                if m < n {
                    let mut forked = leaves[..n].to_vec();
                    forked[m - 1] = leaf_hash(b"rewritten");
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &old,
                        &root(&forked),
                        &proof
                    ));
                }
            }
        }
    }

    #[test]
    fn the_frontier_gives_the_same_root_as_the_whole_tree() {
        let mut frontier = Frontier::default();
        let mut leaves = Vec::new();
        for i in 0..300_u32 {
            let leaf = leaf_hash(&i.to_be_bytes());
            leaves.push(leaf);
            frontier.push(leaf);
            assert_eq!(frontier.root(), root(&leaves), "{i}");
        }
    }
}
