//! Refresh tokens: rotation within a family, and reuse detection.
//!
//! Every refresh token belongs to a family (the chain of rotations from one sign-in). Redeeming an
//! active token rotates it: the caller marks it [`RefreshStatus::Rotated`] and issues the next token
//! of the same family. Presenting a rotated-out token means two parties hold the family (one of them
//! stole it): the decision is [`RefreshDecision::RevokeFamily`], and the caller revokes every token of
//! the family. Like codes, rotation needs the store to switch `Active` to `Rotated` atomically; the
//! loser of a race sees `Rotated` and the family is revoked.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{ErrorCode, ScopeSet, TokenError};

/// Where a refresh token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshStatus {
    Active,
    /// Redeemed once; its successor is the family's live token.
    Rotated,
    /// Revoked (logout, session end, reuse, RFC 7009 revocation).
    Revoked,
}

/// What the store keeps about a refresh token (its family's row, read through the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub family_id: String,
    pub client_id: String,
    pub scope: ScopeSet,
    pub status: RefreshStatus,
    pub expires_at: Timestamp,
}

/// The answer to a refresh request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Rotate: mark this token rotated, issue a new one in the same family with `scope` (the
    /// original or the narrower one asked for), and a new access token.
    Rotate { scope: ScopeSet },
    /// Refuse; nothing else changes.
    Reject(TokenError),
    /// A rotated-out token came back: refuse and revoke the whole family.
    RevokeFamily { family_id: String, error: TokenError },
}

/// Decides a refresh of `record` (`None`: no such token) by the authenticated `client_id`.
pub fn redeem_refresh(
    record: Option<&RefreshRecord>,
    client_id: &str,
    requested_scope: Option<&ScopeSet>,
    now: Timestamp,
) -> RefreshDecision {
    let invalid = |why: &str| RefreshDecision::Reject(TokenError::new(ErrorCode::InvalidGrant, why));
    let Some(record) = record else {
        return invalid("the refresh token is invalid, expired or revoked");
    };
    if record.client_id != client_id {
        return invalid("the refresh token was issued to another client");
    }
    match record.status {
        RefreshStatus::Revoked => return invalid("the refresh token is invalid, expired or revoked"),
        RefreshStatus::Rotated => {
            return RefreshDecision::RevokeFamily {
                family_id: record.family_id.clone(),
                error: TokenError::new(
                    ErrorCode::InvalidGrant,
                    "the refresh token was already used; every token of its family is now revoked",
                ),
            };
        }
        RefreshStatus::Active => {}
    }
    if now >= record.expires_at {
        return invalid("the refresh token is invalid, expired or revoked");
    }
    match requested_scope {
        None => RefreshDecision::Rotate {
            scope: record.scope.clone(),
        },
        Some(scope) if scope.is_subset_of(&record.scope) => RefreshDecision::Rotate { scope: scope.clone() },
        Some(_) => RefreshDecision::Reject(TokenError::new(
            ErrorCode::InvalidScope,
            "the requested scope exceeds the scope originally granted",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn record(status: RefreshStatus) -> RefreshRecord {
        RefreshRecord {
            family_id: "fam-1".into(),
            client_id: "dashboard".into(),
            scope: ScopeSet::parse("openid profile email").unwrap(),
            status,
            expires_at: t(2000),
        }
    }

    #[test]
    fn an_active_token_rotates_keeping_or_narrowing_its_scope() {
        let r = record(RefreshStatus::Active);
        assert_eq!(
            redeem_refresh(Some(&r), "dashboard", None, t(1000)),
            RefreshDecision::Rotate {
                scope: r.scope.clone()
            }
        );
        let narrower = ScopeSet::parse("openid").unwrap();
        assert_eq!(
            redeem_refresh(Some(&r), "dashboard", Some(&narrower), t(1000)),
            RefreshDecision::Rotate { scope: narrower }
        );
        let wider = ScopeSet::parse("openid groups").unwrap();
        let RefreshDecision::Reject(e) = redeem_refresh(Some(&r), "dashboard", Some(&wider), t(1000)) else {
            panic!("reject")
        };
        assert_eq!(e.code(), ErrorCode::InvalidScope);
    }

    #[test]
    fn reuse_revokes_the_family_and_everything_else_is_invalid_grant() {
        let RefreshDecision::RevokeFamily { family_id, error } =
            redeem_refresh(Some(&record(RefreshStatus::Rotated)), "dashboard", None, t(1000))
        else {
            panic!("revoke family")
        };
        assert_eq!(family_id, "fam-1");
        assert_eq!(error.code(), ErrorCode::InvalidGrant);
        for (r, client, now) in [
            (None, "dashboard", 1000),
            (Some(record(RefreshStatus::Revoked)), "dashboard", 1000),
            (Some(record(RefreshStatus::Active)), "dashboard", 2000),
            (Some(record(RefreshStatus::Active)), "finance", 1000),
        ] {
            let RefreshDecision::Reject(e) = redeem_refresh(r.as_ref(), client, None, t(now)) else {
                panic!("reject {r:?} {client}")
            };
            assert_eq!(e.code(), ErrorCode::InvalidGrant);
        }
    }
}
