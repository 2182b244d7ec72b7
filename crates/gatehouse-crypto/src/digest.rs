//! SHA-256 digests for high-entropy secrets (client secrets, refresh tokens, admin tokens, codes).
//!
//! A slow hash is for low-entropy passwords; a secret with 256 random bits is stored as its SHA-256
//! digest and compared in constant time.

use sha2::{Digest as _, Sha256};

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Raw SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Whether `secret` hashes to the stored hex digest, compared in constant time.
pub fn verify_sha256_hex(secret: &[u8], stored_hex: &str) -> bool {
    crate::constant_time_eq(sha256_hex(secret).as_bytes(), stored_hex.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_verification() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(verify_sha256_hex(b"abc", &sha256_hex(b"abc")));
        assert!(!verify_sha256_hex(b"abd", &sha256_hex(b"abc")));
        assert_eq!(sha256(b"abc").len(), 32);
    }
}
