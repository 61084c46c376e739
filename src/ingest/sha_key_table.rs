//! `ShaKeyTable`: a map keyed by `ShaKey` whose look-ups can be started ahead of time.

use crate::ingest::sha_key::ShaKey;
use crate::prefetch::prefetch;

/// A map from `ShaKey` to a small value, as one array of (key, value) slots probed linearly
/// and at most 70% full. The keys' bits are uniform, so a key's home slot is its low bits: a
/// look-up hashes nothing and reads the slots from its home on, usually one cache line, which
/// `prefetch` asks for before the look-up comes (a general hash map reads its control bytes
/// first, then the entry). The all-zero key, which marks an empty slot, is held aside.
pub struct ShaKeyTable<V: Copy> {
    slots: Vec<(ShaKey, V)>,
    /// The value of the all-zero key.
    zero: Option<V>,
    len: usize,
}

const EMPTY: ShaKey = ShaKey::ZERO;

impl<V: Copy + Default> Default for ShaKeyTable<V> {
    fn default() -> Self {
        ShaKeyTable {
            slots: vec![(EMPTY, V::default()); 1 << 10],
            zero: None,
            len: 0,
        }
    }
}

impl<V: Copy + Default> ShaKeyTable<V> {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: ShaKey) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = key.low() as usize & mask;
        loop {
            let k = self.slots[i].0;
            if k == key || k == EMPTY {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get(&self, key: ShaKey) -> Option<&V> {
        if key == EMPTY {
            return self.zero.as_ref();
        }
        let (k, v) = &self.slots[self.slot(key)];
        (*k == key).then_some(v)
    }

    pub fn get_mut(&mut self, key: ShaKey) -> Option<&mut V> {
        if key == EMPTY {
            return self.zero.as_mut();
        }
        let i = self.slot(key);
        let (k, v) = &mut self.slots[i];
        (*k == key).then_some(v)
    }

    /// Empties the table and keeps its slots: filled again to its size, it neither grows nor
    /// asks the system for memory (fresh memory is cleared by the system, page by page).
    pub fn clear(&mut self) {
        self.slots.fill((EMPTY, V::default()));
        self.zero = None;
        self.len = 0;
    }

    /// Sets `key`'s value, whether or not it has one.
    pub fn insert(&mut self, key: ShaKey, value: V) {
        if key == EMPTY {
            self.len += usize::from(self.zero.is_none());
            self.zero = Some(value);
            return;
        }
        if (self.len + 1) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        let i = self.slot(key);
        if self.slots[i].0 == EMPTY {
            self.len += 1;
        }
        self.slots[i] = (key, value);
    }

    fn grow(&mut self) {
        let doubled = vec![(EMPTY, V::default()); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for (k, v) in old {
            if k != EMPTY {
                let i = self.slot(k);
                self.slots[i] = (k, v);
            }
        }
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.zero.iter().chain(
            self.slots
                .iter()
                .filter(|(k, _)| *k != EMPTY)
                .map(|(_, v)| v),
        )
    }

    /// Asks the processor to fetch `key`'s home slot, to be looked up a little later.
    pub fn prefetch(&self, key: ShaKey) {
        prefetch(&self.slots[key.low() as usize & (self.slots.len() - 1)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn it_agrees_with_a_hash_map_through_growth_overwrites_and_the_zero_key() {
        let mut t: ShaKeyTable<u64> = ShaKeyTable::default();
        let mut reference: HashMap<u128, u64> = HashMap::new();
        // Keys with equal low halves (one home slot, long probes), plain ones, and zero.
        let keys: Vec<u128> = (0..5_000u128)
            .map(|i| (i + 1) << 64)
            .chain(
                (0..20_000u128).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)),
            )
            .chain([0, 1, u128::MAX])
            .collect();
        for (n, &k) in keys.iter().enumerate() {
            t.insert(ShaKey::new(k), n as u64);
            reference.insert(k, n as u64);
            if n % 3 == 0 {
                // Overwrite some, as a second insert of the key does.
                t.insert(ShaKey::new(k), n as u64 + 7);
                reference.insert(k, n as u64 + 7);
            }
        }
        assert_eq!(t.len(), reference.len());
        for (&k, v) in &reference {
            t.prefetch(ShaKey::new(k));
            assert_eq!(t.get(ShaKey::new(k)), Some(v), "{k}");
        }
        if let Some(v) = t.get_mut(ShaKey::new(0)) {
            *v = 99;
        }
        reference.insert(0, 99);
        let shared = keys[7];
        if let Some(v) = t.get_mut(ShaKey::new(shared)) {
            *v = 1234;
        }
        reference.insert(shared, 1234);
        for k in [2u128, 3 << 64, 12345] {
            assert_eq!(
                t.get(ShaKey::new(k)).is_some(),
                reference.contains_key(&k),
                "{k}"
            );
        }
        let mut values: Vec<u64> = t.values().copied().collect();
        let mut expected: Vec<u64> = reference.values().copied().collect();
        values.sort_unstable();
        expected.sort_unstable();
        assert_eq!(values, expected);
    }

    #[test]
    fn a_cleared_table_keeps_its_slots_and_holds_nothing() {
        let mut t: ShaKeyTable<u64> = ShaKeyTable::default();
        for k in 0..10_000u128 {
            t.insert(
                ShaKey::new(k.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)),
                1,
            );
        }
        let slots = t.slots.len();
        t.clear();
        assert_eq!((t.len(), t.slots.len()), (0, slots));
        assert_eq!(t.values().count(), 0);
        assert_eq!(t.get(ShaKey::new(0)), None);
        assert_eq!(
            t.get(ShaKey::new(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)),
            None
        );
        t.insert(ShaKey::new(5), 2);
        assert_eq!((t.get(ShaKey::new(5)), t.len()), (Some(&2), 1));
    }
}
