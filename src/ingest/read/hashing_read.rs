//! `HashingRead`: a reader that hashes (SHA-256) the bytes read through it, so that a file is
//! read once to be both hashed and parsed.

use std::io::Read;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Reads from `inner`, feeding every byte read to a SHA-256 that `ReadHash` handles share.
pub struct HashingRead<R> {
    inner: R,
    sha: ReadHash,
}

/// The hash of what a `HashingRead` has read so far, seen from elsewhere (the reader itself is
/// usually boxed inside a parser on another thread).
#[derive(Clone, Default)]
pub struct ReadHash(Arc<Mutex<Sha256>>);

impl ReadHash {
    /// Lower-case hex of the SHA-256 of the bytes read so far: the file's, once it is read to
    /// its end.
    pub fn hex(&self) -> String {
        // A reading thread that panicked leaves the state as it was; the run fails anyway.
        let sha = match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        hex::encode(sha.finalize())
    }
}

impl<R: Read> HashingRead<R> {
    pub fn new(inner: R, sha: ReadHash) -> Self {
        HashingRead { inner, sha }
    }
}

impl<R: Read> Read for HashingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.sha.0.lock() {
            Ok(mut s) => s.update(&buf[..n]),
            Err(poisoned) => poisoned.into_inner().update(&buf[..n]),
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_sha256_of_everything_read_in_any_pieces() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sha = ReadHash::default();
        let mut r = HashingRead::new(&data[..], sha.clone());
        let mut got = Vec::new();
        let mut piece = [0u8; 777];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(got, data);
        assert_eq!(sha.hex(), hex::encode(Sha256::digest(&data)));
        assert_ne!(sha.hex(), hex::encode(Sha256::digest(&data[1..])));
    }
}
