//! The evidence manifest of an output folder: what was read (store files and policy, with their
//! sha256), the command line, the tool version, the key id (never the key) and the sha256 of
//! every file written; and `verify`, which re-checks a folder against its manifest.

pub mod background_hashes;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const MANIFEST: &str = "manifest.json";
/// Marks a folder whose run has not sealed it yet: a run that failed halfway leaves it, so that
/// the next run into that folder knows the files as this tool's and replaces them.
pub const UNFINISHED: &str = ".wmo-audit-unfinished";
const FORMAT: &str = "wmo-audit-evidence";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceManifest {
    pub format: String,
    pub format_version: u32,
    pub tool_version: String,
    /// The command line; the output folder's own path is written as `.`.
    pub command: Vec<String>,
    /// The store as given on the command line, and its key id.
    pub store: String,
    pub key_id: String,
    /// Store files read (relative to the store), with their hashes.
    pub store_files: Vec<FileHash>,
    /// The policy as given on the command line, with its hash.
    pub policy: Option<FileHash>,
    /// Every file written into the folder but this manifest.
    pub outputs: Vec<FileHash>,
}

/// Hashes a file.
pub fn hash_file(path: &Path, name: &str) -> Result<FileHash> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    // Read in 1 MiB blocks (`io::copy` reads through a `BufReader`'s own buffer), so that the
    // gigabytes of a large store take few reads.
    let mut file = std::io::BufReader::with_capacity(1 << 20, file);
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(FileHash {
        file: name.to_string(),
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}

/// Hashes files (path, name) on a thread per core, each taking the next file not yet taken: the
/// hashes in the order of `files`. A worker's panic goes on here.
pub fn hash_files(files: &[(PathBuf, String)]) -> Result<Vec<FileHash>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let next = AtomicUsize::new(0);
    let hashed: Vec<Vec<(usize, Result<FileHash>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, name)) = files.get(i) else {
                            return done;
                        };
                        done.push((i, hash_file(path, name)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut slots: Vec<Option<Result<FileHash>>> = (0..files.len()).map(|_| None).collect();
    for (i, h) in hashed.into_iter().flatten() {
        slots[i] = Some(h);
    }
    slots
        .into_iter()
        .map(|h| h.expect("each file is taken by one worker, which hashes it"))
        .collect()
}

/// The store files (names relative to the store) as (path, name) to hash.
pub fn store_paths(store: &Path, store_files: &[String]) -> Vec<(PathBuf, String)> {
    store_files
        .iter()
        .map(|f| (store.join(f), f.clone()))
        .collect()
}

/// The command line with the value of `--out` replaced by `.`, so that the same command written
/// to two folders gives the same manifest.
pub fn command_line(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut next_is_out = false;
    for a in args {
        if next_is_out {
            out.push(".".to_string());
            next_is_out = false;
        } else if a == "--out" {
            out.push(a.clone());
            next_is_out = true;
        } else if a.starts_with("--out=") {
            out.push("--out=.".to_string());
        } else {
            out.push(a.clone());
        }
    }
    if let Some(first) = out.first_mut() {
        // The program as invoked may be a path; its name is what matters.
        if let Some(name) = Path::new(first.as_str()).file_name() {
            *first = name.to_string_lossy().to_string();
        }
    }
    out
}

impl EvidenceManifest {
    pub fn new(
        command: Vec<String>,
        store: &Path,
        key_id: &str,
        store_files: &[String],
        policy: Option<&Path>,
    ) -> Result<EvidenceManifest> {
        let hashes = hash_files(&store_paths(store, store_files))?;
        EvidenceManifest::with_store_hashes(command, store, key_id, hashes, policy)
    }

    /// As `new`, with the store files' hashes already made (`store_paths` gives the files).
    pub fn with_store_hashes(
        command: Vec<String>,
        store: &Path,
        key_id: &str,
        hashes: Vec<FileHash>,
        policy: Option<&Path>,
    ) -> Result<EvidenceManifest> {
        let policy = policy
            .map(|p| hash_file(p, &p.to_string_lossy()))
            .transpose()?;
        Ok(EvidenceManifest {
            format: FORMAT.into(),
            format_version: 1,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            command,
            store: store.to_string_lossy().to_string(),
            key_id: key_id.to_string(),
            store_files: hashes,
            policy,
            outputs: Vec::new(),
        })
    }

    /// Hashes every file of `folder` (but the manifest) and writes the manifest there.
    /// Returns the manifest's own sha256, to be kept apart from the folder.
    pub fn seal(self, folder: &Path) -> Result<String> {
        self.seal_with(folder, Vec::new())
    }

    /// As `seal`, with the hashes of some of the folder's files already made (of files written
    /// whole before): those are not read again.
    pub fn seal_with(mut self, folder: &Path, hashed: Vec<FileHash>) -> Result<String> {
        let marker = folder.join(UNFINISHED);
        if marker.exists() {
            fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
        }
        let names: Vec<String> = folder_files(folder)?
            .into_iter()
            .filter(|name| name != MANIFEST)
            .collect();
        if let Some(h) = hashed.iter().find(|h| !names.contains(&h.file)) {
            return Err(Error::input(
                folder,
                format!(
                    "no longer holds '{}', which was written and hashed before the folder was \
                     sealed",
                    h.file
                ),
            ));
        }
        let files: Vec<(PathBuf, String)> = names
            .iter()
            .filter(|name| !hashed.iter().any(|h| &h.file == *name))
            .map(|name| (folder.join(name), name.clone()))
            .collect();
        let mut outputs = hash_files(&files)?;
        outputs.extend(hashed);
        // By name, as `folder_files` gives them.
        outputs.sort_by(|a, b| a.file.cmp(&b.file));
        self.outputs = outputs;
        let text = serde_json::to_string_pretty(&self)
            .map_err(|e| Error::Invalid(format!("evidence manifest: {e}")))?;
        let path = folder.join(MANIFEST);
        fs::write(&path, format!("{text}\n")).map_err(|e| Error::io(&path, e))?;
        Ok(hex::encode(Sha256::digest(format!("{text}\n").as_bytes())))
    }

    pub fn load(folder: &Path) -> Result<EvidenceManifest> {
        let path = folder.join(MANIFEST);
        if !path.exists() {
            return Err(Error::input(
                folder,
                "has no manifest.json: it is not an output folder of audit, investigate, subject-access or stats",
            ));
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let m: EvidenceManifest = serde_json::from_str(&text)
            .map_err(|e| Error::input(&path, format!("is not an evidence manifest: {e}")))?;
        if m.format != FORMAT {
            return Err(Error::input(
                &path,
                format!("has format '{}', not '{FORMAT}'", m.format),
            ));
        }
        Ok(m)
    }
}

/// Makes `folder` ready for a new run: creates it, or empties a folder this tool wrote before
/// (the files its manifest lists). A folder holding anything else is refused, so that no
/// stranger's file is sealed into the evidence or overwritten.
pub fn prepare_folder(folder: &Path) -> Result<()> {
    if !folder.exists() {
        fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    }
    let names = folder_files(folder)?;
    let ours: BTreeSet<String> = match EvidenceManifest::load(folder) {
        Ok(m) => m.outputs.into_iter().map(|o| o.file).collect(),
        Err(_) => BTreeSet::new(),
    };
    let unfinished = names.iter().any(|n| n == UNFINISHED);
    if let Some(stranger) = names
        .iter()
        .find(|n| !unfinished && *n != MANIFEST && !ours.contains(*n))
    {
        return Err(Error::input(
            folder,
            format!(
                "holds '{stranger}', which is not an output of an earlier run; choose another --out or empty the folder"
            ),
        ));
    }
    for n in names {
        let p = folder.join(&n);
        fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
    }
    let marker = folder.join(UNFINISHED);
    fs::write(&marker, b"").map_err(|e| Error::io(&marker, e))
}

/// After a run into `folder` failed: removes what it wrote there, so that a failed run leaves
/// no output behind (only the marker that makes the folder the next run's to replace). A
/// folder without the marker is not a run's unfinished one and is left as it is. Best effort:
/// the run's own error is what is reported.
pub fn discard_unfinished(folder: &Path) {
    if !folder.join(UNFINISHED).exists() {
        return;
    }
    for n in folder_files(folder).unwrap_or_default() {
        if n != UNFINISHED {
            let _ = fs::remove_file(folder.join(n));
        }
    }
}

/// Names of the files directly in `folder`, sorted. A link there is refused: outputs never
/// follow a link out of their folder.
fn folder_files(folder: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in fs::read_dir(folder).map_err(|e| Error::io(folder, e))? {
        let e = e.map_err(|e| Error::io(folder, e))?;
        let kind = e.file_type().map_err(|err| Error::io(e.path(), err))?;
        let name = e.file_name().to_string_lossy().to_string();
        if kind.is_symlink() {
            return Err(Error::input(
                folder,
                format!("holds the link '{name}'; an output folder holds no links: remove it or choose another --out"),
            ));
        }
        if kind.is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub checked: usize,
    /// Output files whose bytes changed since the manifest was written.
    pub changed: Vec<String>,
    pub missing: Vec<String>,
    /// Files in the folder that the manifest does not list.
    pub added: Vec<String>,
    /// Inputs (store files, policy) that changed or disappeared since; checked only where the
    /// store and policy are still at the recorded paths (relative to `base`).
    pub inputs_changed: Vec<String>,
    pub inputs_not_found: Vec<String>,
}

impl Verification {
    /// True when every output is exactly as written.
    pub fn outputs_intact(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.added.is_empty()
    }
}

/// Re-checks `folder` against its manifest; inputs are looked up relative to `base`.
pub fn verify(folder: &Path, base: &Path) -> Result<Verification> {
    let m = EvidenceManifest::load(folder)?;
    let mut v = Verification::default();
    let listed: BTreeSet<&str> = m.outputs.iter().map(|o| o.file.as_str()).collect();
    for o in &m.outputs {
        let path = folder.join(&o.file);
        if !path.exists() {
            v.missing.push(o.file.clone());
            continue;
        }
        v.checked += 1;
        if hash_file(&path, &o.file)?.sha256 != o.sha256 {
            v.changed.push(o.file.clone());
        }
    }
    for name in folder_files(folder)? {
        if name != MANIFEST && !listed.contains(name.as_str()) {
            v.added.push(name);
        }
    }
    let resolve = |p: &str| -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let store = resolve(&m.store);
    for f in &m.store_files {
        let path = store.join(&f.file);
        if !path.exists() {
            v.inputs_not_found.push(format!("{}/{}", m.store, f.file));
        } else if hash_file(&path, &f.file)?.sha256 != f.sha256 {
            v.inputs_changed.push(format!("{}/{}", m.store, f.file));
        }
    }
    if let Some(p) = &m.policy {
        let path = resolve(&p.file);
        if !path.exists() {
            v.inputs_not_found.push(p.file.clone());
        } else if hash_file(&path, &p.file)?.sha256 != p.sha256 {
            v.inputs_changed.push(p.file.clone());
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_out_folder_is_written_as_dot() {
        let args: Vec<String> = [
            "/x/target/debug/wmo-audit",
            "audit",
            "--out",
            "/tmp/a",
            "--lang=en",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            command_line(&args),
            ["wmo-audit", "audit", "--out", ".", "--lang=en"]
        );
    }

    #[test]
    fn verify_names_changed_missing_and_added_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        fs::create_dir_all(&store).unwrap();
        fs::write(store.join("t.parquet"), b"table").unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("a.csv"), b"a").unwrap();
        fs::write(out.join("b.html"), b"b").unwrap();
        let m = EvidenceManifest::new(
            vec!["wmo-audit".into()],
            Path::new("store"),
            "k1-x",
            &["t.parquet".into()],
            None,
        );
        // Paths are resolved against the base folder, here the temp dir.
        assert!(
            m.is_err(),
            "store path is relative to the current directory"
        );
        let m = EvidenceManifest::new(vec![], &store, "k1-x", &["t.parquet".into()], None).unwrap();
        m.seal(&out).unwrap();
        assert_eq!(verify(&out, dir.path()).unwrap().checked, 2);
        assert!(verify(&out, dir.path()).unwrap().outputs_intact());
        fs::write(out.join("a.csv"), b"A").unwrap();
        fs::remove_file(out.join("b.html")).unwrap();
        fs::write(out.join("c.txt"), b"c").unwrap();
        fs::write(store.join("t.parquet"), b"changed").unwrap();
        let v = verify(&out, dir.path()).unwrap();
        assert_eq!(v.changed, ["a.csv"]);
        assert_eq!(v.missing, ["b.html"]);
        assert_eq!(v.added, ["c.txt"]);
        assert_eq!(v.inputs_changed.len(), 1);
        assert!(!v.outputs_intact());
    }

    #[test]
    fn a_seal_with_hashes_made_before_writes_the_same_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        fs::create_dir_all(&store).unwrap();
        fs::write(store.join("t.parquet"), b"table").unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        for out in [&one, &two] {
            fs::create_dir_all(out).unwrap();
            fs::write(out.join("b.parquet"), b"verdicts").unwrap();
            fs::write(out.join("a.csv"), b"a").unwrap();
            fs::write(out.join("c.html"), b"c").unwrap();
        }
        let files = ["t.parquet".to_string()];
        let manifest = || EvidenceManifest::new(vec![], &store, "k1-x", &files, None).unwrap();
        let plain = manifest().seal(&one).unwrap();
        let made = hash_files(&store_paths(&two, &["b.parquet".into()])).unwrap();
        let hashes = hash_files(&store_paths(&store, &files)).unwrap();
        let with = EvidenceManifest::with_store_hashes(vec![], &store, "k1-x", hashes, None)
            .unwrap()
            .seal_with(&two, made)
            .unwrap();
        assert_eq!(with, plain);
        let sealed = EvidenceManifest::load(&two).unwrap();
        let names: Vec<&str> = sealed.outputs.iter().map(|h| h.file.as_str()).collect();
        assert_eq!(names, ["a.csv", "b.parquet", "c.html"]);
        assert!(verify(&two, dir.path()).unwrap().outputs_intact());
        // A hash of a file the folder does not hold is refused.
        let stray = hash_files(&store_paths(&store, &files)).unwrap();
        let err = manifest().seal_with(&two, stray).unwrap_err().to_string();
        assert!(err.contains("'t.parquet'"), "{err}");
    }

    /// A run that failed halfway leaves its files and the marker: the next run replaces them.
    /// A folder with files of someone else's is refused, and a sealed folder has no marker.
    #[test]
    fn a_folder_left_by_a_failed_run_is_replaced_and_a_strangers_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        prepare_folder(&out).unwrap();
        fs::write(out.join("verdicts.parquet"), b"half").unwrap();
        prepare_folder(&out).unwrap();
        assert_eq!(folder_files(&out).unwrap(), [UNFINISHED]);

        let store = dir.path().join("store");
        fs::create_dir_all(&store).unwrap();
        fs::write(store.join("t.parquet"), b"table").unwrap();
        fs::write(out.join("a.csv"), b"a").unwrap();
        let m = EvidenceManifest::new(vec![], &store, "k1-x", &["t.parquet".into()], None).unwrap();
        m.seal(&out).unwrap();
        assert_eq!(folder_files(&out).unwrap(), ["a.csv", MANIFEST]);
        let sealed = EvidenceManifest::load(&out).unwrap();
        assert_eq!(sealed.outputs.len(), 1);
        prepare_folder(&out).unwrap();
        assert_eq!(folder_files(&out).unwrap(), [UNFINISHED]);

        let theirs = dir.path().join("theirs");
        fs::create_dir_all(&theirs).unwrap();
        fs::write(theirs.join("notes.txt"), b"mine").unwrap();
        let err = prepare_folder(&theirs).unwrap_err().to_string();
        assert!(err.contains("'notes.txt'"), "{err}");
        assert_eq!(folder_files(&theirs).unwrap(), ["notes.txt"]);
    }
}
