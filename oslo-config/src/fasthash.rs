//! A small, fast, non-cryptographic hasher for the crate's internal maps.
//!
//! The keys are option names, group names and the keys of configuration files: short strings chosen by the
//! program or by its administrator, so the per-process random `SipHash` of the standard library (built to
//! resist crafted collisions from untrusted peers) costs more than it protects here. This is the
//! multiply-rotate scheme of the Firefox/rustc "Fx" hash, fed eight bytes at a time.

use std::hash::{BuildHasherDefault, Hasher};

/// The multiplier of the Fx hash.
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher state.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // The length first, so that zero padding of the last word cannot make "a" and "a\0" collide.
        self.add(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The `BuildHasher` of the crate's internal maps.
pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// The hash of a string under the fast hasher (the same for equal strings in every run).
pub(crate) fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    FxBuild::default().hash_one(s)
}

/// One hash for a pair of hashes (a section's and a key's), mixed as the hasher mixes its words.
pub(crate) fn combine(first: u64, second: u64) -> u64 {
    let mut h = FxHasher { hash: first };
    h.add(second);
    h.hash
}

/// An insertion-ordered map with the fast hasher.
pub(crate) type FxIndexMap<K, V> = indexmap::IndexMap<K, V, FxBuild>;

/// A hash map with the fast hasher.
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn equal_strings_hash_equal_and_different_ones_differ() {
        let b = FxBuild::default();
        assert_eq!(b.hash_one("group_1"), b.hash_one(String::from("group_1")));
        assert_ne!(b.hash_one("opt_1"), b.hash_one("opt_2"));
        assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
        assert_ne!(b.hash_one("abcdefgh1"), b.hash_one("abcdefgh2"));
    }
}
