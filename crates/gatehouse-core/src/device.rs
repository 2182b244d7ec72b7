//! The device rules of Gatehouse Verify (DESIGN.md section 7), pure: no I/O, no clock, no
//! randomness — times are Unix seconds and ids are passed in by the caller.
//!
//! - [`lifecycle`]: the device lifecycle state machine (`active` → `deactivated` → `active` by
//!   reactivation → deleted; `suspended` ↔ `active`), each transition with the effects the server
//!   must apply, and whether a device and enrollment in a given state may authenticate or change
//!   accounts.
//! - [`challenge`]: the canonical challenge and answer messages a device signs with its P-256
//!   keys, and the checks of an answer whose signatures the caller has already verified (single
//!   use, 2-minute expiry, origin, user-verification level, number matching, which key signed).
//! - [`uv_key`]: the guards on adding a user-verification key inside a sign-in flow (the inline
//!   biometric remediation), against malware that holds the silent proof-of-possession key.
//! - [`proof`]: the time and audience checks of the device's signed requests (registration proof
//!   and per-request proofs).
//!
//! The identifiers below ([`ChallengeId`], [`Nonce`], [`EnrollmentId`], [`KeyThumbprint`],
//! [`Origin`]) are built only through `parse` (refusals are [`CoreError::Invalid`]), so the
//! canonical messages built from them are unambiguous (no value can contain a line break).
//! [`UserVerification`] is the policy language's level, compared with [`Satisfies`].
//! Wire formats live in `gatehouse_api::device`; signature verification is
//! `gatehouse_crypto::pop`; the protocol is `docs/verify-protocol.md`.

pub mod challenge;
pub mod lifecycle;
pub mod proof;
pub mod uv_key;

use std::fmt;

use crate::CoreError;

pub use challenge::{
    AnswerCheck, AnswerDecision, AnswerOutcome, AnswerRefusal, AnswerResult, CHALLENGE_LIFETIME_SECONDS,
    ChallengeAudience, ChallengeBinding, ChallengeKind, DeviceAnswer, IssuedChallenge,
    NewUserVerificationKey, VerifiedSignatures, check_answer,
};
pub use lifecycle::{
    DeviceEffect, DeviceRefusal, DeviceStatus, EnrollmentStatus, LifecycleAction, LifecycleDecision,
    LifecycleRefusal, LifecycleTransition, Standing, transition,
};
pub use proof::{
    ExpectedProof, MAX_CLOCK_SKEW_SECONDS, MAX_PROOF_LIFETIME_SECONDS, ProofClaims, ProofRefusal, ProofTimes,
    check_proof, check_proof_times,
};
pub use uv_key::{UvKeyDecision, UvKeyFlowContext, UvKeyRefusal, check_user_verification_key};

/// User-verification levels, ordered `none` < `any` (PIN or biometric) < `biometric`: the policy
/// language's type, so device records and verification records speak the same levels.
pub use gatehouse_policy::UserVerification;

/// Comparing user-verification levels.
pub trait Satisfies {
    /// Whether a verification at this level meets a requirement of `required`.
    fn satisfies(self, required: Self) -> bool;
}

impl Satisfies for UserVerification {
    fn satisfies(self, required: Self) -> bool {
        self >= required
    }
}

/// Whether `text` is `min..=max` URL-unreserved characters (`A-Z a-z 0-9 - . _ ~`).
fn is_token(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

macro_rules! token_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Shortest accepted value, in characters.
            pub const MIN_LEN: usize = $min;
            /// Longest accepted value, in characters.
            pub const MAX_LEN: usize = $max;

            pub fn parse(text: &str) -> Result<Self, CoreError> {
                if is_token(text, $min, $max) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(CoreError::invalid(
                        $what,
                        text,
                        format!("it must be {} to {} characters of `A-Z a-z 0-9 - . _ ~`", $min, $max),
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_type!(
    /// A challenge's id (the `jti` of the server's challenge JWS).
    ChallengeId, "challenge id", 1, 128
);
token_type!(
    /// A challenge's random nonce: at least 22 characters (128 bits of base64url).
    Nonce, "nonce", 22, 128
);
token_type!(
    /// The id of a device authenticator enrollment (one Verify instance's account).
    EnrollmentId, "enrollment id", 1, 128
);
token_type!(
    /// A public key's RFC 7638 SHA-256 thumbprint, base64url (43 characters).
    KeyThumbprint, "key thumbprint", 43, 43
);

/// A web origin in its serialised form `scheme://host[:port]`: scheme `http` or `https`, host in
/// lower case, default ports (80, 443) left out, no user info, path, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    /// Parses an origin exactly as a browser sends it in the `Origin` header.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let bad = || CoreError::invalid("origin", text, "it must have the form `http(s)://host[:port]`");
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad()),
        };
        let (host, port) = split_host_port(rest).ok_or_else(bad)?;
        if !valid_host(host) {
            return Err(bad());
        }
        let host = host.to_ascii_lowercase();
        Ok(match port {
            Some(p) if p != default_port => Self(format!("{scheme}://{host}:{p}")),
            _ => Self(format!("{scheme}://{host}")),
        })
    }

    /// The origin of a URL (its scheme and authority; path, query and fragment are dropped).
    pub fn of_url(url: &str) -> Result<Self, CoreError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| CoreError::invalid("URL", url, "it must start with `http://` or `https://`"))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = rest.get(..end).unwrap_or(rest);
        Self::parse(&format!("{scheme}://{authority}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits `host[:port]` (IPv6 hosts in brackets); `None` when the port is not 1–65535.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|p| *p != 0)?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && !host.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_strict() {
        assert_eq!(
            Origin::parse("http://localhost:8080").unwrap().as_str(),
            "http://localhost:8080"
        );
        assert_eq!(
            Origin::parse("HTTPS://Example.COM:443").unwrap().as_str(),
            "https://example.com"
        );
        assert_eq!(
            Origin::parse("http://127.0.0.1:80").unwrap().as_str(),
            "http://127.0.0.1"
        );
        assert_eq!(
            Origin::parse("http://[::1]:8080").unwrap().as_str(),
            "http://[::1]:8080"
        );
        for bad in [
            "null",
            "localhost:8080",
            "ftp://example.com",
            "http://",
            "http://a/b",
            "http://user@host",
            "http://host:0",
            "http://host:99999",
            "http://host:",
            "http://ho st",
            "http://host\nuser-verification=none",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            Origin::of_url("http://localhost:8080/oauth2/authorize?x=1")
                .unwrap()
                .as_str(),
            "http://localhost:8080"
        );
        assert_eq!(
            Origin::of_url("https://id.example.com").unwrap().as_str(),
            "https://id.example.com"
        );
    }

    #[test]
    fn tokens_refuse_separators_and_wrong_lengths() {
        assert!(ChallengeId::parse("ch_01J9Z-abc.def~x").is_ok());
        assert!(ChallengeId::parse("").is_err());
        assert!(ChallengeId::parse("a\nb").is_err());
        assert!(ChallengeId::parse("a=b").is_err());
        assert!(Nonce::parse("short").is_err());
        assert!(Nonce::parse(&"n".repeat(22)).is_ok());
        assert!(KeyThumbprint::parse(&"k".repeat(43)).is_ok());
        assert!(KeyThumbprint::parse(&"k".repeat(44)).is_err());
        let err = EnrollmentId::parse("has space").unwrap_err();
        assert_eq!(
            err.to_string(),
            "enrollment id `has space` is not valid: it must be 1 to 128 characters of `A-Z a-z 0-9 - . _ ~`"
        );
        assert_eq!(err.field(), Some("enrollment id"));
    }

    #[test]
    fn user_verification_levels_are_ordered() {
        use UserVerification::*;
        assert!(Biometric.satisfies(Any) && Biometric.satisfies(None) && Any.satisfies(None));
        assert!(!Any.satisfies(Biometric) && !None.satisfies(Any));
        for level in UserVerification::ALL {
            assert!(level.satisfies(level));
        }
    }
}
