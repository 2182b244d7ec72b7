//! Groups: a name, a description, members. The built-in group `everyone` holds every user by
//! definition (its membership is implied, never stored); it cannot be renamed, deleted, or have
//! members added or removed.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::id::GroupId;
use super::text;
use crate::CoreError;

/// The name of the built-in group that holds every user.
pub const EVERYONE: &str = "everyone";

/// The fixed id of `everyone` (created by the first migration).
pub const EVERYONE_ID: GroupId = GroupId::from_uuid(Uuid::from_u128(1));

/// A group name: 1 to 100 characters, trimmed, no control characters; unique regardless of case
/// ([`GroupName::key`]). Policies refer to groups by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupName {
    text: String,
    key: String,
}

impl GroupName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let text = text::name("name", input, 100)?;
        Ok(Self {
            text: text.to_owned(),
            key: text.to_lowercase(),
        })
    }

    pub fn everyone() -> Self {
        Self {
            text: EVERYONE.to_owned(),
            key: EVERYONE.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn is_everyone(&self) -> bool {
        self.key == EVERYONE
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for GroupName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for GroupName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A group of users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: GroupName,
    pub description: String,
    /// `everyone`: membership implied, not editable.
    pub builtin: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Group {
    /// Checks a description: at most 1,000 characters, no NUL.
    pub fn parse_description(input: &str) -> Result<String, CoreError> {
        text::free_text("description", input, 1000).map(str::to_owned)
    }

    /// Whether members can be added to or removed from this group, or it can be renamed or
    /// deleted: not for a built-in group.
    pub fn check_editable(&self) -> Result<(), CoreError> {
        if self.builtin {
            return Err(CoreError::Inconsistent {
                field: "group",
                message: format!("`{}` is a built-in group and cannot be changed", self.name),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_unique_regardless_of_case() {
        let a = GroupName::parse("Employees").unwrap();
        assert_eq!(a.as_str(), "Employees");
        assert_eq!(a.key(), GroupName::parse("employees").unwrap().key());
        assert!(GroupName::parse("Everyone").unwrap().is_everyone());
        assert!(GroupName::parse("").is_err());
    }

    #[test]
    fn everyone_has_a_fixed_id_and_cannot_be_edited() {
        assert_eq!(EVERYONE_ID.to_string(), "00000000-0000-0000-0000-000000000001");
        let everyone = Group {
            id: EVERYONE_ID,
            name: GroupName::everyone(),
            description: String::new(),
            builtin: true,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(
            everyone.check_editable().unwrap_err().to_string(),
            "`everyone` is a built-in group and cannot be changed"
        );
    }
}
