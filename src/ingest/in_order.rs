//! Puts items that arrive out of order (numbered batches from several threads) back in order.

use std::collections::BTreeMap;

/// Items numbered 0, 1, 2, ... that arrive in any order; `put` gives back those that are next.
pub struct InOrder<T> {
    pending: BTreeMap<u64, T>,
    next: u64,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder {
            pending: BTreeMap::new(),
            next: 0,
        }
    }
}

impl<T> InOrder<T> {
    /// Takes item `seq`; appends to `ready` every item that is now next, in order.
    pub fn put(&mut self, seq: u64, item: T, ready: &mut Vec<T>) {
        self.pending.insert(seq, item);
        while let Some(item) = self.pending.remove(&self.next) {
            ready.push(item);
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_sequence_whatever_order_they_arrive_in() {
        let mut q = InOrder::default();
        let mut out = Vec::new();
        for seq in [2u64, 0, 3, 5, 1, 4] {
            q.put(seq, seq * 10, &mut out);
        }
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50]);

        let mut q = InOrder::default();
        let mut out = Vec::new();
        q.put(1, "b", &mut out);
        assert!(out.is_empty(), "item 1 waits for item 0");
        q.put(0, "a", &mut out);
        assert_eq!(out, vec!["a", "b"]);
    }
}
