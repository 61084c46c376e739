//! Hashing files for the evidence manifest on a thread of their own at the lowest priority, so
//! that the hashes are made from CPU time the audit leaves unused.
//!
//! A large store is gigabytes to hash. While the audit's parts run, the cores are not busy all
//! the time; a thread that runs only when a core would otherwise idle hashes the store's files
//! then, without slowing the parts, instead of after the last output is written.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::evidence::{hash_file, FileHash};

/// Files being hashed in the background; `wait` gives their hashes. Dropped unwaited (an
/// audit that failed), it tells the thread to stop after the file it is hashing.
pub struct BackgroundHashes {
    thread: Option<JoinHandle<Result<Vec<FileHash>>>>,
    stop: Arc<AtomicBool>,
}

impl BackgroundHashes {
    /// Starts hashing `files` (path, name as recorded), one after the other.
    pub fn start(files: Vec<(PathBuf, String)>) -> BackgroundHashes {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            lowest_priority();
            let mut hashes = Vec::with_capacity(files.len());
            for (path, name) in &files {
                if stopped.load(Ordering::Relaxed) {
                    // Nobody waits for the hashes any more: this result is never read.
                    return Err(Error::Invalid(
                        "hashing stopped: the hashes are not wanted".into(),
                    ));
                }
                hashes.push(hash_file(path, name)?);
            }
            Ok(hashes)
        });
        BackgroundHashes {
            thread: Some(thread),
            stop,
        }
    }

    /// The hashes, in the order of the files given, once all are made. A panic of the
    /// hashing thread goes on here.
    pub fn wait(mut self) -> Result<Vec<FileHash>> {
        self.thread
            .take()
            .expect("only `wait`, which takes the hashes by value, takes the thread")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for BackgroundHashes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Gives the calling thread the lowest scheduling priority (nice 19), so that it runs when a
/// core would otherwise idle. Best effort: where it cannot be done the thread runs as it is.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id; on Linux a thread id given
        // to `setpriority` changes that thread only.
        unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_hashed_in_order_as_the_manifest_hashes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (name, text) in [("b.txt", "two"), ("a.txt", "one"), ("empty", "")] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            files.push((path, name.to_string()));
        }
        let hashes = BackgroundHashes::start(files.clone()).wait().unwrap();
        assert_eq!(hashes, crate::evidence::hash_files(&files).unwrap());
        assert_eq!(
            hashes.iter().map(|h| h.file.as_str()).collect::<Vec<_>>(),
            ["b.txt", "a.txt", "empty"]
        );
        // sha256("one"), as `sha256sum` gives it.
        assert_eq!(
            hashes[1].sha256,
            "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed"
        );
        assert_eq!(hashes[2].bytes, 0);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone.parquet");
        let err = BackgroundHashes::start(vec![(gone, "gone.parquet".into())])
            .wait()
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.parquet"), "{err}");
    }
}
