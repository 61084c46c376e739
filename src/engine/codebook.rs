//! The integer codes of accounts, clients and (account, client) pairs for one audit run.

use polars::prelude::*;

use crate::error::Result;

/// Codes of user ids, client pseudonyms and (user, client) pairs, built once per run from the
/// sorted dictionaries and the pair table. An event's codes are then a hash lookup per string and
/// a short binary search, where a polars join would rebuild its hash table over millions of
/// pseudonyms for every part of the run.
pub(crate) struct Codebook {
    users: PlHashMap<String, u32>,
    clients: PlHashMap<String, u32>,
    /// User u's pairs are `user_start[u]..user_start[u + 1]` of `pair_c` (their client codes,
    /// ascending) and `pair_code` (their codes).
    user_start: Vec<u32>,
    pair_c: Vec<u32>,
    pair_code: Vec<u32>,
}

impl Codebook {
    /// From the dictionaries of users and clients (`value`, `code`) and the pairs (`u`, `c`,
    /// `pair`).
    pub(crate) fn new(
        users: &DataFrame,
        clients: &DataFrame,
        pairs: &DataFrame,
    ) -> Result<Codebook> {
        let map = |dict: &DataFrame| -> Result<PlHashMap<String, u32>> {
            let values = dict.column("value")?.str()?;
            let codes = dict.column("code")?.u32()?;
            let mut m = PlHashMap::with_capacity(dict.height());
            for (v, c) in values.iter().zip(codes.iter()) {
                if let (Some(v), Some(c)) = (v, c) {
                    m.insert(v.to_string(), c);
                }
            }
            Ok(m)
        };
        let n_users = users.height();
        let pairs = pairs.sort(["u", "c"], SortMultipleOptions::default())?;
        let (u, c, p) = (
            pairs.column("u")?.u32()?,
            pairs.column("c")?.u32()?,
            pairs.column("pair")?.u32()?,
        );
        let mut user_start = vec![0u32; n_users + 1];
        let mut pair_c = Vec::with_capacity(pairs.height());
        let mut pair_code = Vec::with_capacity(pairs.height());
        let mut last: Option<(u32, u32)> = None;
        for ((u, c), p) in u.iter().zip(c.iter()).zip(p.iter()) {
            let (Some(u), Some(c), Some(p)) = (u, c, p) else {
                panic!("the engine codes every pair's user and client before the codebook");
            };
            assert!(
                last.is_none_or(|l| l < (u, c)) && (u as usize) < n_users,
                "pairs come sorted by (user, client) codes, once each: ({u}, {c}) is not"
            );
            last = Some((u, c));
            user_start[u as usize + 1] += 1;
            pair_c.push(c);
            pair_code.push(p);
        }
        for k in 0..n_users {
            user_start[k + 1] += user_start[k];
        }
        Ok(Codebook {
            users: map(users)?,
            clients: map(clients)?,
            user_start,
            pair_c,
            pair_code,
        })
    }

    /// The code of (user `u`, client `c`), if that pair is known.
    fn pair(&self, u: u32, c: u32) -> Option<u32> {
        let from = *self.user_start.get(u as usize)? as usize;
        let to = *self.user_start.get(u as usize + 1)? as usize;
        self.pair_c[from..to]
            .binary_search(&c)
            .ok()
            .map(|i| self.pair_code[from + i])
    }

    /// `events` with the codes `u`, `c` and `pair` of its `user_id` and `client_pid` (null
    /// where unknown).
    pub(crate) fn key(&self, events: &DataFrame) -> Result<DataFrame> {
        let users = events.column("user_id")?.str()?;
        let clients = events.column("client_pid")?.str()?;
        let n = events.height();
        let (mut us, mut cs, mut ps) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (user, client) in users.iter().zip(clients.iter()) {
            let u = user.and_then(|s| self.users.get(s).copied());
            let c = client.and_then(|s| self.clients.get(s).copied());
            us.push(u);
            cs.push(c);
            ps.push(u.zip(c).and_then(|(u, c)| self.pair(u, c)));
        }
        Ok(events.hstack(&[
            Column::new("u".into(), us),
            Column::new("c".into(), cs),
            Column::new("pair".into(), ps),
        ])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_the_codes_of_their_user_client_and_pair() {
        let users = df!("value" => ["u1", "u2"], "code" => [0u32, 1]).unwrap();
        let clients = df!("value" => ["ca", "cb", "cc"], "code" => [0u32, 1, 2]).unwrap();
        // Pair codes in any order: the store counts them in the order it first saw the pairs.
        let pairs = df!(
            "u" => [1u32, 0, 0, 1],
            "c" => [0u32, 2, 0, 2],
            "pair" => [0u32, 1, 2, 3],
        )
        .unwrap();
        let book = Codebook::new(&users, &clients, &pairs).unwrap();
        let events = df!(
            "user_id" => [Some("u1"), Some("u2"), Some("u2"), Some("u1"), Some("zz"), None],
            "client_pid" => [Some("cc"), Some("ca"), Some("cb"), Some("ca"), Some("ca"), Some("ca")],
        )
        .unwrap();
        let got = book.key(&events).unwrap();
        let codes = |n: &str| -> Vec<Option<u32>> {
            got.column(n).unwrap().u32().unwrap().iter().collect()
        };
        assert_eq!(codes("u"), [Some(0), Some(1), Some(1), Some(0), None, None]);
        assert_eq!(
            codes("c"),
            [Some(2), Some(0), Some(1), Some(0), Some(0), Some(0)]
        );
        // (u2, cb) is no known pair.
        assert_eq!(codes("pair"), [Some(1), Some(0), None, Some(2), None, None]);
    }

    #[test]
    #[should_panic(expected = "pairs come sorted by (user, client) codes, once each")]
    fn a_pair_listed_twice_is_refused() {
        let users = df!("value" => ["u1"], "code" => [0u32]).unwrap();
        let clients = df!("value" => ["ca"], "code" => [0u32]).unwrap();
        let pairs = df!("u" => [0u32, 0], "c" => [0u32, 0], "pair" => [0u32, 1]).unwrap();
        let _ = Codebook::new(&users, &clients, &pairs);
    }
}
