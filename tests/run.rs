//! `wmo-audit run`: the whole job from one job file (the period counted back from a given day,
//! twice in a row), a bad job refused before anything is written, and every printing command
//! ending quietly when its reader goes away (`| head -1`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::*;

/// A job file in `dir` for the sample, its period given as `period`.
fn job(dir: &Path, period: &str) -> std::path::PathBuf {
    let s = root().join("samples");
    let text = format!(
        r#"
store = "store"
key = "{key}"
policy = "{policy}"
period = "{period}"
reports = "reports"
lang = "en"

[[input]]
profile = "{profile}"
paths = ["{reference}", "{log}"]
"#,
        key = s.join("demo-key.json").display(),
        policy = s.join("voorbeeldstad/policy.toml").display(),
        profile = root()
            .join("schemas/profiles/zaaksysteem-nl.toml")
            .display(),
        reference = s.join("voorbeeldstad/reference").display(),
        log = s.join("voorbeeldstad/export-nl").display(),
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_job_with_previous_quarter_audits_the_quarter_before_the_day_given_and_reruns_safely() {
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), "previous-quarter");
    let run = || {
        bin()
            .args(["run", "--config"])
            .arg(&job)
            .args(["--today", "2026-02-15"])
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(first.status.code(), Some(4), "{}", stderr(&first));
    let out = stdout(&first);
    let audit = dir.path().join("reports/audit-voorbeeldstad-2025-Q4");
    let stats = dir.path().join("reports/stats-voorbeeldstad-2025-Q4");
    assert!(
        out.contains("step 2/3: audit voorbeeldstad 2025-Q4"),
        "{out}"
    );
    assert!(
        out.contains(&audit.join("report.html").display().to_string()),
        "{out}"
    );
    assert!(
        out.contains(&stats.join("stats.html").display().to_string()),
        "{out}"
    );
    assert!(out.contains("Exit status 4"), "{out}");
    let report = std::fs::read_to_string(audit.join("report.html")).unwrap();
    assert!(report.contains("2025-10-01") && report.contains("2025-12-31"));
    assert!(stats.join("stats.xlsx").exists());

    // The second run adds nothing to the store, says so, and writes the same files.
    let audit_files = folder_bytes(&audit);
    let store_files = folder_bytes(&dir.path().join("store"));
    let second = run();
    assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
    let out = stdout(&second);
    assert!(out.contains("already-ingested"), "{out}");
    assert_eq!(folder_bytes(&audit), audit_files);
    let mut after = folder_bytes(&dir.path().join("store"));
    let mut before = store_files;
    // The manifest records the second run; every data file is as it was.
    after.retain(|k, _| k != "manifest.json");
    before.retain(|k, _| k != "manifest.json");
    assert_eq!(after, before);
}

#[test]
fn a_bad_job_is_refused_in_one_line_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), "2026-Q5");
    let o = bin().args(["run", "--config"]).arg(&job).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("period '2026-Q5' is not understood"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(!dir.path().join("store").exists() && !dir.path().join("reports").exists());

    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("2026-Q5", "2026-Q1")
        .replace("demo-key.json", "no-such-key.json");
    std::fs::write(&job, text).unwrap();
    let o = bin().args(["run", "--config"]).arg(&job).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no-such-key.json"), "{}", stderr(&o));
    assert!(!dir.path().join("store").exists());

    std::fs::write(&job, "store = 'x'\nkeys = 'y'\n").unwrap();
    let o = bin().args(["run", "--config"]).arg(&job).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("job.toml"), "{}", stderr(&o));
}

/// Runs `args` with its standard output read for one line only, as `| head -1` does.
fn first_line_only(args: &[&str]) -> (String, std::process::ExitStatus, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // The reader is gone: the pipe is closed.
    let o = child.wait_with_output().unwrap();
    (line, o.status, stderr(&o))
}

#[test]
fn every_printing_command_ends_quietly_when_its_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store");
    let sample = root().join("samples/voorbeeldstad");
    let policy = sample.join("policy.toml");
    let key = root().join("samples/demo-key.json");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (store_s, policy_s, key_s) = (path(&store), path(&policy), path(&key));
    let out = |name: &str| path(&d.join(name));
    // A command's words, then `--out` and a folder of its own.
    let into = |words: &[&str], folder: &str| -> Vec<String> {
        words
            .iter()
            .map(|s| s.to_string())
            .chain(["--out".into(), out(folder)])
            .collect()
    };
    let commands: Vec<Vec<String>> = vec![
        vec![
            "ingest".into(),
            "--store".into(),
            store_s.clone(),
            "--key".into(),
            key_s.clone(),
            path(&sample.join("reference")),
            path(&sample.join("canonical")),
        ],
        vec!["--help".into()],
        vec!["audit".into(), "--help".into()],
        into(
            &[
                "audit", "--store", &store_s, "--policy", &policy_s, "--period", "2026-Q1",
            ],
            "audit",
        ),
        into(
            &[
                "stats", "--store", &store_s, "--policy", &policy_s, "--period", "2026",
            ],
            "stats",
        ),
        into(
            &[
                "investigate",
                "day",
                "2026-03-10",
                "--store",
                &store_s,
                "--policy",
                &policy_s,
            ],
            "day",
        ),
        into(
            &[
                "investigate",
                "user",
                "mw1003",
                "--store",
                &store_s,
                "--policy",
                &policy_s,
            ],
            "user",
        ),
        into(
            &[
                "subject-access",
                "--bsn",
                "849773337",
                "--key",
                &key_s,
                "--store",
                &store_s,
                "--policy",
                &policy_s,
            ],
            "resident",
        ),
        vec!["verify".into(), out("audit")],
        // Prints its first step's line, then works for seconds before printing more: the pipe
        // is closed by then.
        vec!["run".into(), "--config".into(), path(&job(d, "2026-Q1"))],
        vec!["keygen".into(), "--out".into(), out("key.json")],
        vec!["generate".into(), "--out".into(), out("gen")],
    ];
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (line, status, err) = first_line_only(&args);
        assert!(!line.is_empty(), "{args:?}: no first line");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
        // Done before the pipe closed (0, or 4 for an audit with findings), or ended by
        // SIGPIPE as other command-line tools are.
        let quiet_signal = {
            use std::os::unix::process::ExitStatusExt;
            status.signal() == Some(13)
        };
        assert!(
            quiet_signal || matches!(status.code(), Some(0) | Some(4)),
            "{args:?}: {status:?} {err}"
        );
    }
}
