//! Statistical disclosure control for management tables: primary suppression (fewer than k
//! distinct employees or clients, or one or two employees making up most of a cell) and
//! secondary suppression (no suppressed cell can be recomputed from the totals of a line).
//! Pure: cells in, a decision per cell out, with the rule that decided it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::policy::Thresholds;

/// Why a cell is not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Fewer than k distinct employees contribute.
    KEmployees,
    /// Fewer than k distinct clients contribute.
    KClients,
    /// One or two employees make up the dominance share or more.
    Dominance,
    /// The findings of a cell whose activity is suppressed (a rate would reveal the count).
    Linked,
    /// Suppressed so that another suppressed cell cannot be recomputed from a total.
    Secondary,
}

/// Who contributes to a cell's value, for the primary rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contributors {
    /// The cell's value (a count).
    pub total: u64,
    pub employees: usize,
    pub clients: usize,
    /// The largest per-employee contributions, largest first (at least `dominance_n` long when
    /// there are that many employees).
    pub top: Vec<u64>,
}

/// The primary rule that suppresses a cell, if any. A cell with nothing in it (total 0)
/// reveals nothing about anyone and is published.
pub fn primary(c: &Contributors, k: usize, t: &Thresholds) -> Option<Rule> {
    if c.total == 0 {
        return None;
    }
    if c.employees < k {
        return Some(Rule::KEmployees);
    }
    if c.clients < k {
        return Some(Rule::KClients);
    }
    let top: u64 = c.top.iter().take(t.dominance_n).sum();
    if top as f64 >= t.dominance_share * c.total as f64 {
        return Some(Rule::Dominance);
    }
    None
}

/// A cell of a release: its table part, row and column. Cells that appear in more than one
/// table (the organisation's total) use one key, so they get one treatment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CellKey {
    pub grid: String,
    pub row: String,
    pub col: String,
}

impl CellKey {
    pub fn new(grid: &str, row: &str, col: &str) -> CellKey {
        CellKey {
            grid: grid.into(),
            row: row.into(),
            col: col.into(),
        }
    }
}

/// A line of cells whose values add up to its total cell (also part of the line).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub cells: Vec<CellKey>,
    pub total: CellKey,
}

/// Adds secondary suppressions until no suppressed cell can be recomputed. First, no line may
/// have exactly one suppressed cell: the line's published cell with the smallest non-zero value
/// is added (interior cells before the total; a zero is a weak complement, since a line of
/// zeros gives itself away). Then the attacker of `recoverable` is run, and for a cell it still
/// recovers, one more cell of one of its lines is suppressed, until it recovers nothing.
/// Deterministic: ties go by key order.
pub fn secondary(
    suppressed: &mut BTreeMap<CellKey, Rule>,
    lines: &[Line],
    value: &BTreeMap<CellKey, u64>,
) {
    let worth = |c: &CellKey, line: &Line| {
        let v = value.get(c).copied().unwrap_or(0);
        (v == 0, c == &line.total, v, c.clone())
    };
    loop {
        loop {
            let mut changed = false;
            for line in lines {
                let all: Vec<&CellKey> = line.cells.iter().chain([&line.total]).collect();
                let n = all.iter().filter(|c| suppressed.contains_key(**c)).count();
                if n != 1 {
                    continue;
                }
                let pick = all
                    .iter()
                    .filter(|c| !suppressed.contains_key(**c))
                    .min_by_key(|c| worth(c, line));
                if let Some(c) = pick {
                    suppressed.insert((*c).clone(), Rule::Secondary);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let keys: BTreeSet<CellKey> = suppressed.keys().cloned().collect();
        let Some(exposed) = recoverable(&keys, lines, value).into_iter().next() else {
            return;
        };
        let pick = lines
            .iter()
            .filter(|l| l.total == exposed || l.cells.contains(&exposed))
            .flat_map(|l| {
                l.cells
                    .iter()
                    .chain([&l.total])
                    .filter(|c| !suppressed.contains_key(*c))
                    .map(move |c| (worth(c, l), c))
            })
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, c)| c.clone());
        match pick {
            Some(c) => {
                suppressed.insert(c, Rule::Secondary);
            }
            // Every cell of its lines is already suppressed: nothing more can be done here.
            None => return,
        }
    }
}

/// The cells an attacker can compute exactly from the published values and the line totals,
/// repeating until nothing new is found: a line whose published total leaves zero for its
/// suppressed cells makes them all zero (counts are not negative), and a suppressed cell is
/// fixed by the linear system of all lines when a row of its reduced row echelon form is that
/// cell's unit vector. `secondary` uses it to repair a release; the tests use it as attacker.
pub fn recoverable(
    suppressed: &BTreeSet<CellKey>,
    lines: &[Line],
    value: &BTreeMap<CellKey, u64>,
) -> BTreeSet<CellKey> {
    let mut found: BTreeSet<CellKey> = BTreeSet::new();
    loop {
        let unknown: Vec<&CellKey> = suppressed.iter().filter(|c| !found.contains(*c)).collect();
        let index: BTreeMap<&CellKey, usize> =
            unknown.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let n = unknown.len();
        let mut rows: Vec<Vec<f64>> = Vec::new();
        let mut new: BTreeSet<CellKey> = BTreeSet::new();
        for line in lines {
            let mut coef = vec![0.0; n];
            let mut rhs = 0.0;
            let mut any = false;
            for (c, sign) in line
                .cells
                .iter()
                .map(|c| (c, 1.0))
                .chain([(&line.total, -1.0)])
            {
                match index.get(c) {
                    Some(&i) => {
                        coef[i] += sign;
                        any = true;
                    }
                    None => rhs -= sign * value.get(c).copied().unwrap_or(0) as f64,
                }
            }
            if !any {
                continue;
            }
            if !index.contains_key(&line.total) && rhs.abs() < 0.5 {
                new.extend(line.cells.iter().filter(|c| index.contains_key(c)).cloned());
            }
            rows.push(coef);
        }
        // Reduced row echelon form.
        let mut r = 0;
        for col in 0..n {
            let Some(p) =
                (r..rows.len()).max_by(|&a, &b| rows[a][col].abs().total_cmp(&rows[b][col].abs()))
            else {
                break;
            };
            if rows[p][col].abs() < 1e-9 {
                continue;
            }
            rows.swap(r, p);
            let pivot = rows[r][col];
            for x in rows[r].iter_mut() {
                *x /= pivot;
            }
            for i in 0..rows.len() {
                if i != r && rows[i][col].abs() > 1e-12 {
                    let f = rows[i][col];
                    let (head, tail) = if i < r {
                        let (a, b) = rows.split_at_mut(r);
                        (&mut a[i], &b[0])
                    } else {
                        let (a, b) = rows.split_at_mut(i);
                        (&mut b[0], &a[r])
                    };
                    for j in 0..n {
                        head[j] -= f * tail[j];
                    }
                }
            }
            r += 1;
            if r == rows.len() {
                break;
            }
        }
        for row in &rows[..r] {
            let nonzero: Vec<usize> = (0..n).filter(|&j| row[j].abs() > 1e-9).collect();
            if nonzero.len() == 1 {
                new.insert(unknown[nonzero[0]].clone());
            }
        }
        new.retain(|c| !found.contains(c));
        if new.is_empty() {
            return found;
        }
        found.extend(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(total: u64, employees: usize, clients: usize, top: &[u64]) -> Contributors {
        Contributors {
            total,
            employees,
            clients,
            top: top.to_vec(),
        }
    }

    #[test]
    fn primary_rules_in_order() {
        let t = Thresholds::default();
        assert_eq!(primary(&c(0, 0, 0, &[]), 5, &t), None);
        assert_eq!(
            primary(&c(40, 3, 30, &[20, 10, 10]), 5, &t),
            Some(Rule::KEmployees)
        );
        assert_eq!(primary(&c(40, 8, 4, &[5, 5]), 5, &t), Some(Rule::KClients));
        assert_eq!(
            primary(&c(100, 8, 30, &[80, 6]), 5, &t),
            Some(Rule::Dominance)
        );
        assert_eq!(primary(&c(100, 8, 30, &[50, 30]), 5, &t), None);
        assert_eq!(
            primary(&c(40, 8, 30, &[5, 5]), 10, &t),
            Some(Rule::KEmployees)
        );
    }

    /// A 2x2 table with row and column totals.
    fn grid() -> (Vec<Line>, BTreeMap<CellKey, u64>) {
        let k = |r: &str, c: &str| CellKey::new("g", r, c);
        let mut v = BTreeMap::new();
        for (r, c, x) in [
            ("a", "1", 10),
            ("a", "2", 20),
            ("b", "1", 30),
            ("b", "2", 40),
            ("a", "T", 30),
            ("b", "T", 70),
            ("O", "1", 40),
            ("O", "2", 60),
            ("O", "T", 100),
        ] {
            v.insert(k(r, c), x);
        }
        let lines = vec![
            Line {
                cells: vec![k("a", "1"), k("a", "2")],
                total: k("a", "T"),
            },
            Line {
                cells: vec![k("b", "1"), k("b", "2")],
                total: k("b", "T"),
            },
            Line {
                cells: vec![k("O", "1"), k("O", "2")],
                total: k("O", "T"),
            },
            Line {
                cells: vec![k("a", "1"), k("b", "1")],
                total: k("O", "1"),
            },
            Line {
                cells: vec![k("a", "2"), k("b", "2")],
                total: k("O", "2"),
            },
            Line {
                cells: vec![k("a", "T"), k("b", "T")],
                total: k("O", "T"),
            },
        ];
        (lines, v)
    }

    #[test]
    fn one_small_cell_is_protected_by_secondary_suppression() {
        let (lines, v) = grid();
        let mut s = BTreeMap::new();
        s.insert(CellKey::new("g", "a", "1"), Rule::KEmployees);
        // Alone, the cell is recoverable from its row total.
        let alone: BTreeSet<CellKey> = s.keys().cloned().collect();
        assert!(!recoverable(&alone, &lines, &v).is_empty());
        secondary(&mut s, &lines, &v);
        // A rectangle a1, a2, b1, b2: nothing is recoverable any more.
        let keys: BTreeSet<CellKey> = s.keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert!(recoverable(&keys, &lines, &v).is_empty());
        assert!(s.values().filter(|r| **r == Rule::Secondary).count() == 3);
    }

    #[test]
    fn zero_complements_that_give_themselves_away_are_repaired() {
        let (lines, mut v) = grid();
        // Row a is all zeros but a1's column partner: a1 = 0, a2 = 0, total 0; b1 is small.
        v.insert(CellKey::new("g", "a", "1"), 0);
        v.insert(CellKey::new("g", "a", "2"), 0);
        v.insert(CellKey::new("g", "a", "T"), 0);
        v.insert(CellKey::new("g", "O", "1"), 30);
        v.insert(CellKey::new("g", "O", "2"), 40);
        v.insert(CellKey::new("g", "O", "T"), 70);
        let mut s = BTreeMap::new();
        s.insert(CellKey::new("g", "b", "1"), Rule::KEmployees);
        secondary(&mut s, &lines, &v);
        let keys: BTreeSet<CellKey> = s.keys().cloned().collect();
        assert!(recoverable(&keys, &lines, &v).is_empty(), "{keys:?}");
    }

    #[test]
    fn the_attacker_sees_zero_remainders_and_chains() {
        let (lines, mut v) = grid();
        // a1 = 0 and a2 = 0 suppressed with row total 0 published: both are known to be 0.
        v.insert(CellKey::new("g", "a", "1"), 0);
        v.insert(CellKey::new("g", "a", "2"), 0);
        v.insert(CellKey::new("g", "a", "T"), 0);
        let s: BTreeSet<CellKey> = [CellKey::new("g", "a", "1"), CellKey::new("g", "a", "2")]
            .into_iter()
            .collect();
        assert_eq!(recoverable(&s, &lines, &v).len(), 2);
    }
}
