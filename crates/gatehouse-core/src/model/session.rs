//! Global sessions (DESIGN section 6) and the verification records under them.
//!
//! A session is found by its cookie token, which is stored only as a SHA-256 digest; its
//! [`SessionId`] is a separate, public handle (admin API, references from tokens). A session is
//! live until it is ended, its absolute lifetime runs out, or it sits idle longer than its idle
//! timeout.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::app::string_enum;
use super::authenticator::{AuthenticatorKey, Method, Proof};
use super::id::{DeviceId, EnrollmentId, FlowId, RecordId, SessionId, UserId};

string_enum!(
    /// Why a session ended.
    EndReason, "reason" {
        Logout => "logout",
        IdleTimeout => "idle_timeout",
        Expired => "expired",
        AdminRevoked => "admin_revoked",
        UserSuspended => "user_suspended",
        UserLockedOut => "user_locked_out",
        UserDeactivated => "user_deactivated",
        UserDeleted => "user_deleted",
        DeviceDeactivated => "device_deactivated",
        PolicyViolation => "policy_violation",
    }
);

/// A global session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    /// Lower-case hex SHA-256 of the cookie token.
    pub token_digest: String,
    pub user_id: UserId,
    /// The device the session was established with, if any.
    pub device_id: Option<DeviceId>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// Absolute expiry (the global session policy's `max_lifetime` from creation).
    pub expires_at: Timestamp,
    /// The policy's `max_idle` when the session was made.
    pub max_idle: Duration,
    pub keep_signed_in: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<EndReason>,
}

impl Session {
    /// Whether the session is usable at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.ended_at.is_none() && now < self.expires_at && now < self.idle_deadline()
    }

    /// When the session times out if it is not used before.
    pub fn idle_deadline(&self) -> Timestamp {
        let idle = SignedDuration::try_from(self.max_idle).unwrap_or(SignedDuration::MAX);
        self.last_seen_at.saturating_add(idle).unwrap_or(Timestamp::MAX)
    }

    /// Why a session that is not live stopped: its recorded reason, or the timeout that ran out.
    pub fn dead_reason(&self, now: Timestamp) -> Option<EndReason> {
        if let Some(reason) = self.end_reason {
            return Some(reason);
        }
        if self.ended_at.is_some() {
            return Some(EndReason::Logout);
        }
        if now >= self.expires_at {
            return Some(EndReason::Expired);
        }
        if now >= self.idle_deadline() {
            return Some(EndReason::IdleTimeout);
        }
        None
    }
}

/// One verification: the evidence policies are evaluated against (DESIGN section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRecord {
    pub id: RecordId,
    pub session_id: SessionId,
    /// The sign-in flow that made it (for `reauthenticate: every_sign_in`).
    pub flow_id: Option<FlowId>,
    pub authenticator: AuthenticatorKey,
    pub method: Method,
    pub enrollment_id: Option<EnrollmentId>,
    pub device_id: Option<DeviceId>,
    pub verified_at: Timestamp,
    /// What this verification proved (DESIGN section 3's table, computed with
    /// `gatehouse_policy::prove` when the verification succeeded).
    pub proof: Proof,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn session() -> Session {
        Session {
            id: SessionId::from_uuid(uuid::Uuid::from_u128(1)),
            token_digest: "ab".repeat(32),
            user_id: UserId::from_uuid(uuid::Uuid::from_u128(2)),
            device_id: None,
            created_at: at(1_000),
            last_seen_at: at(1_000),
            expires_at: at(1_000 + 86_400),
            max_idle: Duration::from_secs(7_200),
            keep_signed_in: false,
            client_ip: None,
            user_agent: None,
            ended_at: None,
            end_reason: None,
        }
    }

    #[test]
    fn a_session_lives_until_idle_or_absolute_timeout_or_end() {
        let mut s = session();
        assert!(s.is_live(at(1_000 + 7_199)));
        assert!(!s.is_live(at(1_000 + 7_200)));
        assert_eq!(s.dead_reason(at(1_000 + 7_200)), Some(EndReason::IdleTimeout));
        s.last_seen_at = at(1_000 + 86_000);
        assert!(!s.is_live(at(1_000 + 86_400)));
        assert_eq!(s.dead_reason(at(1_000 + 86_400)), Some(EndReason::Expired));
        s.ended_at = Some(at(2_000));
        s.end_reason = Some(EndReason::AdminRevoked);
        assert!(!s.is_live(at(2_001)));
        assert_eq!(s.dead_reason(at(2_001)), Some(EndReason::AdminRevoked));
    }
}
