//! Policies as the directory stores them (DESIGN section 4): a policy of some kind with its
//! ordered rules, each rule's body kept as the JSON of the policy language (the policy crate
//! parses and validates it), and the authorization server's access-policy rules (JSON the OIDC
//! crate parses).

use std::fmt;

use jiff::Timestamp;

use super::app::string_enum;
use super::id::{AccessRuleId, PolicyId, RuleId};
use super::text;
use crate::CoreError;

string_enum!(
    /// What a policy governs.
    PolicyKind, "type" {
        /// The global session policy: one per installation.
        GlobalSession => "global_session",
        /// Which authenticators users may enroll: one per installation, no rules.
        Enrollment => "enrollment",
        /// An authentication policy, used by the applications that name it.
        Authentication => "authentication",
    }
);

/// A policy or rule name: 1 to 100 characters, trimmed, no control characters; unique (within
/// its kind, or within its policy for rules) regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyName {
    text: String,
    key: String,
}

impl PolicyName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let text = text::name("name", input, 100)?;
        Ok(Self {
            text: text.to_owned(),
            key: text.to_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A stored policy. `settings` holds what is not a rule (the enrollment policy's `allowed`
/// list); the rules are stored one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: PolicyId,
    pub kind: PolicyKind,
    pub name: PolicyName,
    pub settings: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stored rule of a policy: its place in the order and its body, the rule's JSON in the
/// policy language (including its `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    pub id: RuleId,
    pub policy_id: PolicyId,
    /// 0-based place in the policy's order.
    pub position: i64,
    pub name: PolicyName,
    pub body: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stored access-policy rule of the authorization server: `body` is the rule's JSON exactly as
/// the OIDC crate reads it (`name`, `priority`, `clients`, `grant_types`, `scopes`, `users`,
/// `groups`, lifetimes); `name` and `priority` are copied out for order and uniqueness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRuleRecord {
    pub id: AccessRuleId,
    pub name: PolicyName,
    pub priority: i64,
    pub body: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_names_parse() {
        assert_eq!(
            PolicyKind::parse("global_session").unwrap(),
            PolicyKind::GlobalSession
        );
        assert_eq!(PolicyKind::parse("okta").unwrap_err().field(), Some("type"));
        let name = PolicyName::parse(" Finance ").unwrap();
        assert_eq!((name.as_str(), name.key()), ("Finance", "finance"));
    }
}
