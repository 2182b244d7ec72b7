//! Scopes: a space-delimited, order-preserving set of scope tokens (RFC 6749 section 3.3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::OidcError;

pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const GROUPS: &str = "groups";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes that speak about a user and cannot be granted to a client acting for itself.
pub const USER_SCOPES: [&str; 5] = [OPENID, PROFILE, EMAIL, GROUPS, OFFLINE_ACCESS];

/// A set of scope tokens, each `%x21 / %x23-5B / %x5D-7E`, duplicates removed, request order kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a space-delimited scope string (runs of spaces are tolerated).
    pub fn parse(text: &str) -> Result<Self, OidcError> {
        let mut scopes: Vec<String> = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid {
                return Err(OidcError::Scope(token.to_owned()));
            }
            if !scopes.iter().any(|s| s == token) {
                scopes.push(token.to_owned());
            }
        }
        Ok(Self(scopes))
    }

    pub fn empty() -> Self {
        Self(Vec::new())
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.iter().all(|s| other.contains(s))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl TryFrom<String> for ScopeSet {
    type Error = OidcError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ScopeSet> for String {
    fn from(value: ScopeSet) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_keeps_order() {
        let s = ScopeSet::parse("openid  profile openid email").unwrap();
        assert_eq!(s.to_string(), "openid profile email");
        assert_eq!(s.len(), 3);
        assert!(s.contains("profile") && !s.contains("groups"));
        assert!(ScopeSet::parse("openid").unwrap().is_subset_of(&s));
        assert!(!s.is_subset_of(&ScopeSet::parse("openid").unwrap()));
        assert!(ScopeSet::parse("").unwrap().is_empty());
        assert_eq!(ScopeSet::parse("a\"b"), Err(OidcError::Scope("a\"b".into())));
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::parse("é").is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"openid profile email\"");
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), s);
    }
}
