//! Client-side encryption of what goes to the store: with `backup.encryption_key_file` set,
//! every chunk and archived log slice is sealed with AES-256-GCM before upload, so the
//! bucket's owner never sees the data.
//!
//! ```text
//! sealed object = "SHNYENC1" | key id (8 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The key id is the start of the key's SHA-256: a restore names a wrong or missing key
//! instead of failing on a tag. The object's key in the store is the associated data, so a
//! sealed object moved to another name does not open.

use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

use super::BackupError;

/// First bytes of a sealed object.
const MAGIC: &[u8; 8] = b"SHNYENC1";
/// Bytes of the key id.
const KEY_ID_LEN: usize = 8;
/// Bytes before the ciphertext.
const HEADER_LEN: usize = MAGIC.len() + KEY_ID_LEN + NONCE_LEN;

/// An encryption key, read from `backup.encryption_key_file`.
pub struct Sealer {
    key: LessSafeKey,
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(key id {})", hex::encode(self.id))
    }
}

impl Sealer {
    /// Reads the key in `path`: 64 hexadecimal digits (`openssl rand -hex 32`).
    pub fn from_file(path: &Path) -> Result<Sealer, BackupError> {
        let bad = |reason: String| BackupError::BadKey {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let raw = hex::decode(text.trim()).map_err(|e| {
            bad(format!(
                "not hexadecimal ({e}); make one with `openssl rand -hex 32`"
            ))
        })?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            bad(format!(
                "{} bytes, expected 32 (64 hexadecimal digits)",
                raw.len()
            ))
        })?;
        Sealer::new(&bytes).map_err(|()| bad("the key was refused".into()))
    }

    fn new(bytes: &[u8; 32]) -> Result<Sealer, ()> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| ())?;
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Ok(Sealer {
            key: LessSafeKey::new(key),
            id,
        })
    }

    /// The key's id, hex: what manifests record.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// Seals `plain` for the object named `name`.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, BackupError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| BackupError::Crypt {
            key: name.into(),
            reason: format!("no random nonce: {e}"),
        })?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut body,
            )
            .map_err(|_| BackupError::Crypt {
                key: name.into(),
                reason: "sealing failed".into(),
            })?;
        out.extend_from_slice(&body);
        Ok(out)
    }
}

/// Whether `stored` is a sealed object.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

/// The plain bytes of the object named `name`: opened with `sealer` if sealed (a sealed
/// object without the right key is an error naming the key it needs), as they are if not.
pub fn open(sealer: Option<&Sealer>, name: &str, stored: &[u8]) -> Result<Vec<u8>, BackupError> {
    if !is_sealed(stored) {
        return Ok(stored.to_vec());
    }
    let crypt = |reason: String| BackupError::Crypt {
        key: name.into(),
        reason,
    };
    let (header, body) = stored
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| crypt("shorter than its header".into()))?;
    let (id, nonce) = header[MAGIC.len()..].split_at(KEY_ID_LEN);
    let Some(sealer) = sealer else {
        return Err(crypt(format!(
            "it is encrypted with key id {}: set backup.encryption_key_file",
            hex::encode(id)
        )));
    };
    if id != sealer.id {
        return Err(crypt(format!(
            "it is encrypted with key id {}, the configured key is {}",
            hex::encode(id),
            sealer.id()
        )));
    }
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| crypt("bad nonce".into()))?;
    let mut body = body.to_vec();
    let plain = sealer
        .key
        .open_in_place(nonce, Aad::from(name.as_bytes()), &mut body)
        .map_err(|_| crypt("it does not authenticate (damaged, or not this object)".into()))?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&[byte; 32]).expect("key")
    }

    #[test]
    fn a_sealed_object_opens_only_with_its_key_and_name() {
        let s = sealer(7);
        let sealed = s
            .seal("base/x/data.db.0.zst", b"plain bytes")
            .expect("seal");
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(11).any(|w| w == b"plain bytes"));
        let opened = open(Some(&s), "base/x/data.db.0.zst", &sealed).expect("open");
        assert_eq!(opened, b"plain bytes");

        let moved = open(Some(&s), "base/x/data.db.1.zst", &sealed).expect_err("moved");
        assert!(
            moved.to_string().contains("does not authenticate"),
            "{moved}"
        );
        let wrong = open(Some(&sealer(8)), "base/x/data.db.0.zst", &sealed).expect_err("key");
        assert!(wrong.to_string().contains(&s.id()), "{wrong}");
        let none = open(None, "base/x/data.db.0.zst", &sealed).expect_err("no key");
        assert!(none.to_string().contains("encryption_key_file"), "{none}");
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(open(Some(&s), "base/x/data.db.0.zst", &flipped).is_err());
        assert_eq!(
            open(None, "n", b"not sealed").expect("plain"),
            b"not sealed"
        );
    }

    #[test]
    fn a_key_file_holds_64_hex_digits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).expect("write");
        assert!(Sealer::from_file(&path).is_ok());
        std::fs::write(&path, "ab".repeat(16)).expect("write");
        let e = Sealer::from_file(&path).expect_err("short");
        assert!(e.to_string().contains("16 bytes, expected 32"), "{e}");
        std::fs::write(&path, "zz").expect("write");
        assert!(Sealer::from_file(&path).is_err());
    }
}
