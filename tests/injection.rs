//! Names from the source systems that a spreadsheet would run as a formula, or a browser as a
//! script, reach the outputs as text: a CSV cell gets a leading `'` (OWASP's advice against CSV
//! injection) and the HTML escapes them.

mod common;

use common::*;

#[test]
fn formulas_and_scripts_in_display_names_stay_text_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/voorbeeldstad");
    let reference = dir.path().join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    for e in std::fs::read_dir(sample.join("reference")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, reference.join(p.file_name().unwrap())).unwrap();
    }
    // Two employees with findings in the first quarter of 2026.
    let formula = r#"=HYPERLINK("http://example.invalid/","Sophie")"#;
    let script = "<script>alert(1)</script>";
    let staff = std::fs::read_to_string(reference.join("staff.csv"))
        .unwrap()
        .replace(
            "mw1029,Sophie Mulder,",
            &format!("mw1029,\"{}\",", formula.replace('"', "\"\"")),
        )
        .replace("mw1003,Femke Hendriks,", &format!("mw1003,{script},"));
    std::fs::write(reference.join("staff.csv"), staff).unwrap();
    let store = dir.path().join("store");
    ok(&ingest(
        &store,
        &root().join("samples/demo-key.json"),
        &[&reference, &sample.join("canonical")],
        &[],
    ));
    let audit = |dialect: &str, out: &str| {
        let o = bin()
            .args(["audit", "--store"])
            .arg(&store)
            .arg("--policy")
            .arg(sample.join("policy.toml"))
            .args(["--period", "2026-Q1", "--csv-dialect", dialect, "--out"])
            .arg(dir.path().join(out))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        dir.path().join(out)
    };

    let people = audit("semicolon", "people");
    let names: Vec<String> = ["findings.csv", "cases.csv"]
        .iter()
        .flat_map(|f| {
            let mut r = csv_reader(&people.join(f));
            let at = r
                .headers()
                .unwrap()
                .iter()
                .position(|h| h == "display_name")
                .unwrap_or_else(|| panic!("{f} has a display_name"));
            r.records()
                .map(|x| x.unwrap()[at].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(names.contains(&format!("'{formula}")), "{names:?}");
    assert!(names.contains(&script.to_string()), "{names:?}");
    for f in files_under(&people) {
        if f.extension().is_some_and(|e| e == "csv") {
            let mut r = csv_reader(&f);
            for record in r.records() {
                for cell in record.unwrap().iter() {
                    let number = cell.replace(',', ".").parse::<f64>().is_ok();
                    let runs = cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
                        && !number
                        && cell != "-"
                        && cell != "+";
                    assert!(
                        !runs,
                        "{}: a cell a spreadsheet would run: {cell:?}",
                        f.display()
                    );
                }
            }
        }
    }
    let html = std::fs::read_to_string(people.join("report.html")).unwrap();
    assert!(
        !html.contains(script),
        "the script tag is in the page as markup"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;"),
        "the name is not in the page as text"
    );

    // For tools, the comma dialect writes the name as the source gave it.
    let tools = audit("comma", "tools");
    let text = std::fs::read_to_string(tools.join("findings.csv")).unwrap();
    assert!(text.contains(&formula.replace('"', "\"\"")), "{text}");
}
