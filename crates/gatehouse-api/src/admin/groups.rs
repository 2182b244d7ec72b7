//! Groups and membership: `/api/v1/groups`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::page;

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: String,
    #[schema(example = "employees")]
    pub name: String,
    pub description: String,
    /// `everyone`: holds every user; cannot be edited.
    pub builtin: bool,
    pub created_at: String,
    pub updated_at: String,
}

page!(
    /// A page of groups, in name order.
    GroupPage,
    Group
);

/// `POST /api/v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Unique regardless of case; 1 to 100 characters.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /api/v1/groups/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}
