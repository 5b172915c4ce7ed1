//! Users' signing secrets at rest: sealed with XChaCha20-Poly1305 under one server key, bound
//! to the row that owns them, plus a helper to show a secret masked.
//!
//! Sealed blob layout: 1 version byte (`1`) || 24-byte random nonce || ciphertext || 16-byte tag.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

/// Secrets with fewer characters than this are masked completely by [`mask`].
const MASK_MIN_CHARS: usize = 24;

/// Why a key could not be parsed or a sealed secret could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretBoxError {
    /// The key text is neither 64 hex characters nor standard base64 of 32 bytes. The message
    /// never repeats the key text.
    #[error("the secret key must be 64 hex characters or standard base64 of 32 bytes, but {0}")]
    BadKey(String),
    /// The blob is shorter than a version byte, a nonce and a tag.
    #[error("the sealed secret is too short to be valid ({0} bytes)")]
    TooShort(usize),
    /// The blob starts with a version byte this build does not know.
    #[error("the sealed secret has unknown format version {0}")]
    UnknownVersion(u8),
    /// Authentication failed: wrong key, sealed for another owner, or corrupted.
    #[error("the sealed secret could not be opened: wrong key, wrong owner, or corrupted data")]
    OpenFailed,
}

/// The server's 32-byte key. `Debug` does not print it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// From 64 hex chars or standard base64 of 32 bytes (surrounding whitespace ignored);
    /// an error in words otherwise.
    pub fn parse(s: &str) -> Result<Self, SecretBoxError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SecretBoxError::BadKey("it is empty".into()));
        }
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut key = [0u8; 32];
            return match hex::decode_to_slice(s, &mut key) {
                Ok(()) => Ok(Self(key)),
                Err(_) => Err(SecretBoxError::BadKey("it is not valid hex".into())),
            };
        }
        match STANDARD.decode(s) {
            Ok(bytes) => match <[u8; 32]>::try_from(bytes.as_slice()) {
                Ok(key) => Ok(Self(key)),
                Err(_) => Err(SecretBoxError::BadKey(format!(
                    "it decodes to {} bytes",
                    bytes.len()
                ))),
            },
            Err(_) => Err(SecretBoxError::BadKey(format!(
                "it is {} characters that are neither hex nor valid base64",
                s.chars().count()
            ))),
        }
    }

    /// The key as standard base64 (accepted back by [`SecretKey::parse`]).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }

    /// Seal `plaintext`, binding `associated` (e.g. the owning row id bytes) so a ciphertext
    /// copied to another row fails to open.
    ///
    /// Output layout: 1 version byte (`1`) || 24-byte random nonce || ciphertext+tag.
    /// (Encryption can only fail for plaintexts of hundreds of GiB; such a call returns a blob
    /// that [`SecretKey::open`] rejects rather than panicking.)
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let sealed = match out.get_mut(HEADER_LEN..) {
            Some(buf) => {
                self.cipher()
                    .encrypt_in_place_detached(&XNonce::from(nonce), associated, buf)
            }
            None => return out,
        };
        match sealed {
            Ok(tag) => out.extend_from_slice(&tag),
            Err(_) => out.truncate(HEADER_LEN),
        }
        out
    }

    /// Open a blob made by [`SecretKey::seal`] with the same `associated` data. Errors (never
    /// panics) on short/corrupt blobs, wrong version, wrong key or wrong associated data.
    pub fn open(&self, blob: &[u8], associated: &[u8]) -> Result<Vec<u8>, SecretBoxError> {
        if blob.len() < HEADER_LEN + TAG_LEN {
            return Err(SecretBoxError::TooShort(blob.len()));
        }
        let (&version, rest) = blob
            .split_first()
            .ok_or(SecretBoxError::TooShort(blob.len()))?;
        if version != VERSION {
            return Err(SecretBoxError::UnknownVersion(version));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce =
            <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| SecretBoxError::TooShort(blob.len()))?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated,
                },
            )
            .map_err(|_| SecretBoxError::OpenFailed)
    }
}

/// Show a secret masked: first 6 chars + `…` + last 4 (`"whsec_…AbCd"`). Secrets shorter than
/// 24 characters are fully masked as `"••••"`, so at most 10 of at least 24 characters show.
pub fn mask(secret: &str) -> String {
    let count = secret.chars().count();
    if count < MASK_MIN_CHARS {
        return "••••".to_owned();
    }
    let head: String = secret.chars().take(6).collect();
    let tail: String = secret.chars().skip(count - 4).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let key = SecretKey::generate();
        let row = b"0190f3a2-row-id";
        let blob = key.seal(b"whsec_abc123", row);
        assert_eq!(blob.len(), 1 + 24 + 12 + 16);
        assert_eq!(blob[0], 1);
        assert_eq!(key.open(&blob, row).unwrap(), b"whsec_abc123");
        // Random nonces: sealing twice differs.
        assert_ne!(key.seal(b"whsec_abc123", row), blob);
        // Empty plaintext works too.
        assert_eq!(key.open(&key.seal(b"", row), row).unwrap(), b"");
    }

    #[test]
    fn any_tampered_byte_fails() {
        let key = SecretKey::generate();
        let blob = key.seal(b"secret", b"row");
        for i in 1..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                key.open(&bad, b"row"),
                Err(SecretBoxError::OpenFailed),
                "byte {i}"
            );
        }
        let mut bad = blob.clone();
        bad[0] = 2;
        assert_eq!(
            key.open(&bad, b"row"),
            Err(SecretBoxError::UnknownVersion(2))
        );
        let mut longer = blob.clone();
        longer.push(0);
        assert_eq!(key.open(&longer, b"row"), Err(SecretBoxError::OpenFailed));
    }

    #[test]
    fn wrong_associated_data_fails() {
        let key = SecretKey::generate();
        let blob = key.seal(b"secret", b"row-1");
        assert_eq!(key.open(&blob, b"row-2"), Err(SecretBoxError::OpenFailed));
        assert_eq!(key.open(&blob, b""), Err(SecretBoxError::OpenFailed));
    }

    #[test]
    fn wrong_key_fails() {
        let blob = SecretKey::generate().seal(b"secret", b"row");
        assert_eq!(
            SecretKey::generate().open(&blob, b"row"),
            Err(SecretBoxError::OpenFailed)
        );
    }

    #[test]
    fn short_blobs_error() {
        let key = SecretKey::generate();
        for len in [0, 1, 25, 40] {
            assert_eq!(
                key.open(&vec![1u8; len], b"row"),
                Err(SecretBoxError::TooShort(len))
            );
        }
        assert_eq!(
            key.open(&[1u8; 41], b"row"),
            Err(SecretBoxError::OpenFailed)
        );
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let key = SecretKey::parse(&"ab".repeat(32)).unwrap();
        let debug = format!("{key:?} {:#?}", key.clone());
        assert!(!debug.to_lowercase().contains("abab"), "{debug}");
        assert!(!debug.contains(&key.to_base64()), "{debug}");
        assert!(!debug.contains("171"), "{debug}"); // 0xab as a decimal array element
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn parse_accepts_hex_and_base64() {
        let key = SecretKey::generate();
        let b64 = key.to_base64();
        let again = SecretKey::parse(&format!("  {b64}\n")).unwrap();
        assert_eq!(again.to_base64(), b64);
        let from_hex = SecretKey::parse(&hex::encode(key.0)).unwrap();
        assert_eq!(from_hex.to_base64(), b64);
        let upper = SecretKey::parse(&hex::encode_upper(key.0)).unwrap();
        assert_eq!(upper.to_base64(), b64);
        // A key parsed from either form opens what the other sealed.
        assert_eq!(from_hex.open(&again.seal(b"x", b"r"), b"r").unwrap(), b"x");
    }

    #[test]
    fn parse_rejects_bad_keys_in_words_without_echoing_them() {
        for bad in [
            "",
            "   ",
            "zz",
            &"ab".repeat(31),
            &"g".repeat(64),
            "c2hvcnQ=",
            "not base64!",
        ] {
            let err = SecretKey::parse(bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("the secret key must be"), "{msg}");
            if bad.trim().len() > 3 {
                assert!(!msg.contains(bad.trim()), "{msg}");
            }
        }
        assert_eq!(
            SecretKey::parse("c2hvcnQ=").unwrap_err(),
            SecretBoxError::BadKey("it decodes to 5 bytes".into())
        );
    }

    #[test]
    fn mask_shows_only_the_ends_of_long_secrets() {
        assert_eq!(
            mask("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAbCd"),
            "whsec_…AbCd"
        );
        assert_eq!(mask("short"), "••••");
        assert_eq!(mask(""), "••••");
        assert_eq!(mask("0123456789abcdefghijklm"), "••••");
        assert_eq!(mask("0123456789abcdefghijklmn"), "012345…klmn");
        assert_eq!(mask("ééééééxxxxxxxxxxxxxxüüüü"), "éééééé…üüüü");
    }
}
