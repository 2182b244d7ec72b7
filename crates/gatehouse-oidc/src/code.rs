//! Authorization codes: single use, 60 seconds, bound to the client, the redirect URI and the PKCE
//! challenge (RFC 6749 section 4.1.3, RFC 7636 section 4.6).
//!
//! The caller stores a [`CodeRecord`] under the code's SHA-256 digest when the flow succeeds, loads
//! it at the token endpoint and asks [`redeem_code`]. Single use needs the store's help: it must
//! mark the record redeemed atomically (compare-and-set) before issuing tokens, and a caller that
//! loses that race treats the code as [`CodeDecision::Replayed`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::authorize::AuthorizationRequest;
use crate::{ErrorCode, TokenError};

/// How long a code may be redeemed after it was issued.
pub const CODE_LIFETIME_SECONDS: i64 = 60;

/// What the store keeps about an issued code (besides the user, session and claims it stands for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    /// The S256 challenge from the authorization request, if PKCE was used.
    pub code_challenge: Option<String>,
    pub issued_at: Timestamp,
    pub redeemed: bool,
}

impl CodeRecord {
    /// The record for a code issued now in answer to `request`.
    pub fn issue(request: &AuthorizationRequest, now: Timestamp) -> Self {
        Self {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            issued_at: now,
            redeemed: false,
        }
    }

    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_second(self.issued_at.as_second().saturating_add(CODE_LIFETIME_SECONDS))
            .unwrap_or(self.issued_at)
    }
}

/// The answer to a code redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeDecision {
    /// Issue tokens (after marking the record redeemed).
    Issue,
    /// Refuse with `invalid_grant`.
    Reject(TokenError),
    /// The code was already used: refuse, and revoke every token issued from it (RFC 6749 section
    /// 4.1.2).
    Replayed(TokenError),
}

/// Decides a redemption of `record` (`None`: no such code) by the authenticated `client_id`, with
/// the token request's `redirect_uri` and `code_verifier`.
pub fn redeem_code(
    record: Option<&CodeRecord>,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: Timestamp,
) -> CodeDecision {
    let invalid = |why: &str| CodeDecision::Reject(TokenError::new(ErrorCode::InvalidGrant, why));
    let Some(record) = record else {
        return invalid("the authorization code is invalid or expired");
    };
    if record.redeemed {
        return CodeDecision::Replayed(TokenError::new(
            ErrorCode::InvalidGrant,
            "the authorization code was already used",
        ));
    }
    if record.client_id != client_id {
        return invalid("the authorization code was issued to another client");
    }
    if now >= record.expires_at() {
        return invalid("the authorization code is invalid or expired");
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return invalid("redirect_uri must be the one sent in the authorization request");
    }
    match (&record.code_challenge, code_verifier) {
        (None, None) => CodeDecision::Issue,
        (None, Some(_)) => {
            invalid("a code_verifier was sent but the authorization request had no code_challenge")
        }
        (Some(_), None) => invalid("the code_verifier is missing"),
        (Some(challenge), Some(verifier)) if gatehouse_crypto::pkce::verify_s256(challenge, verifier) => {
            CodeDecision::Issue
        }
        (Some(_), Some(_)) => invalid("the code_verifier does not match the code_challenge"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const CB: &str = "http://127.0.0.1:9000/callback";

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn record(challenge: Option<&str>) -> CodeRecord {
        CodeRecord {
            client_id: "cli".into(),
            redirect_uri: CB.into(),
            code_challenge: challenge.map(str::to_owned),
            issued_at: t(1000),
            redeemed: false,
        }
    }

    fn rejected(d: CodeDecision) -> String {
        match d {
            CodeDecision::Reject(e) => {
                assert_eq!(e.code(), ErrorCode::InvalidGrant);
                e.error.description
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_fresh_code_with_the_right_binding_is_redeemed() {
        let r = record(Some(CHALLENGE));
        assert_eq!(
            redeem_code(Some(&r), "cli", Some(CB), Some(VERIFIER), t(1059)),
            CodeDecision::Issue
        );
        assert_eq!(
            redeem_code(Some(&record(None)), "cli", Some(CB), None, t(1000)),
            CodeDecision::Issue
        );
    }

    #[test]
    fn every_binding_is_enforced() {
        let r = record(Some(CHALLENGE));
        assert!(rejected(redeem_code(None, "cli", Some(CB), Some(VERIFIER), t(1001))).contains("invalid"));
        assert!(
            rejected(redeem_code(Some(&r), "cli", Some(CB), Some(VERIFIER), t(1060))).contains("expired")
        );
        assert!(
            rejected(redeem_code(
                Some(&r),
                "dashboard",
                Some(CB),
                Some(VERIFIER),
                t(1001)
            ))
            .contains("another client")
        );
        assert!(
            rejected(redeem_code(Some(&r), "cli", None, Some(VERIFIER), t(1001))).contains("redirect_uri")
        );
        assert!(
            rejected(redeem_code(
                Some(&r),
                "cli",
                Some("http://127.0.0.1:9000/callback/"),
                Some(VERIFIER),
                t(1001)
            ))
            .contains("redirect_uri")
        );
        assert!(rejected(redeem_code(Some(&r), "cli", Some(CB), None, t(1001))).contains("missing"));
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(
            rejected(redeem_code(Some(&r), "cli", Some(CB), Some(wrong), t(1001))).contains("does not match")
        );
        // A verifier without a challenge is a downgrade attempt.
        assert!(
            rejected(redeem_code(
                Some(&record(None)),
                "cli",
                Some(CB),
                Some(VERIFIER),
                t(1001)
            ))
            .contains("no code_challenge")
        );
    }

    #[test]
    fn a_second_redemption_is_a_replay() {
        let mut r = record(None);
        r.redeemed = true;
        assert!(matches!(
            redeem_code(Some(&r), "cli", Some(CB), None, t(1001)),
            CodeDecision::Replayed(_)
        ));
    }
}
