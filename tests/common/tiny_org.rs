//! A small organisation written as contract CSV files, for tests that need a store with a
//! particular shape (a team of three, one employee making most findings, one thin month).
//! Every worker reads their own clients on working days; `snoop` adds unjustified reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};

/// Valid BSNs (11-check), in order, from a starting number.
pub fn bsns(n: usize, from: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut x = from;
    while out.len() < n {
        let s = format!("{x:09}");
        let d: Vec<i64> = s.bytes().map(|b| i64::from(b - b'0')).collect();
        let sum: i64 = (0..8).map(|i| d[i] * (9 - i as i64)).sum::<i64>() - d[8];
        if sum % 11 == 0 && sum != 0 {
            out.push(s);
        }
        x += 1;
    }
    out
}

pub struct Team {
    pub id: String,
    pub workers: usize,
}

pub struct TinyOrg {
    pub teams: Vec<Team>,
    /// Months of 2026 with routine reads.
    pub months: Vec<u32>,
    pub clients_per_worker: usize,
    /// (team, worker index, month) without any routine read.
    pub inactive: Vec<(String, usize, u32)>,
    /// (team, worker index, other team, reads, month): unjustified reads of the other team's clients.
    pub snoops: Vec<(String, usize, String, usize, u32)>,
}

impl TinyOrg {
    pub fn user(team: &str, i: usize) -> String {
        format!("{}-u{i:02}", team.to_lowercase())
    }

    fn client_index(&self, team: usize, worker: usize, k: usize) -> usize {
        let before: usize = self.teams[..team]
            .iter()
            .map(|t| t.workers * self.clients_per_worker)
            .sum();
        before + worker * self.clients_per_worker + k
    }

    fn working_days(month: u32) -> Vec<NaiveDate> {
        let mut d = NaiveDate::from_ymd_opt(2026, month, 1).unwrap();
        let mut out = Vec::new();
        while d.month() == month {
            if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                out.push(d);
            }
            d = d.succ_opt().unwrap();
        }
        out
    }

    /// Writes `reference/*.csv` and `log/access_log.csv` under `dir`; returns both folders.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (reference, log) = (dir.join("reference"), dir.join("log"));
        std::fs::create_dir_all(&reference).unwrap();
        std::fs::create_dir_all(&log).unwrap();
        let n_clients: usize = self
            .teams
            .iter()
            .map(|t| t.workers * self.clients_per_worker)
            .sum();
        let ids = bsns(n_clients + 200, 100_000_000);
        let (staff_bsn, client_bsn) = ids.split_at(200);
        let mut teams = String::from("team_id,name,kind,organisation\n");
        let mut staff = String::from(
            "user_id,display_name,role,team_id,valid_from,valid_to,big_registered,person_id,surname,address_key\n",
        );
        let mut clients = String::from("client_id,surname,address_key,restricted\n");
        let mut cases =
            String::from("case_id,client_id,team_id,opened,closed,closure,domestic_violence\n");
        let mut assignments = String::from("case_id,user_id,relation,valid_from,valid_to\n");
        let mut events = String::from(
            "event_id,event_time,user_id,action,client_id,section,emergency,emergency_reason,outcome,source,workstation\n",
        );
        let mut n_staff = 0;
        let mut n_event = 0;
        let mut event = |user: &str, client: &str, day: NaiveDate, minute: u32| {
            n_event += 1;
            let _ = writeln!(
                events,
                "T{n_event:07},{day}T{:02}:{:02}:00+01:00,{user},R,{client},plan,false,,0,tiny,ws",
                9 + minute / 60 % 8,
                minute % 60
            );
        };
        for (t, team) in self.teams.iter().enumerate() {
            let _ = writeln!(teams, "{},Team {},area,Gemeente Klein", team.id, team.id);
            for w in 0..team.workers {
                let user = Self::user(&team.id, w);
                let _ = writeln!(
                    staff,
                    "{user},Medewerker {user} Achternaam,worker,{},2025-01-01,,false,{},Werker{n_staff},1000 AA {n_staff}",
                    team.id, staff_bsn[n_staff]
                );
                n_staff += 1;
                for k in 0..self.clients_per_worker {
                    let c = self.client_index(t, w, k);
                    let _ = writeln!(clients, "{},Client{c},2000 BB {c},false", client_bsn[c]);
                    let _ = writeln!(
                        cases,
                        "K{c:05},{},{},2025-06-01,,,false",
                        client_bsn[c], team.id
                    );
                    let _ = writeln!(assignments, "K{c:05},{user},primary,2025-06-01,");
                }
            }
        }
        for &month in &self.months {
            let days = Self::working_days(month);
            for (t, team) in self.teams.iter().enumerate() {
                for w in 0..team.workers {
                    if self.inactive.contains(&(team.id.clone(), w, month)) {
                        continue;
                    }
                    let user = Self::user(&team.id, w);
                    for k in 0..self.clients_per_worker {
                        let c = self.client_index(t, w, k);
                        for (i, day) in days.iter().enumerate().skip(k % 3).step_by(5) {
                            event(&user, &client_bsn[c], *day, (i * 7 + w) as u32);
                        }
                    }
                }
            }
        }
        for (team, w, other, reads, month) in &self.snoops {
            let o = self.teams.iter().position(|t| &t.id == other).unwrap();
            let n = self.teams[o].workers * self.clients_per_worker;
            let days = Self::working_days(*month);
            let user = Self::user(team, *w);
            for r in 0..*reads {
                let c = self.client_index(o, 0, 0) + r % n;
                event(
                    &user,
                    &client_bsn[c],
                    days[r % days.len()],
                    (r * 13 + 300) as u32,
                );
            }
        }
        for (name, text) in [
            ("teams.csv", &teams),
            ("staff.csv", &staff),
            ("clients.csv", &clients),
            ("cases.csv", &cases),
            ("assignments.csv", &assignments),
            (
                "complaints.csv",
                &"complaint_id,client_id,handler_user_id,opened,closed\n".to_string(),
            ),
        ] {
            std::fs::write(reference.join(name), text).unwrap();
        }
        std::fs::write(log.join("access_log.csv"), events).unwrap();
        (reference, log)
    }
}
