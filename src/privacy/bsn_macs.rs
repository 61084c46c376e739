//! `BsnMacs`: the MACs of the BSNs seen so far, laid out so that a look-up reads one cache line
//! and can be prefetched.

/// Entries per bucket: a bucket (three keys, three MACs) fills one 64-byte cache line.
const WAYS: usize = 3;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Bucket {
    /// BSN + 1 (a BSN is below 10^9), 0 for an empty entry.
    keys: [u32; WAYS],
    macs: [[u8; 16]; WAYS],
}

const EMPTY: Bucket = Bucket {
    keys: [0; WAYS],
    macs: [[0; 16]; WAYS],
};

/// BSN (as a number) -> its 128-bit MAC. A national log names millions of clients, so the table
/// is far larger than the processor's caches and a look-up costs a trip to memory; a general
/// hash map makes two (its control bytes, then the entry), this table one, and `prefetch`
/// starts it ahead of time. Buckets are probed linearly and at most 70% full.
pub struct BsnMacs {
    buckets: Vec<Bucket>,
    len: usize,
}

impl Default for BsnMacs {
    fn default() -> Self {
        BsnMacs {
            buckets: vec![EMPTY; 1 << 10],
            len: 0,
        }
    }
}

impl BsnMacs {
    fn home(&self, key: u32) -> usize {
        // Fibonacci hashing: the top bits of key * 2^64 / phi.
        let bits = self.buckets.len().trailing_zeros();
        (u64::from(key).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    pub fn get(&self, bsn: u32) -> Option<&[u8; 16]> {
        let key = bsn + 1;
        let mask = self.buckets.len() - 1;
        let mut i = self.home(key);
        loop {
            let b = &self.buckets[i];
            for w in 0..WAYS {
                if b.keys[w] == key {
                    return Some(&b.macs[w]);
                }
                if b.keys[w] == 0 {
                    return None;
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `bsn`'s MAC; `bsn` must not be in the table yet.
    pub fn insert(&mut self, bsn: u32, mac: [u8; 16]) {
        if (self.len + 1) * 10 > self.buckets.len() * WAYS * 7 {
            self.grow();
        }
        self.place(bsn + 1, mac);
        self.len += 1;
    }

    fn place(&mut self, key: u32, mac: [u8; 16]) {
        let mask = self.buckets.len() - 1;
        let mut i = self.home(key);
        loop {
            let b = &mut self.buckets[i];
            if let Some(w) = b.keys.iter().position(|&k| k == 0) {
                b.keys[w] = key;
                b.macs[w] = mac;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![EMPTY; self.buckets.len() * 2];
        let old = std::mem::replace(&mut self.buckets, doubled);
        for b in &old {
            for w in 0..WAYS {
                if b.keys[w] != 0 {
                    self.place(b.keys[w], b.macs[w]);
                }
            }
        }
    }

    /// Asks the processor to fetch `bsn`'s home bucket, to be looked up a little later.
    pub fn prefetch(&self, bsn: u32) {
        crate::prefetch::prefetch(&self.buckets[self.home(bsn + 1)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inserted_bsn_is_found_with_its_mac_and_no_other_is() {
        let mut t = BsnMacs::default();
        let mut reference = std::collections::HashMap::new();
        // Keys that collide on purpose (multiples of a power of two) and plain ones, past
        // several doublings of the table; 0 is a valid key (stored as 1).
        let keys: Vec<u32> = (0..20_000u32)
            .map(|i| i << 12)
            .chain((0..20_000).map(|i| i * 7919 + 3))
            .chain([0, 999_999_999])
            .collect();
        for &k in &keys {
            if reference.contains_key(&k) {
                continue;
            }
            let mac = [(k % 251) as u8; 16];
            t.insert(k, mac);
            reference.insert(k, mac);
        }
        assert_eq!(t.len, reference.len());
        for (k, mac) in &reference {
            t.prefetch(*k);
            assert_eq!(t.get(*k), Some(mac), "{k}");
        }
        for k in [1u32, 5, 123_456_789, (1 << 12) + 1] {
            assert_eq!(t.get(k), reference.get(&k), "{k}");
        }
    }
}
