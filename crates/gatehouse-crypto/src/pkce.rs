//! PKCE (RFC 7636): the S256 code challenge and the code verifier's syntax.
//!
//! Only `S256` exists here: Gatehouse refuses the `plain` method, so a challenge is always
//! `BASE64URL(SHA256(ASCII(code_verifier)))` without padding, and a verifier is 43 to 128
//! characters of `[A-Za-z0-9-._~]`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Shortest allowed verifier (RFC 7636 section 4.1).
pub const MIN_VERIFIER_LEN: usize = 43;
/// Longest allowed verifier.
pub const MAX_VERIFIER_LEN: usize = 128;

/// Whether `verifier` has RFC 7636 syntax: 43–128 characters, each unreserved
/// (`ALPHA / DIGIT / "-" / "." / "_" / "~"`).
pub fn is_valid_verifier(verifier: &str) -> bool {
    (MIN_VERIFIER_LEN..=MAX_VERIFIER_LEN).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of `verifier`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(crate::digest::sha256(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and its S256 challenge equals `challenge` (compared in
/// constant time).
pub fn verify_s256(challenge: &str, verifier: &str) -> bool {
    is_valid_verifier(verifier)
        && crate::constant_time_eq(s256_challenge(verifier).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verify_s256(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            verifier
        ));
    }

    #[test]
    fn verifier_syntax() {
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"~._-".repeat(32)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(42))));
        assert!(!is_valid_verifier(&format!("{} ", "a".repeat(42))));
        assert!(!is_valid_verifier(&"é".repeat(30)));
    }

    #[test]
    fn malformed_verifier_never_verifies_even_with_its_own_challenge() {
        let short = "short";
        assert!(!verify_s256(&s256_challenge(short), short));
    }

    proptest! {
        /// verify(challenge(v), v) holds for every well-formed verifier.
        #[test]
        fn challenge_of_verifier_verifies(v in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(verify_s256(&s256_challenge(&v), &v));
        }

        /// …and fails for any other verifier.
        #[test]
        fn other_verifiers_fail(v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}") {
            prop_assume!(v != w);
            prop_assert!(!verify_s256(&s256_challenge(&v), &w));
        }
    }
}
