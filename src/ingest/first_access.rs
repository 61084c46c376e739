//! The code and first access of each (account, client) pair, as ingest sees events.

use polars::prelude::PlHashSet as HashSet;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ingest::sha_key::ShaKey;
use crate::ingest::sha_key_table::ShaKeyTable;
use crate::ingest::value::{key_hash, Value};

/// The code and the earliest time of each (user, client) pair. Codes count up from 0 in the
/// order the store first saw the pairs and never change: stored events carry them. Whether the
/// user and the client are in the reference data is looked up once per pair, not once per event.
///
/// Pairs are found by the 128-bit hash of (user, client) (`Firsts::pair_key`), which the checker
/// threads work out beside the events' own key hashes: looking a pair up hashes and compares no
/// text, and touches one map entry.
#[derive(Default)]
pub struct Firsts {
    pairs: ShaKeyTable<Pair>,
    /// The users and clients of the pairs by code, for `rows`: one text, user then client,
    /// pair after pair, and where each ends (no allocation per name; at 100M events there are
    /// millions of pairs).
    names: String,
    ends: Vec<usize>,
}

/// A pair as `Firsts::see` leaves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pair {
    pub code: u32,
    pub first: i64,
    pub known_user: bool,
    pub known_client: bool,
}

/// The accounts in the staff table and the clients in the clients table.
pub struct Known {
    pub users: Arc<HashSet<Value>>,
    pub clients: Arc<HashSet<Value>>,
}

impl Known {
    pub fn user(&self, user: Option<&str>) -> bool {
        user.is_some_and(|u| self.users.contains(&Value::Str(u.into())))
    }

    pub fn client(&self, client: Option<&str>) -> bool {
        client.is_some_and(|c| self.clients.contains(&Value::Str(c.into())))
    }
}

impl Firsts {
    /// The key `see` finds the pair (`user`, `client`) by: as the key hash of a table keyed by
    /// (user_id, client_pid) would be.
    pub fn pair_key(user: &Value, client: &Value) -> u128 {
        key_hash([user, client])
    }

    /// The next pair's code: how many pairs there are so far.
    pub fn next_code(&self) -> u32 {
        (self.ends.len() / 2) as u32
    }

    /// Notes an access of `user` to `client` at `t`; the pair. `key` is `pair_key(user, client)`.
    pub fn see(
        &mut self,
        key: u128,
        user: &str,
        client: &str,
        t: i64,
        known: &Known,
    ) -> Result<Pair> {
        let key = ShaKey::new(key);
        if let Some(p) = self.pairs.get_mut(key) {
            p.first = p.first.min(t);
            return Ok(*p);
        }
        let code = self.next_code();
        if code == u32::MAX {
            return Err(Error::Invalid(
                "a store holds at most 2^32 - 1 (account, client) pairs".into(),
            ));
        }
        let pair = Pair {
            code,
            first: t,
            known_user: known.user(Some(user)),
            known_client: known.client(Some(client)),
        };
        self.pairs.insert(key, pair);
        for name in [user, client] {
            self.names.push_str(name);
            self.ends.push(self.names.len());
        }
        Ok(pair)
    }

    /// Asks the processor to fetch what `see` will look up for the pair `key`.
    pub fn prefetch(&self, key: u128) {
        self.pairs.prefetch(ShaKey::new(key));
    }

    /// (user, client, first time) of every pair, in the order of their codes.
    pub fn rows(&self) -> Vec<(&str, &str, i64)> {
        let mut firsts: Vec<Option<i64>> = vec![None; self.next_code() as usize];
        for pair in self.pairs.values() {
            firsts[pair.code as usize] = Some(pair.first);
        }
        let mut start = 0;
        let mut names = self.ends.iter().map(|&end| {
            let name = &self.names[start..end];
            start = end;
            name
        });
        firsts
            .into_iter()
            .map(|t| match (names.next(), names.next(), t) {
                (Some(u), Some(c), Some(t)) => (u, c, t),
                _ => unreachable!(
                    "`see` gives each new pair the next code and notes its user and client"
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            users: Arc::new([Value::Str("u1".into())].into_iter().collect()),
            clients: Arc::new(
                [Value::Str(format!("bsn1_{}", "0f".repeat(16)).into())]
                    .into_iter()
                    .collect(),
            ),
        }
    }

    fn see(f: &mut Firsts, u: &str, c: &str, t: i64, k: &Known) -> Result<Pair> {
        let key = Firsts::pair_key(&Value::Str(u.into()), &Value::Str(c.into()));
        f.see(key, u, c, t, k)
    }

    #[test]
    fn pairs_get_codes_in_the_order_first_seen_and_keep_the_earliest_time() {
        let k = known();
        let c1 = format!("bsn1_{}", "0f".repeat(16));
        let c2 = format!("bsn1_{}", "1e".repeat(16));
        let mut f = Firsts::default();
        let p = see(&mut f, "u1", &c1, 50, &k).unwrap();
        assert_eq!(
            (p.code, p.first, p.known_user, p.known_client),
            (0, 50, true, true)
        );
        let p = see(&mut f, "u2", &c1, 40, &k).unwrap();
        assert_eq!((p.code, p.known_user, p.known_client), (1, false, true));
        let p = see(&mut f, "u1", &c2, 60, &k).unwrap();
        assert_eq!((p.code, p.known_user, p.known_client), (2, true, false));
        assert_eq!(see(&mut f, "u1", &c1, 10, &k).unwrap().code, 0);
        assert_eq!(see(&mut f, "u1", &c1, 99, &k).unwrap().first, 10);
        assert_eq!(f.next_code(), 3);
        assert_eq!(
            f.rows(),
            [
                ("u1", c1.as_str(), 10),
                ("u2", c1.as_str(), 40),
                ("u1", c2.as_str(), 60)
            ]
        );
    }
}
