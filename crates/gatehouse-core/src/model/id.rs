//! Ids as newtypes over UUIDs, one type per kind of record, so a `GroupId` can never be passed
//! where a `UserId` is expected. The caller draws them (`Uuid::now_v7()` in the store) and they
//! display in the canonical lower-case hyphenated form, which is also how they are stored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::CoreError;

/// What every id type offers, so generic code (the store's `new_id`) can make one.
pub trait Id: Copy + Eq + fmt::Display {
    /// The field name used in error messages (`user id`).
    const WHAT: &'static str;
    fn from_uuid(uuid: Uuid) -> Self;
    fn as_uuid(&self) -> Uuid;
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses the canonical text form (other UUID spellings are accepted and normalised).
            pub fn parse(input: &str) -> Result<Self, CoreError> {
                Uuid::try_parse(input.trim())
                    .map(Self)
                    .map_err(|_| CoreError::invalid($what, input, "expected a UUID"))
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Id for $name {
            const WHAT: &'static str = $what;

            fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
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

id_type!(
    /// A user.
    UserId, "user id"
);
id_type!(
    /// A group.
    GroupId, "group id"
);
id_type!(
    /// An application (OIDC client). Not the `client_id`, which is the protocol's name for it.
    AppId, "app id"
);
id_type!(
    /// A network zone.
    ZoneId, "zone id"
);
id_type!(
    /// A policy (global session, enrollment or authentication policy).
    PolicyId, "policy id"
);
id_type!(
    /// A rule of a policy.
    RuleId, "rule id"
);
id_type!(
    /// A rule of the authorization server's access policy.
    AccessRuleId, "access rule id"
);
id_type!(
    /// An authenticator enrollment.
    EnrollmentId, "enrollment id"
);
id_type!(
    /// A registered device.
    DeviceId, "device id"
);
id_type!(
    /// A global session (not its cookie token, which is stored only as a digest).
    SessionId, "session id"
);
id_type!(
    /// A sign-in flow.
    FlowId, "flow id"
);
id_type!(
    /// A verification record.
    RecordId, "record id"
);
id_type!(
    /// A system log event.
    EventId, "event id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_json() {
        let uuid = Uuid::from_u128(0x0192_d2c4_1e5a_7c3e_8f00_0000_0000_0001);
        let id = UserId::from_uuid(uuid);
        assert_eq!(id.to_string(), "0192d2c4-1e5a-7c3e-8f00-000000000001");
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(UserId::parse("0192D2C4-1E5A-7C3E-8F00-000000000001").unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0192d2c4-1e5a-7c3e-8f00-000000000001\"");
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
    }

    #[test]
    fn a_malformed_id_names_its_kind() {
        let err = GroupId::parse("alice").unwrap_err();
        assert_eq!(err.to_string(), "group id `alice` is not valid: expected a UUID");
        assert!(serde_json::from_str::<GroupId>("\"nope\"").is_err());
    }
}
