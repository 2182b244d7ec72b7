//! Network zones: a name and the address ranges it covers (and, optionally, ranges it blocks).
//! Policies refer to zones by name.

use std::fmt;

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
    pub cidrs: Vec<String>,
    pub blocked_cidrs: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
