//! `ShaKey`: a 128-bit SHA-256 prefix used as a table key, which needs no hashing of its own.

/// The first 128 bits of a SHA-256 digest (`value::key_hash`), held as two halves so that a table
/// slot keyed by it aligns to 8 bytes (a `u128` would pad a slot of 24 bytes to 32). Its bits are
/// already uniform, so a table takes its slot from one half (`ShaKeyTable`): no hashing on the
/// thread that looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShaKey([u64; 2]);

impl ShaKey {
    /// All bits zero: marks an empty slot of a `ShaKeyTable`.
    pub const ZERO: ShaKey = ShaKey([0, 0]);

    pub fn new(hash: u128) -> ShaKey {
        ShaKey([(hash >> 64) as u64, hash as u64])
    }

    /// The low half: uniform bits, so a table's slot for the key.
    pub fn low(self) -> u64 {
        self.0[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_equal_only_when_all_128_bits_are_equal() {
        let a = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        assert_eq!(ShaKey::new(a), ShaKey::new(a));
        // Same low half (one home slot), other high half: another key.
        assert_ne!(ShaKey::new(a), ShaKey::new(a ^ (1u128 << 100)));
        assert_eq!(ShaKey::new(a).low(), ShaKey::new(a ^ (1u128 << 100)).low());
        assert_eq!(ShaKey::new(0), ShaKey::ZERO);
    }
}
