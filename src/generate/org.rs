//! The synthetic organisation: teams, staff role periods, clients, cases, assignments, complaints.

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::privacy::bsn::Bsn;

pub const ORGANISATION: &str = "Gemeente Voorbeeldstad";

const FIRST_NAMES: &[&str] = &[
    "Anne", "Bram", "Carla", "Daan", "Esra", "Femke", "Gijs", "Hanna", "Ilse", "Joost", "Karim",
    "Lotte", "Mohamed", "Noor", "Oscar", "Petra", "Quinten", "Rosa", "Sanne", "Thijs", "Umut",
    "Vera", "Willem", "Yara", "Zeynep", "Bas", "Eva", "Lieke", "Ruben", "Sophie",
];
pub const SURNAMES: &[&str] = &[
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "Kok",
    "Jacobs",
    "Haan",
    "Vermeulen",
    "van den Heuvel",
    "van der Veen",
    "van den Broek",
    "Yilmaz",
    "El Amrani",
    "Kaya",
    "Öztürk",
    "Brinkman",
    "Çelik",
    "Huisman",
    "Prins",
];
const STREET_LETTERS: &[&str] = &["AB", "BK", "CD", "EG", "HJ", "KL", "MN", "PR", "ST", "VW"];

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
}

/// One role period of an account.
#[derive(Debug, Clone)]
pub struct RolePeriod {
    pub user: usize,
    pub role: &'static str,
    pub team: usize,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub big: bool,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: String,
    pub name: String,
    pub bsn: String,
    pub surname: String,
    pub address: String,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub bsn: String,
    pub surname: String,
    pub address: String,
    pub restricted: bool,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub client: usize,
    pub team: usize,
    pub opened: NaiveDate,
    pub closed: Option<NaiveDate>,
    pub closure: Option<&'static str>,
    pub dv: bool,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub case: usize,
    pub user: usize,
    pub relation: &'static str,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct Complaint {
    pub id: String,
    pub client: usize,
    pub handler: usize,
    pub opened: NaiveDate,
    pub closed: Option<NaiveDate>,
}

/// The whole organisation. Indices link the parts.
#[derive(Debug, Clone, Default)]
pub struct Org {
    pub teams: Vec<Team>,
    pub people: Vec<Person>,
    pub roles: Vec<RolePeriod>,
    pub clients: Vec<Client>,
    pub cases: Vec<Case>,
    pub assignments: Vec<Assignment>,
    pub complaints: Vec<Complaint>,
    /// First and last day of the logged period.
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Role periods per user and per (team, role), in the order of `roles` (built once the
    /// roles are final, so that large organisations do not scan every role per question).
    roles_of_user: Vec<Vec<usize>>,
    roles_of_team: std::collections::HashMap<(usize, String), Vec<usize>>,
}

pub fn in_period(d: NaiveDate, from: NaiveDate, to: Option<NaiveDate>) -> bool {
    d >= from && to.is_none_or(|t| d <= t)
}

/// A random BSN that passes the 11-check and is not yet used.
pub fn random_bsn(rng: &mut ChaCha8Rng, used: &mut std::collections::HashSet<String>) -> String {
    loop {
        let mut d: Vec<u8> = (0..8).map(|_| rng.random_range(0..10u8)).collect();
        d[0] = rng.random_range(1..10);
        let s: i64 = d
            .iter()
            .enumerate()
            .map(|(i, &x)| i64::from(x) * (9 - i as i64))
            .sum();
        let last = s % 11;
        if last > 9 {
            continue;
        }
        d.push(last as u8);
        let text: String = d.iter().map(|x| char::from(b'0' + x)).collect();
        if Bsn::parse(&text).is_ok() && used.insert(text.clone()) {
            return text;
        }
    }
}

fn address(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{} {} {}",
        rng.random_range(2311..2334),
        STREET_LETTERS.choose(rng).unwrap_or(&"AB"),
        rng.random_range(1..180)
    )
}

impl Org {
    pub fn team_of_kind(&self, kind: &str) -> Vec<usize> {
        (0..self.teams.len())
            .filter(|&t| self.teams[t].kind == kind)
            .collect()
    }

    fn index_roles(&mut self) {
        self.roles_of_user = vec![Vec::new(); self.people.len()];
        self.roles_of_team.clear();
        for (i, r) in self.roles.iter().enumerate() {
            self.roles_of_user[r.user].push(i);
            self.roles_of_team
                .entry((r.team, r.role.to_string()))
                .or_default()
                .push(i);
        }
    }

    /// Role periods of a user valid on a day.
    pub fn roles_on(&self, user: usize, d: NaiveDate) -> impl Iterator<Item = &RolePeriod> {
        self.roles_of_user
            .get(user)
            .into_iter()
            .flatten()
            .map(|&i| &self.roles[i])
            .filter(move |r| in_period(d, r.from, r.to))
    }

    /// Users holding `role` in `team` on day `d`.
    pub fn members(&self, team: usize, role: &str, d: NaiveDate) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .roles_of_team
            .get(&(team, role.to_string()))
            .into_iter()
            .flatten()
            .map(|&i| &self.roles[i])
            .filter(|r| in_period(d, r.from, r.to))
            .map(|r| r.user)
            .collect();
        v.dedup();
        v
    }

    /// Builds an organisation of `area_teams` area teams and about `clients` clients.
    pub fn build(
        rng: &mut ChaCha8Rng,
        area_teams: usize,
        clients: usize,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Org {
        let mut org = Org {
            start,
            end,
            ..Org::default()
        };
        let mut used = std::collections::HashSet::new();
        let areas = [
            "Noord", "Zuid", "Oost", "West", "Centrum", "Haven", "Dorp", "Park", "Molen", "Polder",
        ];
        for i in 0..area_teams {
            let name = areas
                .get(i)
                .map_or(format!("Wijk {}", i + 1), |a| a.to_string());
            org.teams.push(Team {
                id: format!("WT-{}", name.to_uppercase().replace(' ', "")),
                name: format!("Sociaal Wijkteam {name}"),
                kind: "area",
            });
        }
        for (id, name, kind) in [
            ("TOEGANG", "Toegangsteam Wmo", "access"),
            ("STAD", "Stedelijk team", "citywide"),
            ("BACKOFFICE", "Backoffice Wmo", "backoffice"),
            ("KLACHTEN", "Klachtenbehandeling", "complaints"),
            ("VT", "Veilig Thuis regio", "veilig_thuis"),
            ("STAF", "Staf sociaal domein", "backoffice"),
        ] {
            org.teams.push(Team {
                id: id.into(),
                name: name.into(),
                kind,
            });
        }
        let history_start = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or(start);
        let mut add_person = |org: &mut Org, rng: &mut ChaCha8Rng| -> usize {
            let n = org.people.len();
            let surname = SURNAMES.choose(rng).unwrap_or(&"Bakker").to_string();
            org.people.push(Person {
                user_id: format!("mw{:04}", 1001 + n),
                name: format!("{} {}", FIRST_NAMES.choose(rng).unwrap_or(&"Anne"), surname),
                bsn: random_bsn(rng, &mut used),
                surname,
                address: address(rng),
            });
            n
        };
        let team_count = org.teams.len();
        for t in 0..team_count {
            let (roles, n): (&[&'static str], usize) = match org.teams[t].kind {
                "area" => (&["worker"], 5),
                "access" => (&["worker"], 3),
                "citywide" => (&["worker"], 3),
                "complaints" => (&["complaints_handler"], 2),
                "veilig_thuis" => (&["veilig_thuis"], 2),
                _ if org.teams[t].id == "BACKOFFICE" => (&["backoffice"], 3),
                _ => (
                    &crate::policy::rule::Role::ALL.map(crate::policy::rule::Role::name),
                    1,
                ),
            };
            for role in roles {
                for _ in 0..n {
                    let user = add_person(&mut org, rng);
                    org.roles.push(RolePeriod {
                        user,
                        role,
                        team: t,
                        from: history_start,
                        to: None,
                        big: *role == "worker" && rng.random_bool(0.3),
                    });
                }
            }
            if matches!(org.teams[t].kind, "area" | "access") {
                let user = add_person(&mut org, rng);
                org.roles.push(RolePeriod {
                    user,
                    role: "coach",
                    team: t,
                    from: history_start,
                    to: None,
                    big: false,
                });
            }
        }
        org.role_histories(rng);
        org.index_roles();
        org.add_clients(rng, clients);
        org.add_assignments(rng);
        org.add_complaints(rng);
        org
    }

    /// Moves between teams, a leaver and a joiner, so role periods matter.
    fn role_histories(&mut self, rng: &mut ChaCha8Rng) {
        let areas = self.team_of_kind("area");
        if areas.len() < 2 {
            return;
        }
        let mid = self.start + Duration::days(150);
        // A worker moves from the first to the second area team.
        if let Some(i) = self
            .roles
            .iter()
            .position(|r| r.team == areas[0] && r.role == "worker")
        {
            let mut moved = self.roles[i].clone();
            self.roles[i].to = Some(mid - Duration::days(1));
            moved.team = areas[1];
            moved.from = mid;
            self.roles.push(moved);
        }
        // A worker of the second area team leaves.
        if let Some(r) = self
            .roles
            .iter_mut()
            .rev()
            .find(|r| r.team == areas[1] && r.role == "worker" && r.to.is_none())
        {
            r.to = Some(self.start + Duration::days(200));
        }
        // A worker joins the last area team.
        let user = self.people.len();
        let surname = SURNAMES.choose(rng).unwrap_or(&"Bakker").to_string();
        let mut used: std::collections::HashSet<String> =
            self.people.iter().map(|p| p.bsn.clone()).collect();
        self.people.push(Person {
            user_id: format!("mw{:04}", 1001 + user),
            name: format!("{} {}", FIRST_NAMES.choose(rng).unwrap_or(&"Anne"), surname),
            bsn: random_bsn(rng, &mut used),
            surname,
            address: address(rng),
        });
        self.roles.push(RolePeriod {
            user,
            role: "worker",
            team: areas[areas.len() - 1],
            from: self.start + Duration::days(120),
            to: None,
            big: true,
        });
    }

    fn add_clients(&mut self, rng: &mut ChaCha8Rng, n: usize) {
        let mut used: std::collections::HashSet<String> =
            self.people.iter().map(|p| p.bsn.clone()).collect();
        let holders: Vec<usize> = ["area", "area", "area", "area", "access", "citywide"]
            .iter()
            .flat_map(|k| self.team_of_kind(k))
            .collect();
        for c in 0..n {
            self.clients.push(Client {
                bsn: random_bsn(rng, &mut used),
                surname: SURNAMES.choose(rng).unwrap_or(&"Bakker").to_string(),
                address: address(rng),
                restricted: rng.random_bool(0.015),
            });
            let n_cases = if rng.random_bool(0.12) { 2 } else { 1 };
            let mut opened = self.start - Duration::days(rng.random_range(30..500));
            for k in 0..n_cases {
                if k > 0 {
                    opened += Duration::days(rng.random_range(200..400));
                }
                if opened > self.end - Duration::days(20) {
                    break;
                }
                let closed = if rng.random_bool(0.45) {
                    let d = opened + Duration::days(rng.random_range(60..420));
                    (d < self.end).then_some(d)
                } else {
                    None
                };
                let closure = closed.map(|_| {
                    *[
                        "completed",
                        "completed",
                        "completed",
                        "no_support",
                        "aborted",
                    ]
                    .choose(rng)
                    .unwrap_or(&"completed")
                });
                self.cases.push(Case {
                    id: format!("Z{:06}", 100_001 + self.cases.len()),
                    client: c,
                    team: *holders.choose(rng).unwrap_or(&0),
                    opened,
                    closed,
                    closure,
                    dv: rng.random_bool(0.06),
                });
            }
        }
        // Clients whose only case closed two decades ago: past any retention period.
        for _ in 0..4 {
            let c = self.clients.len();
            self.clients.push(Client {
                bsn: random_bsn(rng, &mut used),
                surname: SURNAMES.choose(rng).unwrap_or(&"Bakker").to_string(),
                address: address(rng),
                restricted: false,
            });
            let opened =
                NaiveDate::from_ymd_opt(2002, rng.random_range(1..13), 1).unwrap_or(self.start);
            self.cases.push(Case {
                id: format!("Z{:06}", 100_001 + self.cases.len()),
                client: c,
                team: holders[0],
                opened,
                closed: Some(opened + Duration::days(300)),
                closure: Some("completed"),
                dv: false,
            });
        }
    }

    /// A primary worker for every case over its whole life (handed over when a worker moves
    /// or leaves), back-office co-workers, and replacements during holidays.
    fn add_assignments(&mut self, rng: &mut ChaCha8Rng) {
        let backoffice = self.teams.iter().position(|t| t.id == "BACKOFFICE");
        for case in 0..self.cases.len() {
            let first_of_case = self.assignments.len();
            let c = self.cases[case].clone();
            let last = c.closed.unwrap_or(self.end);
            let mut day = c.opened;
            while day <= last {
                let workers = self.members(c.team, "worker", day);
                let Some(&w) = workers.choose(rng) else {
                    day += Duration::days(30);
                    continue;
                };
                let until = self
                    .roles_on(w, day)
                    .filter(|r| r.team == c.team)
                    .filter_map(|r| r.to)
                    .min();
                let end = match until {
                    Some(u) if u < last => Some(u),
                    _ => c.closed,
                };
                self.assignments.push(Assignment {
                    case,
                    user: w,
                    relation: "primary",
                    from: day,
                    to: end,
                });
                match end {
                    Some(e) if e < last => day = e + Duration::days(1),
                    _ => break,
                }
            }
            if let Some(bo) = backoffice {
                if rng.random_bool(0.5) {
                    let from = c.opened + Duration::days(rng.random_range(5..20));
                    if let Some(&u) = self.members(bo, "backoffice", from).choose(rng) {
                        self.assignments.push(Assignment {
                            case,
                            user: u,
                            relation: "co_worker",
                            from,
                            to: Some(from + Duration::days(30)),
                        });
                    }
                }
            }
            if c.closed.is_none() && rng.random_bool(0.15) {
                let from = self.start + Duration::days(rng.random_range(10..300));
                let primaries: Vec<usize> = self.assignments[first_of_case..]
                    .iter()
                    .filter(|a| a.case == case && in_period(from, a.from, a.to))
                    .map(|a| a.user)
                    .collect();
                let others: Vec<usize> = self
                    .members(c.team, "worker", from)
                    .into_iter()
                    .filter(|u| !primaries.contains(u))
                    .collect();
                if let Some(&u) = others.choose(rng) {
                    self.assignments.push(Assignment {
                        case,
                        user: u,
                        relation: "replacement",
                        from,
                        to: Some(from + Duration::days(13)),
                    });
                }
            }
        }
    }

    fn add_complaints(&mut self, rng: &mut ChaCha8Rng) {
        let Some(&team) = self.team_of_kind("complaints").first() else {
            return;
        };
        let n = (self.clients.len() / 40).max(3);
        for _ in 0..n {
            let case = &self.cases[rng.random_range(0..self.cases.len())];
            if case.opened.year() < 2010 {
                continue;
            }
            let opened = self.start + Duration::days(rng.random_range(0..330));
            let Some(&handler) = self.members(team, "complaints_handler", opened).choose(rng)
            else {
                continue;
            };
            let closed = opened + Duration::days(rng.random_range(20..60));
            self.complaints.push(Complaint {
                id: format!("K{:05}", 20_001 + self.complaints.len()),
                client: case.client,
                handler,
                opened,
                closed: (closed < self.end).then_some(closed),
            });
        }
    }
}
