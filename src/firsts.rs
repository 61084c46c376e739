//! The code and first access of each (account, client) pair, as ingest sees events.

use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};

use crate::error::{Error, Result};
use crate::value::Value;

/// The code and the earliest time of each (user, client) pair, by user then client (so that
/// looking a pair up allocates nothing). Codes count up from 0 in the order the store first saw
/// the pairs and never change: stored events carry them. Whether the user and the client are in
/// the reference data is looked up once per pair, not once per event.
#[derive(Default)]
pub struct Firsts {
    pairs: HashMap<String, UserPairs>,
    len: u32,
}

/// One user's pairs.
struct UserPairs {
    known: bool,
    clients: HashMap<String, Pair>,
}

/// A pair as `Firsts::see` leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub code: u32,
    pub first: i64,
    pub known_user: bool,
    pub known_client: bool,
}

/// The accounts in the staff table and the clients in the clients table.
pub struct Known {
    pub users: HashSet<Value>,
    pub clients: HashSet<Value>,
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
    /// The next pair's code: how many pairs there are so far.
    pub fn next_code(&self) -> u32 {
        self.len
    }

    /// Notes an access of `user` to `client` at `t`; the pair.
    pub fn see(&mut self, user: &str, client: &str, t: i64, known: &Known) -> Result<Pair> {
        let user_pairs = self.pairs.entry_ref(user).or_insert_with(|| UserPairs {
            known: known.user(Some(user)),
            clients: HashMap::default(),
        });
        let (code, known_user) = (self.len, user_pairs.known);
        let mut new = false;
        let pair = *user_pairs
            .clients
            .entry_ref(client)
            .and_modify(|p| p.first = p.first.min(t))
            .or_insert_with(|| {
                new = true;
                Pair {
                    code,
                    first: t,
                    known_user,
                    known_client: known.client(Some(client)),
                }
            });
        if new {
            self.len = code.checked_add(1).ok_or_else(|| {
                Error::Invalid("a store holds at most 2^32 (account, client) pairs".into())
            })?;
        }
        Ok(pair)
    }

    /// (user, client, first time) of every pair, in the order of their codes.
    pub fn into_rows(self) -> Result<Vec<(String, String, i64)>> {
        let mut rows: Vec<Option<(String, String, i64)>> = vec![None; self.len as usize];
        for (u, user) in self.pairs {
            for (c, pair) in user.clients {
                rows[pair.code as usize] = Some((u.clone(), c, pair.first));
            }
        }
        rows.into_iter()
            .map(|r| r.ok_or_else(|| Error::Invalid("internal: a pair code without a pair".into())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            users: [Value::Str("u1".into())].into_iter().collect(),
            clients: [Value::Str(format!("bsn1_{}", "0f".repeat(16)).into())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn pairs_get_codes_in_the_order_first_seen_and_keep_the_earliest_time() {
        let k = known();
        let c1 = format!("bsn1_{}", "0f".repeat(16));
        let c2 = format!("bsn1_{}", "1e".repeat(16));
        let mut f = Firsts::default();
        let p = f.see("u1", &c1, 50, &k).unwrap();
        assert_eq!(
            (p.code, p.first, p.known_user, p.known_client),
            (0, 50, true, true)
        );
        let p = f.see("u2", &c1, 40, &k).unwrap();
        assert_eq!((p.code, p.known_user, p.known_client), (1, false, true));
        let p = f.see("u1", &c2, 60, &k).unwrap();
        assert_eq!((p.code, p.known_user, p.known_client), (2, true, false));
        assert_eq!(f.see("u1", &c1, 10, &k).unwrap().code, 0);
        assert_eq!(f.see("u1", &c1, 99, &k).unwrap().first, 10);
        assert_eq!(f.next_code(), 3);
        assert_eq!(
            f.into_rows().unwrap(),
            vec![
                ("u1".to_string(), c1.clone(), 10),
                ("u2".to_string(), c1, 40),
                ("u1".to_string(), c2, 60),
            ]
        );
    }
}
