//! `ShaKey`: a 128-bit SHA-256 prefix used as a hash-map key, which needs no hashing of its own.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The first 128 bits of a SHA-256 digest (`value::key_hash`), held as two halves so that a map
/// entry keyed by it aligns to 8 bytes (a `u128` would pad an entry of 24 bytes to 32). Its bits
/// are already uniform, so a map hashes it by taking one half (`ShaKeyHasher`): no hashing on
/// the thread that looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShaKey([u64; 2]);

impl ShaKey {
    pub fn new(hash: u128) -> ShaKey {
        ShaKey([(hash >> 64) as u64, hash as u64])
    }
}

impl Hash for ShaKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[1]);
    }
}

/// Passes a `ShaKey`'s half through as the hash.
#[derive(Default)]
pub struct ShaKeyHasher(u64);

impl Hasher for ShaKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, half: u64) {
        self.0 = half;
    }

    /// Only `ShaKey`s are hashed with this hasher; any other bytes are still mixed in, so that
    /// a misuse is slow, not wrong.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

/// A hash map keyed by `ShaKey`.
pub type ShaKeyMap<V> = std::collections::HashMap<ShaKey, V, BuildHasherDefault<ShaKeyHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_equal_only_when_all_128_bits_are_equal() {
        let mut m: ShaKeyMap<u32> = ShaKeyMap::default();
        let a = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        // Same low half, other high half: one bucket, two keys.
        let b = a ^ (1u128 << 100);
        m.insert(ShaKey::new(a), 1);
        m.insert(ShaKey::new(b), 2);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&ShaKey::new(a)), Some(&1));
        assert_eq!(m.get(&ShaKey::new(b)), Some(&2));
        assert_eq!(m.get(&ShaKey::new(a ^ 1)), None);
    }
}
