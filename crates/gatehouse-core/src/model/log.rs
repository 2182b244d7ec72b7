//! System log events (DESIGN section 10): every security-relevant action, append-only.
//!
//! Event types are dotted lower-case names, most general first (`user.lifecycle.suspend`), so a
//! query for `user.lifecycle` finds every lifecycle change. The constants in [`EventType`] are the
//! types emitted so far; add new ones beside them.

use std::fmt;

use jiff::Timestamp;

use super::app::string_enum;
use super::id::{AppId, DeviceId, EventId, UserId};
use crate::CoreError;

/// A dotted event type: 2 to 8 segments of `a-z`, `0-9`, `_`, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

impl EventType {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let segments: Vec<&str> = input.split('.').collect();
        let well_formed = input.len() <= 100
            && (2..=8).contains(&segments.len())
            && segments.iter().all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if well_formed {
            Ok(Self(input.to_owned()))
        } else {
            Err(CoreError::invalid(
                "type",
                input,
                "expected a dotted lower-case name such as `user.lifecycle.suspend`",
            ))
        }
    }

    /// A prefix for queries (`user.session` finds `user.session.start` and `.end`): one or more
    /// segments.
    pub fn parse_prefix(input: &str) -> Result<String, CoreError> {
        let ok = !input.is_empty()
            && input.len() <= 100
            && input.split('.').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if ok {
            Ok(input.to_owned())
        } else {
            Err(CoreError::invalid(
                "type",
                input,
                "expected a dotted lower-case name such as `user.lifecycle`",
            ))
        }
    }

    /// A type known at compile time (the constants below).
    const fn known(text: &'static str) -> KnownType {
        KnownType(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event type written in the code; converts into [`EventType`] without a check (the unit test
/// below parses every constant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownType(&'static str);

impl KnownType {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl From<KnownType> for EventType {
    fn from(known: KnownType) -> Self {
        Self(known.0.to_owned())
    }
}

/// The event types emitted so far. Keep them sorted by area.
pub mod types {
    use super::{EventType, KnownType};

    pub const ADMIN_TOKEN_CREATE: KnownType = EventType::known("admin.token.create");
    pub const ADMIN_TOKEN_REVOKE: KnownType = EventType::known("admin.token.revoke");
    pub const APP_CREATE: KnownType = EventType::known("app.lifecycle.create");
    pub const APP_UPDATE: KnownType = EventType::known("app.lifecycle.update");
    pub const APP_DELETE: KnownType = EventType::known("app.lifecycle.delete");
    pub const APP_SECRET_ROTATE: KnownType = EventType::known("app.secret.rotate");
    pub const APP_OAUTH2_AUTHORIZE_DENY: KnownType = EventType::known("app.oauth2.authorize.deny");
    pub const APP_OAUTH2_CODE_ISSUE: KnownType = EventType::known("app.oauth2.code.issue");
    pub const APP_OAUTH2_TOKEN_GRANT: KnownType = EventType::known("app.oauth2.token.grant");
    pub const APP_OAUTH2_TOKEN_DENY: KnownType = EventType::known("app.oauth2.token.deny");
    pub const APP_OAUTH2_TOKEN_REVOKE: KnownType = EventType::known("app.oauth2.token.revoke");
    pub const APP_OAUTH2_BACKCHANNEL_LOGOUT: KnownType = EventType::known("app.oauth2.backchannel_logout");
    pub const APP_OAUTH2_KEY_ROTATE: KnownType = EventType::known("app.oauth2.key.rotate");
    pub const AUTHZ_RULE_CREATE: KnownType = EventType::known("authorization_server.rule.create");
    pub const AUTHZ_RULE_UPDATE: KnownType = EventType::known("authorization_server.rule.update");
    pub const AUTHZ_RULE_DELETE: KnownType = EventType::known("authorization_server.rule.delete");
    pub const GROUP_CREATE: KnownType = EventType::known("group.lifecycle.create");
    pub const GROUP_UPDATE: KnownType = EventType::known("group.lifecycle.update");
    pub const GROUP_DELETE: KnownType = EventType::known("group.lifecycle.delete");
    pub const GROUP_MEMBER_ADD: KnownType = EventType::known("group.member.add");
    pub const GROUP_MEMBER_REMOVE: KnownType = EventType::known("group.member.remove");
    pub const POLICY_CREATE: KnownType = EventType::known("policy.lifecycle.create");
    pub const POLICY_UPDATE: KnownType = EventType::known("policy.lifecycle.update");
    pub const POLICY_DELETE: KnownType = EventType::known("policy.lifecycle.delete");
    pub const POLICY_APPLY: KnownType = EventType::known("policy.lifecycle.apply");
    pub const POLICY_RULE_CREATE: KnownType = EventType::known("policy.rule.create");
    pub const POLICY_RULE_UPDATE: KnownType = EventType::known("policy.rule.update");
    pub const POLICY_RULE_DELETE: KnownType = EventType::known("policy.rule.delete");
    pub const POLICY_RULE_REORDER: KnownType = EventType::known("policy.rule.reorder");
    pub const POLICY_EVALUATE: KnownType = EventType::known("policy.evaluate");
    pub const SYSTEM_DEMO_SEED: KnownType = EventType::known("system.demo.seed");
    pub const SYSTEM_DEV_SEED: KnownType = EventType::known("system.dev.seed");
    pub const USER_CREATE: KnownType = EventType::known("user.lifecycle.create");
    pub const USER_UPDATE: KnownType = EventType::known("user.lifecycle.update");
    pub const USER_ACTIVATE: KnownType = EventType::known("user.lifecycle.activate");
    pub const USER_AUTH_IDENTIFY: KnownType = EventType::known("user.authentication.identify");
    pub const USER_AUTH_VERIFY: KnownType = EventType::known("user.authentication.verify");
    pub const USER_AUTH_SIGN_IN: KnownType = EventType::known("user.authentication.sign_in");
    pub const USER_AUTH_CANCEL: KnownType = EventType::known("user.authentication.cancel");
    pub const USER_SUSPEND: KnownType = EventType::known("user.lifecycle.suspend");
    pub const USER_UNSUSPEND: KnownType = EventType::known("user.lifecycle.unsuspend");
    pub const USER_UNLOCK: KnownType = EventType::known("user.lifecycle.unlock");
    pub const USER_LOCK_OUT: KnownType = EventType::known("user.lifecycle.lock_out");
    pub const USER_DEACTIVATE: KnownType = EventType::known("user.lifecycle.deactivate");
    pub const USER_DELETE: KnownType = EventType::known("user.lifecycle.delete");
    pub const USER_PASSWORD_SET: KnownType = EventType::known("user.credential.password_set");
    pub const USER_ENROLLMENT_CREATE: KnownType = EventType::known("user.enrollment.create");
    pub const USER_ENROLLMENT_ACTIVATE: KnownType = EventType::known("user.enrollment.activate");
    pub const USER_ENROLLMENT_DEACTIVATE: KnownType = EventType::known("user.enrollment.deactivate");
    pub const USER_ENROLLMENT_DELETE: KnownType = EventType::known("user.enrollment.delete");
    pub const USER_ENROLLMENT_RENAME: KnownType = EventType::known("user.enrollment.rename");
    pub const USER_RISK_SET: KnownType = EventType::known("user.risk.set");
    pub const USER_RISK_CLEAR: KnownType = EventType::known("user.risk.clear");
    pub const USER_SESSION_START: KnownType = EventType::known("user.session.start");
    pub const USER_SESSION_END: KnownType = EventType::known("user.session.end");
    pub const ZONE_CREATE: KnownType = EventType::known("zone.lifecycle.create");
    pub const ZONE_UPDATE: KnownType = EventType::known("zone.lifecycle.update");
    pub const ZONE_DELETE: KnownType = EventType::known("zone.lifecycle.delete");

    /// Every constant above (checked by a unit test).
    pub const ALL: &[KnownType] = &[
        ADMIN_TOKEN_CREATE,
        ADMIN_TOKEN_REVOKE,
        APP_CREATE,
        APP_UPDATE,
        APP_DELETE,
        APP_SECRET_ROTATE,
        APP_OAUTH2_AUTHORIZE_DENY,
        APP_OAUTH2_CODE_ISSUE,
        APP_OAUTH2_TOKEN_GRANT,
        APP_OAUTH2_TOKEN_DENY,
        APP_OAUTH2_TOKEN_REVOKE,
        APP_OAUTH2_BACKCHANNEL_LOGOUT,
        APP_OAUTH2_KEY_ROTATE,
        AUTHZ_RULE_CREATE,
        AUTHZ_RULE_UPDATE,
        AUTHZ_RULE_DELETE,
        GROUP_CREATE,
        GROUP_UPDATE,
        GROUP_DELETE,
        GROUP_MEMBER_ADD,
        GROUP_MEMBER_REMOVE,
        POLICY_CREATE,
        POLICY_UPDATE,
        POLICY_DELETE,
        POLICY_APPLY,
        POLICY_RULE_CREATE,
        POLICY_RULE_UPDATE,
        POLICY_RULE_DELETE,
        POLICY_RULE_REORDER,
        POLICY_EVALUATE,
        SYSTEM_DEMO_SEED,
        USER_CREATE,
        USER_UPDATE,
        USER_ACTIVATE,
        USER_AUTH_IDENTIFY,
        USER_AUTH_VERIFY,
        USER_AUTH_SIGN_IN,
        USER_AUTH_CANCEL,
        USER_SUSPEND,
        USER_UNSUSPEND,
        USER_UNLOCK,
        USER_LOCK_OUT,
        USER_DEACTIVATE,
        USER_DELETE,
        USER_PASSWORD_SET,
        USER_ENROLLMENT_CREATE,
        USER_ENROLLMENT_ACTIVATE,
        USER_ENROLLMENT_DEACTIVATE,
        USER_ENROLLMENT_DELETE,
        USER_ENROLLMENT_RENAME,
        USER_RISK_SET,
        USER_RISK_CLEAR,
        USER_SESSION_START,
        USER_SESSION_END,
        ZONE_CREATE,
        ZONE_UPDATE,
        ZONE_DELETE,
    ];
}

string_enum!(
    /// How the action turned out.
    Outcome, "outcome" {
        Success => "success",
        Failure => "failure",
        Allow => "allow",
        Deny => "deny",
        Challenge => "challenge",
    }
);

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Gatehouse itself (start-up, demo seeding, timeouts).
    System,
    /// An administrator, through an admin API token (its id).
    AdminToken(String),
    /// A user, for their own actions (sign-in steps, self-service enrollment).
    User(UserId),
    /// An application acting for itself (client credentials), by `client_id`.
    Client(String),
    /// Someone not (yet) identified: an unknown login at sign-in.
    Anonymous,
}

impl Actor {
    /// The stored type: `system`, `admin_token`, `user`, `client` or `anonymous`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::System => "system",
            Self::AdminToken(_) => "admin_token",
            Self::User(_) => "user",
            Self::Client(_) => "client",
            Self::Anonymous => "anonymous",
        }
    }

    /// The stored id, for the kinds that have one.
    pub fn id(&self) -> Option<String> {
        match self {
            Self::AdminToken(id) | Self::Client(id) => Some(id.clone()),
            Self::User(id) => Some(id.to_string()),
            Self::System | Self::Anonymous => None,
        }
    }

    /// Rebuilds an actor from its stored kind and id.
    pub fn from_parts(kind: &str, id: Option<&str>) -> Result<Self, CoreError> {
        match (kind, id) {
            ("system", _) => Ok(Self::System),
            ("anonymous", _) => Ok(Self::Anonymous),
            ("admin_token", Some(id)) => Ok(Self::AdminToken(id.to_owned())),
            ("client", Some(id)) => Ok(Self::Client(id.to_owned())),
            ("user", Some(id)) => UserId::parse(id).map(Self::User),
            _ => Err(CoreError::invalid("actor", kind, "unknown actor kind")),
        }
    }
}

/// One system log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub id: EventId,
    pub at: Timestamp,
    pub event_type: EventType,
    pub actor: Actor,
    pub target_user: Option<UserId>,
    pub target_app: Option<AppId>,
    pub target_device: Option<DeviceId>,
    pub outcome: Outcome,
    /// The `x-request-id` of the request that caused it.
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    /// Event-specific facts (the matched rule, the fields changed, …). Never secrets.
    pub details: serde_json::Value,
}

impl LogEvent {
    /// An event with no targets, request or details; add them with the builder methods.
    pub fn new(
        id: EventId,
        at: Timestamp,
        event_type: impl Into<EventType>,
        actor: Actor,
        outcome: Outcome,
    ) -> Self {
        Self {
            id,
            at,
            event_type: event_type.into(),
            actor,
            target_user: None,
            target_app: None,
            target_device: None,
            outcome,
            request_id: None,
            client_ip: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    pub fn user(mut self, user: UserId) -> Self {
        self.target_user = Some(user);
        self
    }

    pub fn app(mut self, app: AppId) -> Self {
        self.target_app = Some(app);
        self
    }

    pub fn device(mut self, device: DeviceId) -> Self {
        self.target_device = Some(device);
        self
    }

    pub fn request(mut self, request_id: Option<String>, client_ip: Option<String>) -> Self {
        self.request_id = request_id;
        self.client_ip = client_ip;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_parses() {
        for known in types::ALL {
            let parsed = EventType::parse(known.as_str()).unwrap();
            assert_eq!(parsed, EventType::from(*known));
        }
    }

    #[test]
    fn event_types_are_dotted_lower_case() {
        assert!(EventType::parse("user.session.start").is_ok());
        for bad in [
            "user",
            "User.session",
            "user..start",
            "user.session.",
            "user session.x",
            "",
        ] {
            assert!(EventType::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(EventType::parse_prefix("user").unwrap(), "user");
        assert!(EventType::parse_prefix("user.%").is_err());
    }

    #[test]
    fn actors_round_trip_through_their_parts() {
        let user = UserId::from_uuid(uuid::Uuid::from_u128(3));
        for actor in [
            Actor::System,
            Actor::Anonymous,
            Actor::AdminToken("t1".into()),
            Actor::Client("reports-service".into()),
            Actor::User(user),
        ] {
            let id = actor.id();
            assert_eq!(Actor::from_parts(actor.kind(), id.as_deref()).unwrap(), actor);
        }
        assert!(Actor::from_parts("robot", None).is_err());
    }
}
