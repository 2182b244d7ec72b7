//! Users: [`User`], its field newtypes, and the status lifecycle.
//!
//! Lifecycle (Okta's, minus provisioning states):
//!
//! ```text
//! staged ──activate──▶ active ──suspend──▶ suspended ──unsuspend──▶ active
//!                        │  ▲
//!               lock_out │  │ unlock
//!                        ▼  │
//!                     locked_out
//! any but deactivated ──deactivate──▶ deactivated ──activate──▶ active
//! ```
//!
//! Only an `active` user can sign in. Only a `deactivated` user can be deleted.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::id::UserId;
use super::text;
use crate::CoreError;

/// A login: unique among users regardless of case. Letters, digits and `.`, `_`, `-`, `@`, `+`,
/// 1 to 128 characters (an email address is a valid login). The spelling given is kept for
/// display; [`Login::key`] is the lower-case form that uniqueness and look-ups use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login {
    text: String,
    key: String,
}

impl Login {
    pub const MAX: usize = 128;

    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(CoreError::invalid("login", input, "it must not be empty"));
        }
        if text.len() > Self::MAX {
            return Err(CoreError::invalid(
                "login",
                input,
                "it must be at most 128 characters",
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+')))
        {
            return Err(CoreError::invalid(
                "login",
                input,
                format!("`{bad}` is not allowed; use letters, digits and . _ - @ +"),
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            key: text.to_ascii_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The case-folded form: two logins with the same key are the same login.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether `other` names this login, ignoring case.
    pub fn matches(&self, other: &str) -> bool {
        self.key.eq_ignore_ascii_case(other.trim())
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An email address: `local@domain`, at most 254 characters, no spaces or control characters.
/// Deliverability is not checked here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let text = input.trim();
        let bad = |reason: &str| CoreError::invalid("email", input, reason);
        if text.is_empty() {
            return Err(bad("it must not be empty"));
        }
        if text.len() > 254 {
            return Err(bad("it must be at most 254 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it must not contain spaces or control characters"));
        }
        match text.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.starts_with('.') => {
                Ok(Self(text.to_owned()))
            }
            _ => Err(bad("expected an address such as alice@example.com")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: 1 to 200 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        text::name("display_name", input, 200).map(|t| Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free-form profile attributes: a JSON object of at most 64 attributes and 16 KiB, whose keys
/// are 1 to 64 characters and whose strings hold no NUL character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile(serde_json::Map<String, serde_json::Value>);

impl Profile {
    pub const MAX_ATTRIBUTES: usize = 64;
    pub const MAX_BYTES: usize = 16 * 1024;

    pub fn parse(value: serde_json::Value) -> Result<Self, CoreError> {
        let serde_json::Value::Object(map) = value else {
            return Err(CoreError::invalid("profile", "…", "expected a JSON object"));
        };
        if map.len() > Self::MAX_ATTRIBUTES {
            return Err(CoreError::invalid(
                "profile",
                "…",
                format!("it may have at most {} attributes", Self::MAX_ATTRIBUTES),
            ));
        }
        for key in map.keys() {
            if key.is_empty() || key.chars().count() > 64 || key.chars().any(char::is_control) {
                return Err(CoreError::invalid(
                    "profile",
                    key,
                    "attribute names must be 1 to 64 characters without control characters",
                ));
            }
        }
        let text = serde_json::Value::Object(map.clone()).to_string();
        if text.len() > Self::MAX_BYTES {
            return Err(CoreError::invalid(
                "profile",
                "…",
                "it must be at most 16 KiB as JSON",
            ));
        }
        // JSON escapes NUL as \u0000; PostgreSQL text cannot hold it.
        if text.contains("\\u0000") {
            return Err(CoreError::invalid(
                "profile",
                "…",
                "it must not contain NUL characters",
            ));
        }
        Ok(Self(map))
    }

    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

/// Where a user is in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    /// Created but not activated: cannot sign in yet.
    Staged,
    Active,
    /// Temporarily barred by an administrator; keeps everything.
    Suspended,
    /// Barred after too many failed attempts, until unlocked.
    LockedOut,
    /// Switched off; the only status from which a user can be deleted.
    Deactivated,
}

impl UserStatus {
    pub const ALL: [Self; 5] = [
        Self::Staged,
        Self::Active,
        Self::Suspended,
        Self::LockedOut,
        Self::Deactivated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staged => "staged",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::LockedOut => "locked_out",
            Self::Deactivated => "deactivated",
        }
    }

    pub fn parse(input: &str) -> Result<Self, CoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == input)
            .ok_or_else(|| {
                CoreError::invalid(
                    "status",
                    input,
                    "expected one of staged, active, suspended, locked_out, deactivated",
                )
            })
    }

    /// Whether a user with this status may sign in.
    pub fn can_sign_in(self) -> bool {
        self == Self::Active
    }

    /// Whether a user with this status may be deleted.
    pub fn can_be_deleted(self) -> bool {
        self == Self::Deactivated
    }

    /// The status after `action`, or [`CoreError::Transition`] when this status does not allow it.
    pub fn apply(self, action: LifecycleAction) -> Result<Self, CoreError> {
        use LifecycleAction as A;
        use UserStatus as S;
        let next = match (self, action) {
            (S::Staged | S::Deactivated, A::Activate) => S::Active,
            (S::Active, A::Suspend) => S::Suspended,
            (S::Suspended, A::Unsuspend) => S::Active,
            (S::LockedOut, A::Unlock) => S::Active,
            (S::Active, A::LockOut) => S::LockedOut,
            (S::Staged | S::Active | S::Suspended | S::LockedOut, A::Deactivate) => S::Deactivated,
            _ => {
                return Err(CoreError::Transition {
                    what: "user",
                    action: action.as_str(),
                    from: self.as_str(),
                });
            }
        };
        Ok(next)
    }

    /// Whether entering this status must end the user's sessions (and the tokens issued from
    /// them): suspension, lock-out and deactivation do.
    pub fn ends_sessions(self) -> bool {
        matches!(self, Self::Suspended | Self::LockedOut | Self::Deactivated)
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UserStatus {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A change of status. `LockOut` is done by the sign-in flow after repeated failures; the others
/// are administrator actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    Activate,
    Suspend,
    Unsuspend,
    Unlock,
    LockOut,
    Deactivate,
}

impl LifecycleAction {
    /// The actions an administrator can request by name.
    pub const ADMIN: [Self; 5] = [
        Self::Activate,
        Self::Suspend,
        Self::Unsuspend,
        Self::Unlock,
        Self::Deactivate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Suspend => "suspend",
            Self::Unsuspend => "unsuspend",
            Self::Unlock => "unlock",
            Self::LockOut => "lock_out",
            Self::Deactivate => "deactivate",
        }
    }

    /// Parses an administrator action (`lock_out` is not one).
    pub fn parse_admin(input: &str) -> Result<Self, CoreError> {
        Self::ADMIN
            .into_iter()
            .find(|a| a.as_str() == input)
            .ok_or_else(|| {
                CoreError::invalid(
                    "action",
                    input,
                    "expected one of activate, suspend, unsuspend, unlock, deactivate",
                )
            })
    }
}

/// A user of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub login: Login,
    pub email: Email,
    pub display_name: DisplayName,
    pub status: UserStatus,
    pub profile: Profile,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the status last changed.
    pub status_changed_at: Timestamp,
    /// When the user last completed a sign-in.
    pub last_sign_in_at: Option<Timestamp>,
}

impl User {
    /// Applies a lifecycle action at `now`; the caller stores the result.
    pub fn transition(&mut self, action: LifecycleAction, now: Timestamp) -> Result<(), CoreError> {
        self.status = self.status.apply(action)?;
        self.status_changed_at = now;
        self.updated_at = now;
        Ok(())
    }
}

macro_rules! text_serde {
    ($name:ident) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
text_serde!(Login);
text_serde!(Email);
text_serde!(DisplayName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_case_insensitive_but_keep_their_spelling() {
        let login = Login::parse(" Alice.Smith@Example.com ").unwrap();
        assert_eq!(login.as_str(), "Alice.Smith@Example.com");
        assert_eq!(login.key(), "alice.smith@example.com");
        assert!(login.matches("ALICE.SMITH@example.COM"));
        assert_eq!(
            Login::parse("ALICE").unwrap().key(),
            Login::parse("alice").unwrap().key()
        );
    }

    #[test]
    fn bad_logins_say_why() {
        assert_eq!(
            Login::parse("al ice").unwrap_err().to_string(),
            "login `al ice` is not valid: ` ` is not allowed; use letters, digits and . _ - @ +"
        );
        assert!(Login::parse("").is_err());
        assert!(Login::parse(&"a".repeat(129)).is_err());
        assert!(Login::parse("ålice").is_err());
        assert!(Login::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(Email::parse("alice@example.com").is_ok());
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "alice@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profiles_are_bounded_objects() {
        assert!(Profile::parse(serde_json::json!({"department": "finance"})).is_ok());
        assert!(Profile::parse(serde_json::json!(["not", "an", "object"])).is_err());
        assert!(Profile::parse(serde_json::json!({"x": "nul\u{0}"})).is_err());
        assert!(Profile::parse(serde_json::json!({"": 1})).is_err());
        assert!(Profile::parse(serde_json::json!({"big": "x".repeat(20_000)})).is_err());
    }

    #[test]
    fn lifecycle_allows_okta_transitions_only() {
        use LifecycleAction as A;
        use UserStatus as S;
        assert_eq!(S::Staged.apply(A::Activate), Ok(S::Active));
        assert_eq!(S::Active.apply(A::Suspend), Ok(S::Suspended));
        assert_eq!(S::Suspended.apply(A::Unsuspend), Ok(S::Active));
        assert_eq!(S::Active.apply(A::LockOut), Ok(S::LockedOut));
        assert_eq!(S::LockedOut.apply(A::Unlock), Ok(S::Active));
        assert_eq!(S::Suspended.apply(A::Deactivate), Ok(S::Deactivated));
        assert_eq!(S::Deactivated.apply(A::Activate), Ok(S::Active));
        let err = S::Staged.apply(A::Suspend).unwrap_err();
        assert_eq!(err.to_string(), "cannot suspend a user whose status is `staged`");
        assert!(S::Active.apply(A::Activate).is_err());
        assert!(S::Active.apply(A::Unlock).is_err());
        assert!(S::Deactivated.apply(A::Deactivate).is_err());
        assert!(S::Suspended.apply(A::LockOut).is_err());
    }

    #[test]
    fn only_active_users_sign_in_and_only_deactivated_ones_are_deleted() {
        for status in UserStatus::ALL {
            assert_eq!(status.can_sign_in(), status == UserStatus::Active);
            assert_eq!(status.can_be_deleted(), status == UserStatus::Deactivated);
            assert_eq!(UserStatus::parse(status.as_str()), Ok(status));
        }
        assert!(UserStatus::parse("ACTIVE").is_err());
        assert!(LifecycleAction::parse_admin("lock_out").is_err());
    }
}
