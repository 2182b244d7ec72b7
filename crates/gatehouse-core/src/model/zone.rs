//! Network zones: a name and the address ranges it covers (and, optionally, ranges it blocks).
//! Policies refer to zones by name. CIDRs are the policy crate's [`Cidr`], parsed and
//! normalised the same way in the admin API and in policy files.

use std::fmt;

use gatehouse_policy::Cidr;
use jiff::Timestamp;

use super::id::ZoneId;
use super::text;
use crate::CoreError;

/// A zone name: 1 to 100 characters, trimmed, no control characters; unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneName {
    text: String,
    key: String,
}

impl ZoneName {
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

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A network zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkZone {
    pub id: ZoneId,
    pub name: ZoneName,
    /// Normalised networks (no host bits; IPv4-mapped ranges in IPv4 form).
    pub cidrs: Vec<Cidr>,
    /// Networks carved out of the zone.
    pub blocked_cidrs: Vec<Cidr>,
    /// Where the zone is (impossible-travel signal).
    pub location: Option<gatehouse_policy::GeoPoint>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl NetworkZone {
    /// The zone as the policy language sees it.
    pub fn to_policy(&self) -> gatehouse_policy::NetworkZone {
        gatehouse_policy::NetworkZone {
            name: self.name.as_str().to_owned(),
            cidrs: self.cidrs.clone(),
            blocked_cidrs: self.blocked_cidrs.clone(),
            location: self.location,
        }
    }
}
