//! Secrets stored under keys that sort by creation time: session cookies, authorization codes
//! and browser cookies.
//!
//! A secret is looked up by a key derived from it, and the key is what the database indexes. The
//! SHA-256 of a random secret lands on a random page of that index, so every new secret was one
//! more page written at each commit and read again by every reader after it. A secret made here
//! is a UUIDv7 (32 hex characters, time-ordered) followed by 256 random bits, and its key is that
//! UUID followed by the SHA-256 of the whole secret: new keys go beside each other, and the key
//! still reveals nothing of the random part. Secrets made before (the random part alone) keep
//! their plain SHA-256 key and are still found.

use gatehouse_crypto::{digest, random};

/// The length of the time-ordered prefix: a UUIDv7 in simple form.
const PREFIX_LEN: usize = 32;
/// The length of a secret made here: the prefix, then 32 random bytes in unpadded base64url.
const LEN: usize = PREFIX_LEN + 43;

/// A new secret and the key to store it under.
pub(crate) fn new() -> (String, String) {
    let secret = format!("{}{}", uuid::Uuid::now_v7().simple(), random::token::<32>());
    let key = key(&secret);
    (secret, key)
}

/// The key a presented secret is stored under.
pub(crate) fn key(secret: &str) -> String {
    let hash = digest::sha256_hex(secret.as_bytes());
    match secret.get(..PREFIX_LEN) {
        Some(prefix)
            if secret.len() == LEN && prefix.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            format!("{prefix}{hash}")
        }
        _ => hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_creation_and_hide_the_random_part() {
        let (first, first_key) = new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let (second, second_key) = new();
        assert_eq!(first.len(), LEN);
        assert!(first_key < second_key, "{first_key} then {second_key}");
        assert_eq!(key(&first), first_key);
        assert_ne!(key(&second), first_key);
        // The key is the prefix and a digest: the random part is not in it.
        assert_eq!(&first_key[..PREFIX_LEN], &first[..PREFIX_LEN]);
        assert!(!first_key.contains(&first[PREFIX_LEN..]));
        assert_eq!(first_key.len(), PREFIX_LEN + 64);
        // One character changed is another key.
        let mut other = first.clone().into_bytes();
        other[LEN - 1] = if other[LEN - 1] == b'A' { b'B' } else { b'A' };
        assert_ne!(key(&String::from_utf8(other).unwrap()), first_key);
    }

    #[test]
    fn secrets_made_before_keep_their_plain_digest() {
        let old = random::token::<32>();
        assert_eq!(key(&old), digest::sha256_hex(old.as_bytes()));
        // A forged prefix of the right shape on a secret of another length changes nothing.
        let odd = format!("{}{}", "0".repeat(PREFIX_LEN), "x");
        assert_eq!(key(&odd), digest::sha256_hex(odd.as_bytes()));
    }
}
