//! Investigations, the resident's overview and the evidence manifest on the committed sample:
//! a labelled employee's misuse is fully in their investigation, a labelled client's overview
//! lists exactly their accesses, bad BSNs are refused clearly, outputs are byte-identical on a
//! re-run, and `verify` catches a tampered file.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn policy() -> PathBuf {
    root().join("samples/voorbeeldstad/policy.toml")
}

fn key() -> PathBuf {
    root().join("samples/demo-key.json")
}

fn cmd(args: &[&str], out: &Path) -> Output {
    let mut c = bin();
    c.args(args)
        .arg("--store")
        .arg(sample_store())
        .arg("--policy")
        .arg(policy())
        .arg("--out")
        .arg(out);
    c.output().unwrap()
}

/// Runs a command that must be refused (exit 1) with `message` on stderr.
fn refused(args: &[&str], out: &Path, message: &str) -> String {
    let o = cmd(args, out);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains(message), "{err}");
    err
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    common::csv_reader(path)
        .records()
        .map(|r| r.unwrap())
        .collect()
}

fn column(path: &Path, name: &str) -> Vec<String> {
    let mut r = common::csv_reader(path);
    let i = r.headers().unwrap().iter().position(|h| h == name).unwrap();
    r.records().map(|x| x.unwrap()[i].to_string()).collect()
}

/// (event_id, kind, expected verdict) of the labels of one user.
fn labels_of(user: &str) -> Vec<(String, String, String)> {
    csv_rows(&root().join("samples/voorbeeldstad/labels.csv"))
        .into_iter()
        .filter(|r| &r[2] == user && &r[1] != "role_read")
        .map(|r| (r[0].to_string(), r[1].to_string(), r[3].to_string()))
        .collect()
}

/// The sample's canonical log: (event_id, client BSN).
fn log() -> Vec<(String, String)> {
    csv_rows(&root().join("samples/voorbeeldstad/canonical/access_log.csv"))
        .into_iter()
        .map(|r| (r[0].to_string(), r[4].to_string()))
        .collect()
}

#[test]
fn an_employee_investigation_holds_all_their_injected_misuse() {
    let dir = tempfile::tempdir().unwrap();
    // mw1002 snoops on other teams' clients and browses restricted clients.
    let labels = labels_of("mw1002");
    assert!(labels.len() >= 5, "{labels:?}");
    let out = dir.path().join("u");
    ok(&cmd(&["investigate", "user", "mw1002"], &out));
    let events = out.join("events.csv");
    let ids = column(&events, "event_id");
    let verdicts = column(&events, "verdict");
    let users: BTreeSet<String> = column(&events, "user_id").into_iter().collect();
    assert_eq!(users, BTreeSet::from(["mw1002".to_string()]));
    for (id, kind, want) in &labels {
        let i = ids
            .iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("{id} ({kind}) missing"));
        assert_eq!(&verdicts[i], want, "{id} {kind}");
    }
    // Every access of the user is there: as many as the log has.
    let store_count = log().len(); // all users
    assert!(ids.len() > 1000 && ids.len() < store_count);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"pattern\"") && html.contains("<svg"),
        "pattern and timeline"
    );
}

#[test]
fn a_client_overview_lists_exactly_that_clients_accesses_without_names() {
    let dir = tempfile::tempdir().unwrap();
    // The client of a labelled self look-up.
    let log = log();
    let bsn = log
        .iter()
        .find(|(id, _)| {
            labels_of("mw1009")
                .iter()
                .any(|(l, k, _)| l == id && k == "self_lookup")
        })
        .map(|(_, b)| b.clone())
        .unwrap();
    let expected = log.iter().filter(|(_, b)| *b == bsn).count();

    let out = dir.path().join("sa");
    let o = cmd(
        &[
            "subject-access",
            "--bsn",
            &bsn,
            "--key",
            key().to_str().unwrap(),
        ],
        &out,
    );
    ok(&o);
    let rows = csv_rows(&out.join("overview.csv"));
    assert_eq!(
        rows.len(),
        expected,
        "every access to this dossier, nothing else"
    );
    let html = std::fs::read_to_string(out.join("overview.html")).unwrap();
    assert!(!html.contains(&bsn), "the BSN is not in the letter");
    let staff =
        std::fs::read_to_string(root().join("samples/voorbeeldstad/reference/staff.csv")).unwrap();
    let names: BTreeSet<&str> = staff
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    for n in &names {
        assert!(!html.contains(n), "staff name {n} withheld by default");
    }
    assert!(html.contains("Wie heeft uw dossier ingezien?"));
    // With --with-names the names appear; the client investigation finds the same accesses.
    let named = dir.path().join("named");
    ok(&cmd(
        &[
            "subject-access",
            "--bsn",
            &bsn,
            "--key",
            key().to_str().unwrap(),
            "--with-names",
        ],
        &named,
    ));
    let html = std::fs::read_to_string(named.join("overview.html")).unwrap();
    assert!(names.iter().any(|n| html.contains(n)));
    let inv = dir.path().join("client");
    ok(&cmd(
        &[
            "investigate",
            "client",
            "--bsn",
            &bsn,
            "--key",
            key().to_str().unwrap(),
        ],
        &inv,
    ));
    assert_eq!(column(&inv.join("events.csv"), "event_id").len(), expected);
    assert!(column(&inv.join("events.csv"), "signals")
        .iter()
        .any(|s| s.contains("self_access")));
}

#[test]
fn bad_bsns_and_missing_keys_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let k = key();
    for (bsn, msg) in [
        ("123456789", "fails the 11-check"),
        ("12345", "has 5 digits"),
        ("12345678a", "characters other than digits"),
    ] {
        let err = refused(
            &["subject-access", "--bsn", bsn, "--key", k.to_str().unwrap()],
            &out,
            msg,
        );
        assert!(!err.contains(bsn), "the value is withheld: {err}");
    }
    refused(
        &["investigate", "client", "--bsn", "111222333"],
        &out,
        "need --key",
    );
    // Another key than the store's.
    let other = keygen(dir.path());
    let other = other.to_str().unwrap();
    refused(
        &["subject-access", "--bsn", "111222333", "--key", other],
        &out,
        "is not the key of store",
    );
    // A client number in a store that identifies clients by BSN.
    refused(
        &[
            "investigate",
            "client",
            "--client-id",
            "C-1234",
            "--key",
            k.to_str().unwrap(),
        ],
        &out,
        "identifies clients by BSN; use --bsn",
    );
    assert!(!out.exists(), "nothing written on refusal");
}

#[test]
fn the_daily_view_and_the_search_find_what_they_should() {
    let dir = tempfile::tempdir().unwrap();
    // The two emergency logins without a reason.
    let want: BTreeSet<String> = csv_rows(&root().join("samples/voorbeeldstad/labels.csv"))
        .into_iter()
        .filter(|r| &r[1] == "emergency_without_reason")
        .map(|r| r[0].to_string())
        .collect();
    let out = dir.path().join("s");
    ok(&cmd(
        &[
            "investigate",
            "search",
            "--verdict",
            "emergency",
            "--signal",
            "no_emergency_reason",
            "--period",
            "2025-10-01..2026-09-30",
        ],
        &out,
    ));
    let got: BTreeSet<String> = column(&out.join("events.csv"), "event_id")
        .into_iter()
        .collect();
    assert_eq!(got, want);
    // The day of one of them, with everything else of that day.
    let id = want.iter().next().unwrap();
    let day = csv_rows(&root().join("samples/voorbeeldstad/canonical/access_log.csv"))
        .into_iter()
        .find(|r| &r[0] == id)
        .map(|r| r[1][..10].to_string())
        .unwrap();
    let out = dir.path().join("d");
    ok(&cmd(&["investigate", "day", &day], &out));
    let ids = column(&out.join("events.csv"), "event_id");
    assert!(ids.contains(id));
    let times = column(&out.join("events.csv"), "local_time");
    assert!(times.iter().all(|t| t.starts_with(&day)), "only that day");
    let o = cmd(&["investigate", "search", "--signal", "snooping"], &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--signal 'snooping' is unknown"));
}

#[test]
fn outputs_are_byte_identical_and_verify_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let args = [
        "investigate",
        "user",
        "mw1003",
        "--from",
        "2025-11-01",
        "--to",
        "2026-02-28",
    ];
    ok(&cmd(&args, &a));
    ok(&cmd(&args, &b));
    assert_eq!(folder_bytes(&a), folder_bytes(&b));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["key_id"], "k1-d468d6a5983bc352");
    assert!(manifest["store_files"].as_array().unwrap().len() > 6);
    assert_eq!(manifest["outputs"].as_array().unwrap().len(), 2);
    assert!(!manifest.to_string().contains("secret"), "never the key");

    let verify = |f: &Path| run(&["verify", f.to_str().unwrap()]);
    let o = verify(&a);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Change one cell of the CSV.
    let events = a.join("events.csv");
    let text = std::fs::read_to_string(&events).unwrap();
    std::fs::write(&events, text.replacen("justified", "unjustified", 1)).unwrap();
    let o = verify(&a);
    assert_eq!(o.status.code(), Some(5));
    assert!(stdout(&o).contains("changed: events.csv"), "{}", stdout(&o));
    // A file slipped in, and one removed.
    std::fs::write(b.join("note.txt"), "x").unwrap();
    std::fs::remove_file(b.join("report.html")).unwrap();
    let o = verify(&b);
    assert_eq!(o.status.code(), Some(5));
    let s = stdout(&o);
    assert!(
        s.contains("missing: report.html") && s.contains("not in the manifest: note.txt"),
        "{s}"
    );
}

#[test]
fn investigation_pages_render_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("u");
    ok(&cmd(
        &[
            "investigate",
            "user",
            "mw1002",
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-31",
        ],
        &out,
    ));
    let shot = root().join("reports/investigation-screenshot.png");
    let Some(dom) = browser(&out.join("report.html"), &shot, 1800) else {
        return;
    };
    for id in [
        "summary", "pattern", "timeline", "groups", "events", "method",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    assert!(dom.contains("Rosa Yilmaz"));
    let letter = dir.path().join("sa");
    let bsn = log()[0].1.clone();
    ok(&cmd(
        &[
            "subject-access",
            "--bsn",
            &bsn,
            "--key",
            key().to_str().unwrap(),
        ],
        &letter,
    ));
    let dom = browser(
        &letter.join("overview.html"),
        &root().join("reports/subject-access-screenshot.png"),
        1400,
    )
    .unwrap();
    assert!(dom.contains("Wie heeft uw dossier ingezien?") && dom.contains("<table>"));
    // Letter-ready: it prints to a PDF of A4 pages.
    let pdf = print_pdf(
        &letter.join("overview.html"),
        &dir.path().join("letter.pdf"),
    )
    .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    // A4 is 595 x 842 points.
    assert!(text.contains("/MediaBox [0 0 594.9"), "A4 pages");
}
