//! Secrets at rest: AES-256-GCM under a keyring of named keys.
//!
//! A sealed value is the text `v1.<key id>.<nonce>.<ciphertext>` (nonce and ciphertext base64url),
//! so a stored secret names the key that sealed it and the keyring can be rotated: add a new key,
//! make it active, and values sealed under older keys still open (and report that they should be
//! re-sealed). Callers pass associated data (typically the table and row id), so a ciphertext moved
//! to another row fails to open.
//!
//! A keyring is written as `kid:base64key[,kid:base64key…]`; the first key is the active one. Keys
//! are 32 random bytes (standard or URL-safe base64, padding optional).

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::CryptoError;

const VERSION: &str = "v1";

/// A set of AES-256 keys by id, one of which seals new values.
#[derive(Clone)]
pub struct Keyring {
    active: String,
    active_cipher: Aes256Gcm,
    keys: BTreeMap<String, Aes256Gcm>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// An opened secret, with whether it should be sealed again under the active key.
#[derive(Debug)]
pub struct Opened {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub needs_reseal: bool,
}

impl Keyring {
    /// Builds a keyring from `(key id, 32-byte key)` pairs; the first pair is the active key.
    pub fn new(keys: &[(&str, [u8; 32])]) -> Result<Self, CryptoError> {
        let (first, first_key) = keys.first().ok_or(CryptoError::Empty)?;
        let active_cipher =
            Aes256Gcm::new_from_slice(first_key).map_err(|_| CryptoError::BadKey((*first).into()))?;
        let mut map = BTreeMap::new();
        for (kid, key) in keys {
            check_kid(kid)?;
            let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::BadKey((*kid).into()))?;
            if map.insert((*kid).to_owned(), cipher).is_some() {
                return Err(CryptoError::DuplicateKeyId((*kid).into()));
            }
        }
        Ok(Self {
            active: (*first).to_owned(),
            active_cipher,
            keys: map,
        })
    }

    /// Parses `kid:base64key[,kid:base64key…]`; the first key is active.
    pub fn parse(spec: &str) -> Result<Self, CryptoError> {
        let mut keys: Vec<(String, Zeroizing<[u8; 32]>)> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, b64) = entry
                .split_once(':')
                .ok_or_else(|| CryptoError::BadEntry(redact(entry)))?;
            let raw = Zeroizing::new(decode_b64(b64.trim()).ok_or_else(|| CryptoError::BadKey(kid.into()))?);
            let key: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::BadKey(kid.into()))?;
            keys.push((kid.trim().to_owned(), Zeroizing::new(key)));
        }
        let pairs: Vec<(&str, [u8; 32])> = keys.iter().map(|(k, v)| (k.as_str(), **v)).collect();
        Self::new(&pairs)
    }

    /// Generates a fresh keyring spec with one random key under `kid`.
    pub fn generate_spec(kid: &str) -> Result<String, CryptoError> {
        check_kid(kid)?;
        Ok(format!(
            "{kid}:{}",
            URL_SAFE_NO_PAD.encode(crate::random::bytes::<32>())
        ))
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Seals `plaintext` under the active key, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let nonce_bytes = crate::random::bytes::<12>();
        let nonce = Nonce::from(nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for inputs under 64 GiB.
        let ciphertext = self
            .active_cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .unwrap_or_default();
        format!(
            "{VERSION}.{}.{}.{}",
            self.active,
            URL_SAFE_NO_PAD.encode(nonce_bytes),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    /// Opens a value sealed by [`Keyring::seal`] with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Opened, CryptoError> {
        let mut parts = sealed.split('.');
        let (Some(VERSION), Some(kid), Some(nonce), Some(ct), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CryptoError::Malformed);
        };
        let cipher = self
            .keys
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.into()))?;
        let nonce: [u8; 12] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(CryptoError::Malformed)?;
        let ct = URL_SAFE_NO_PAD.decode(ct).map_err(|_| CryptoError::Malformed)?;
        let plaintext = cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: &ct, aad })
            .map_err(|_| CryptoError::Unauthentic)?;
        Ok(Opened {
            plaintext: Zeroizing::new(plaintext),
            needs_reseal: kid != self.active,
        })
    }
}

fn check_kid(kid: &str) -> Result<(), CryptoError> {
    let ok = !kid.is_empty()
        && kid.len() <= 32
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CryptoError::BadKeyId(kid.into()))
    }
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD_NO_PAD.decode(trimmed).ok())
}

/// Shows only the key id part of a bad entry, never key material.
fn redact(entry: &str) -> String {
    entry.chars().take(8).chain("…".chars()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).expect("valid keyring")
    }

    #[test]
    fn seal_then_open_round_trips() {
        let k = ring(&Keyring::generate_spec("k1").unwrap());
        let sealed = k.seal(b"client-secret", b"tenants:acme");
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("client-secret"));
        let opened = k.open(&sealed, b"tenants:acme").unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"client-secret");
        assert!(!opened.needs_reseal);
    }

    #[test]
    fn same_plaintext_seals_differently_each_time() {
        let k = ring(&Keyring::generate_spec("k1").unwrap());
        assert_ne!(k.seal(b"x", b""), k.seal(b"x", b""));
    }

    #[test]
    fn wrong_row_or_tampering_fails_to_open() {
        let k = ring(&Keyring::generate_spec("k1").unwrap());
        let sealed = k.seal(b"secret", b"row-1");
        assert_eq!(k.open(&sealed, b"row-2").unwrap_err(), CryptoError::Unauthentic);
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(k.open(&tampered, b"row-1").is_err());
        assert_eq!(k.open("v1.k1.zz", b"row-1").unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_flags_them() {
        let old_spec = Keyring::generate_spec("old").unwrap();
        let old = ring(&old_spec);
        let sealed = old.seal(b"secret", b"aad");
        let new_spec = format!("{},{old_spec}", Keyring::generate_spec("new").unwrap());
        let rotated = ring(&new_spec);
        let opened = rotated.open(&sealed, b"aad").unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"secret");
        assert!(opened.needs_reseal);
        assert!(rotated.seal(b"secret", b"aad").starts_with("v1.new."));
        // A keyring without the old key cannot open it.
        let only_new = ring(new_spec.split(',').next().unwrap());
        assert_eq!(
            only_new.open(&sealed, b"aad").unwrap_err(),
            CryptoError::UnknownKey("old".into())
        );
    }

    #[test]
    fn bad_specs_are_refused_with_clear_errors() {
        assert_eq!(Keyring::parse("").unwrap_err(), CryptoError::Empty);
        assert!(matches!(
            Keyring::parse("nokey").unwrap_err(),
            CryptoError::BadEntry(_)
        ));
        assert_eq!(
            Keyring::parse("k1:c2hvcnQ").unwrap_err(),
            CryptoError::BadKey("k1".into())
        );
        let spec = Keyring::generate_spec("k1").unwrap();
        assert_eq!(
            Keyring::parse(&format!("{spec},{spec}")).unwrap_err(),
            CryptoError::DuplicateKeyId("k1".into())
        );
        assert!(matches!(
            Keyring::generate_spec("bad id!"),
            Err(CryptoError::BadKeyId(_))
        ));
    }
}
