//! The pseudonymisation key: creation (`keygen`), loading, and its public key id.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};

const FORMAT: &str = "wmo-audit-key";

/// A 256-bit secret. Its `Debug` shows only the key id; the secret never leaves this type
/// except through `mac`.
pub struct Key {
    secret: [u8; 32],
    id: String,
    demo: bool,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    version: u32,
    key_id: String,
    secret: String,
    #[serde(default)]
    demo: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

impl Key {
    /// Builds a key from its secret. The id is derived one-way from the secret, so it names
    /// the key without revealing it.
    pub fn from_secret(secret: [u8; 32], demo: bool) -> Key {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&secret).expect("hmac accepts any key length");
        mac.update(b"wmo-audit key id v1");
        let id = format!("k1-{}", hex::encode(&mac.finalize().into_bytes()[..8]));
        Key { secret, id, demo }
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Key> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::Invalid(format!("no random source for a new key: {e}")))?;
        Ok(Key::from_secret(secret, false))
    }

    /// The same secret, marked as a demo key.
    pub fn into_demo(self) -> Key {
        Key { demo: true, ..self }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn is_demo(&self) -> bool {
        self.demo
    }

    /// A fresh HMAC-SHA-256 keyed with the secret.
    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256>>::new_from_slice(&self.secret).expect("hmac accepts any key length")
    }

    /// Writes the key file, readable by its owner only, refusing to overwrite.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        let file = KeyFile {
            format: FORMAT.into(),
            version: 1,
            key_id: self.id.clone(),
            secret: hex::encode(self.secret),
            demo: self.demo,
            warning: self.demo.then(|| {
                "DEMO KEY, published with the synthetic sample. Never use it for real data.".into()
            }),
        };
        let text =
            serde_json::to_string_pretty(&file).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(path).map_err(|e| Error::io(path, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io(path, e))
    }

    /// Reads a key file. A real key readable by group or others is refused; a demo key is
    /// accepted (git does not keep file modes) and the caller is expected to warn.
    pub fn load(path: &Path) -> Result<Key> {
        let err = |message: String| Error::Key {
            path: PathBuf::from(path),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(format!(
                "cannot be read ({e}); give the key file made by 'wmo-audit keygen' for this store"
            ))
        })?;
        // A byte-order mark, as some editors write one, is not part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let file: KeyFile = serde_json::from_str(text)
            .map_err(|e| err(format!("not a key file made by 'keygen' ({e})")))?;
        if file.format != FORMAT || file.version != 1 {
            return Err(err(format!(
                "unknown key format '{}' version {}",
                file.format, file.version
            )));
        }
        let bytes = hex::decode(&file.secret)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| err("the secret is not 64 hexadecimal characters".into()))?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes);
        // The published demo key stays a demo key whatever its file says.
        let demo = file.demo || Key::from_secret(secret, false).id == PUBLISHED_DEMO_KEY_ID;
        let key = Key::from_secret(secret, demo);
        if key.id != file.key_id {
            return Err(err(format!(
                "key id '{}' does not match the secret (expected '{}'): the file was altered",
                file.key_id, key.id
            )));
        }
        #[cfg(unix)]
        if !key.demo {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "permissions {:o} let others read the key; run 'chmod 600 {}'",
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        Ok(key)
    }
}

/// The id of the demo key published with the synthetic sample (`samples/demo-key.json`; a
/// test checks the two agree).
const PUBLISHED_DEMO_KEY_ID: &str = "k1-d468d6a5983bc352";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_demo_key_is_a_demo_key_even_when_its_file_says_otherwise() {
        let published =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo-key.json");
        let key = Key::load(&published).unwrap();
        assert!(key.is_demo());
        assert_eq!(key.id(), PUBLISHED_DEMO_KEY_ID);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let text = std::fs::read_to_string(&published).unwrap();
        std::fs::write(&path, text.replace("\"demo\": true", "\"demo\": false")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(Key::load(&path).unwrap().is_demo());
    }

    #[test]
    fn key_round_trips_and_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = Key::generate().unwrap();
        key.write_new(&path).unwrap();
        let back = Key::load(&path).unwrap();
        assert_eq!(back.id(), key.id());
        assert_eq!(back.secret, key.secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Never overwrite an existing key.
        assert!(key.write_new(&path).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn real_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        Key::generate().unwrap().write_new(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Key::load(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_key_file_with_a_byte_order_mark_loads_and_a_missing_one_says_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        Key::generate().unwrap().write_new(&path).unwrap();
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, [b"\xef\xbb\xbf".as_slice(), &text].concat()).unwrap();
        assert!(Key::load(&path).is_ok());
        let err = Key::load(&dir.path().join("none.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.json") && err.contains("keygen"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = Key::from_secret([7u8; 32], false);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode([7u8; 32])));
        assert!(shown.starts_with("Key(k1-"));
    }
}
